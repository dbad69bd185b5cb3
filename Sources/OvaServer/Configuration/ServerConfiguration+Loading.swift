import Foundation
import OvaStore

extension ServerConfiguration {
    /// What a setting's parser may need beyond its own text.
    struct LoadContext: Sendable {
        var environment: [String: String]

        var currentDirectory: String { FileManager.default.currentDirectoryPath }

        var homeDirectory: String {
            if let home = environment["HOME"], !home.isEmpty { return home }
            return FileManager.default.homeDirectoryForCurrentUser.path
        }
    }

    /// Loads the configuration. For each setting in ``settings`` the first non-empty value
    /// wins from: `overrides` (command line flags, keyed by variable name), `environment`,
    /// the default.
    ///
    /// - Throws: ``ConfigurationError`` naming the variable, the value and what was expected;
    ///   also when settings contradict each other (`DB_USER` without `DB_HOST`).
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String: String] = [:]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration.defaults
        let context = LoadContext(environment: environment)
        var given: Set<String> = []

        for setting in settings {
            var chosen: (variable: String, text: String)?
            search: for source in [overrides, environment] {
                for name in setting.names {
                    if let text = source[name], !SettingText.isBlank(text) {
                        chosen = (name, text)
                        break search
                    }
                }
            }
            if chosen != nil { given.insert(setting.name) }
            let (variable, text) = chosen ?? (setting.name, setting.defaultText ?? "")
            try setting.apply(&config, text, variable, context)
        }

        try refuseUnavailableSettings(given: given)
        try config.validateCombination(given: given)
        config.warnings = collectWarnings(environment: environment, overrides: overrides, given: given)
        return config
    }

    /// Settings this build cannot honour stop the server: running without them would
    /// mislead the operator (data in SQLite while they believe it is in MySQL).
    private static func refuseUnavailableSettings(given: Set<String>) throws(ConfigurationError) {
        for setting in settings where given.contains(setting.name) {
            if case .refused(let reason) = setting.availability {
                throw .inconsistent(
                    variable: setting.name,
                    reason: "\(setting.name) is set but \(reason) — unset \(setting.name) to start the server"
                )
            }
        }
    }

    private mutating func validateCombination(given: Set<String>) throws(ConfigurationError) {
        switch (tls.certificatePath, tls.keyPath) {
        case (.some, .none):
            throw .inconsistent(
                variable: "OVA_TLS_KEY",
                reason: "OVA_TLS_CERT is set but OVA_TLS_KEY is not: set both (PEM certificate chain and PEM private key) or neither"
            )
        case (.none, .some):
            throw .inconsistent(
                variable: "OVA_TLS_CERT",
                reason: "OVA_TLS_KEY is set but OVA_TLS_CERT is not: set both (PEM certificate chain and PEM private key) or neither"
            )
        case (.none, .none) where environment == .production:
            throw .missingValue(
                variable: "OVA_TLS_CERT",
                reason: "ENVIRONMENT=production requires OVA_TLS_CERT and OVA_TLS_KEY (PEM certificate chain and PEM private key); "
                    + "the self-signed development certificate is only generated in development"
            )
        default:
            break
        }
        if environment == .production {
            guard let secret = auth.jwtSecret else {
                throw .missingValue(
                    variable: "JWT_SECRET_KEY",
                    reason: "ENVIRONMENT=production requires JWT_SECRET_KEY (at least 32 bytes, e.g. `openssl rand -base64 48`); "
                        + "only development generates one"
                )
            }
            guard secret.count >= 32 else {
                throw .inconsistent(
                    variable: "JWT_SECRET_KEY",
                    reason: "JWT_SECRET_KEY must be at least 32 bytes in production (it has \(secret.count)); e.g. `openssl rand -base64 48`"
                )
            }
        }
        self.storage.mariadb = try Self.resolveMariaDB(self.storage, given: given)
        if let attempt = providers.attemptTimeout, attempt > providers.timeout {
            throw .inconsistent(
                variable: "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS",
                reason: "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS (\(SettingText.formatSeconds(attempt))) must not exceed "
                    + "OVA_PROVIDER_TIMEOUT_SECONDS (\(SettingText.formatSeconds(providers.timeout))): one attempt cannot take longer "
                    + "than the whole call; lower the first, raise the second or use auto"
            )
        }
    }

    // MARK: - MariaDB

    /// The MariaDB connection the storage settings ask for, nil for SQLite. Every `DB_*`
    /// setting without `DB_HOST` (or `OVA_DATABASE_URL`) is an error rather than silently
    /// ignored: an operator who set `DB_USER` believes the data goes to MariaDB.
    static func resolveMariaDB(_ storage: Storage, given: Set<String>) throws(ConfigurationError) -> MariaDBStoreOptions? {
        let connectionSettings = ["DB_PORT", "DB_USER", "DB_PASSWORD", "DB_PASSWORD_FILE", "DB_NAME", "DB_SSL_MODE", "DB_SSL_CA", "DB_SSL_DISABLED"]
        var host = storage.mariadbHost
        var port = storage.mariadbPort
        var user = storage.mariadbUser
        var database = storage.mariadbDatabase
        if let url = storage.databaseURL {
            for name in ["DB_HOST", "DB_PORT", "DB_USER", "DB_NAME"] where given.contains(name) {
                throw .inconsistent(
                    variable: name,
                    reason: "\(name) and OVA_DATABASE_URL are both set: give the server either as OVA_DATABASE_URL or as DB_HOST, DB_PORT, DB_USER and DB_NAME"
                )
            }
            let parsed = try DatabaseURL.parse(url, variable: "OVA_DATABASE_URL")
            (host, port, user, database) = (parsed.host, parsed.port, parsed.user, parsed.database)
        }
        guard let host else {
            if let name = connectionSettings.first(where: given.contains) {
                throw .inconsistent(
                    variable: name,
                    reason: "\(name) is set but DB_HOST is not: set DB_HOST (or OVA_DATABASE_URL) to keep the data in MariaDB, "
                        + "or unset \(name) to keep it in SQLite (OVA_DB_PATH)"
                )
            }
            return nil
        }
        if given.contains("OVA_DB_PATH") {
            throw .inconsistent(
                variable: "OVA_DB_PATH",
                reason: "OVA_DB_PATH (an SQLite file) and DB_HOST (a MariaDB server) are both set: OVA keeps its data in one of them; unset one"
            )
        }
        guard let user else {
            throw .missingValue(variable: "DB_USER", reason: "DB_HOST is set but DB_USER is not: set the MariaDB account OVA logs in as")
        }
        guard let database else {
            throw .missingValue(variable: "DB_NAME", reason: "DB_HOST is set but DB_NAME is not: set the MariaDB database OVA's tables live in")
        }
        let password: String
        switch (storage.mariadbPassword, storage.mariadbPasswordFile) {
        case (.some, .some):
            throw .inconsistent(variable: "DB_PASSWORD_FILE", reason: "DB_PASSWORD and DB_PASSWORD_FILE are both set: keep one (the file is safer)")
        case (.some(let text), .none):
            password = text
        case (.none, .some(let path)):
            password = try Self.readPasswordFile(path)
        case (.none, .none):
            password = ""
        }
        var tlsMode = storage.mariadbTLSMode
        if storage.mariadbTLSDisabled {
            if given.contains("DB_SSL_MODE"), tlsMode != .disabled {
                throw .inconsistent(
                    variable: "DB_SSL_DISABLED",
                    reason: "DB_SSL_DISABLED=true contradicts DB_SSL_MODE=\(tlsMode.rawValue): keep DB_SSL_MODE only"
                )
            }
            tlsMode = .disabled
        }
        let endpoint: MariaDBConfiguration.Endpoint = host.hasPrefix("/") ? .unixSocket(path: host) : .tcp(host: host, port: port)
        return MariaDBStoreOptions(
            connection: MariaDBConfiguration(
                endpoint: endpoint, user: user, password: password, database: database,
                connectTimeout: storage.connectTimeout, readTimeout: storage.queryTimeout, writeTimeout: storage.queryTimeout,
                tlsMode: tlsMode, certificateAuthorityPath: storage.mariadbCAPath
            ),
            poolSize: storage.poolSize,
            acquireTimeout: storage.poolTimeout
        )
    }

    /// The password in `DB_PASSWORD_FILE`, without its trailing newline.
    private static func readPasswordFile(_ path: String) throws(ConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                kind: .unusableFile, variable: "DB_PASSWORD_FILE", value: path,
                message: "DB_PASSWORD_FILE=\(ConfigurationError.quoted(path)): cannot read the file"
            )
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(
                kind: .unusableFile, variable: "DB_PASSWORD_FILE", value: path,
                message: "DB_PASSWORD_FILE=\(ConfigurationError.quoted(path)): the file is not UTF-8 text"
            )
        }
        if text.hasSuffix("\r\n") {
            text.removeLast()
        } else if text.hasSuffix("\n") {
            text.removeLast()
        }
        return text
    }

    // MARK: - Warnings and typo search

    /// Families of variables the server reads (`OVA_`, `HF_`, `DB_`, ...): an unknown name in
    /// one of them is most likely a typo, while other variables (PATH, HOME) are none of our business.
    static let families: Set<String> = Set(settings.flatMap(\.names).compactMap { name in
        name.firstIndex(of: "_").map { String(name[...$0]) }
    })

    /// Variables of other programs that share a family prefix with ours (the Hugging Face
    /// tools read `HF_HOME`, `HF_HUB_*`, `HF_DATASETS_*`); never warned about.
    static let foreignPrefixes = ["HF_HOME", "HF_HUB_", "HF_DATASETS_"]

    private static func collectWarnings(environment: [String: String], overrides: [String: String], given: Set<String>) -> [String] {
        let known = Set(settings.flatMap(\.names))
        var warnings: [String] = []
        for key in environment.keys.sorted() where !known.contains(key) && isOurs(key) {
            var message = "unknown variable \(key) is ignored"
            if let suggestion = closestName(to: key) {
                message += " (did you mean \(suggestion)?)"
            }
            warnings.append(message)
        }
        for key in overrides.keys.sorted() where !known.contains(key) {
            warnings.append("unknown override \(key) is ignored")
        }
        for setting in settings {
            guard let primary = environment[setting.name], !SettingText.isBlank(primary) else { continue }
            for alias in setting.aliases {
                if let other = environment[alias], !SettingText.isBlank(other), other != primary {
                    warnings.append("\(alias) is ignored because \(setting.name) is set")
                }
            }
        }
        for setting in settings where given.contains(setting.name) {
            if case .notUsedYet(let reason) = setting.availability {
                warnings.append("\(setting.name) is set but has no effect yet: \(reason)")
            }
        }
        return warnings
    }

    /// Whether an unknown variable looks meant for this server: a family we read, or a
    /// near miss of a name outside the families (`ENVIROMENT`).
    private static func isOurs(_ key: String) -> Bool {
        if foreignPrefixes.contains(where: { key.hasPrefix($0) }) { return false }
        if families.contains(where: { key.hasPrefix($0) }) { return true }
        return key.count >= 6 && closestName(to: key, maximumDistance: 2) != nil
    }

    /// The known name closest to a mistyped one, if it is close enough to be a typo.
    static func closestName(to name: String, maximumDistance: Int = 3) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in settings.flatMap(\.names) {
            let distance = editDistance(Array(name.utf8), Array(candidate.utf8))
            if distance <= maximumDistance, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

// MARK: - Command line flags

extension ServerConfiguration {
    /// Turns `--name value` / `--name=value` arguments into `overrides` for
    /// ``load(environment:overrides:)``: every declared setting except secrets has a flag
    /// named after its variable (``Setting/flagName``).
    ///
    /// - Throws: ``ConfigurationError`` for an unknown flag (suggesting the closest one), a
    ///   secret given on the command line, a flag without a value, or a stray argument.
    public static func overrides(fromFlags arguments: [String]) throws(ConfigurationError) -> [String: String] {
        var overrides: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ConfigurationError(
                    kind: .invalidValue, value: argument,
                    message: "unexpected argument \(ConfigurationError.quoted(argument)): settings are given as --name value"
                )
            }
            let body = argument.dropFirst(2)
            let flag: String
            let value: String
            if let equals = body.firstIndex(of: "=") {
                flag = String(body[..<equals])
                value = String(body[body.index(after: equals)...])
            } else {
                flag = String(body)
                guard index < arguments.endIndex else {
                    throw ConfigurationError(kind: .missingValue, message: "--\(flag) needs a value")
                }
                value = arguments[index]
                index += 1
            }
            guard let setting = settings.first(where: { $0.flagName == flag }) else {
                var message = "unknown option --\(flag)"
                if let suggestion = closestFlag(to: flag) {
                    message += " (did you mean --\(suggestion)?)"
                }
                throw ConfigurationError(kind: .invalidValue, message: message + "; `ova-server serve --help` lists every setting")
            }
            guard setting.hasFlag else {
                throw ConfigurationError(
                    kind: .invalidValue, variable: setting.name,
                    message: "\(setting.name) is secret and has no flag (a command line is visible to every local user): "
                        + "set it in the environment or in the .env file"
                )
            }
            overrides[setting.name] = value
        }
        return overrides
    }

    private static func closestFlag(to flag: String) -> String? {
        let variable = (flag.uppercased().replacingOccurrences(of: "-", with: "_"))
        for candidate in [variable, "OVA_" + variable] {
            if let name = closestName(to: candidate, maximumDistance: 2), let setting = setting(named: name), setting.hasFlag {
                return setting.flagName
            }
        }
        return nil
    }
}
