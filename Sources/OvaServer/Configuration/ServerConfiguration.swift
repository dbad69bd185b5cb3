import Foundation
import Logging

/// The server's settings: the one loader for environment variables and command line flags.
///
/// Every setting has one name (the environment variable, e.g. `OVA_LISTEN`). Command line
/// flags map onto the same names and are passed as `overrides`, so the precedence is always
/// flags > environment > defaults. Names, defaults and help text live in ``settings`` only;
/// `--help` and `docs/CONFIGURATION.md` are derived from it.
///
/// Adding a setting is one entry in ``settings`` (plus the stored property it fills).
public struct ServerConfiguration: Sendable, Equatable {
    /// `ENVIRONMENT`: `development` (default; also `dev`) or `production` (also `prod`).
    public enum Environment: String, Sendable, Equatable, CaseIterable {
        case development
        case production
    }

    /// `OVA_LOG_FORMAT`: `text` (default) or `json`.
    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        case text
        case json
    }

    public var environment: Environment
    /// Host part of `OVA_LISTEN`, without brackets (`127.0.0.1`, `::1`, `0.0.0.0`).
    public var listenHost: String
    /// Port part of `OVA_LISTEN`; 0 asks the OS for an ephemeral port.
    public var listenPort: Int
    /// `OVA_DATA_DIR`, as an absolute, standardized path.
    public var dataDirectory: String
    /// `OVA_TLS_CERT`: PEM certificate chain (absolute path), or nil.
    public var tlsCertificatePath: String?
    /// `OVA_TLS_KEY`: PEM private key (absolute path), or nil.
    public var tlsKeyPath: String?
    /// `OVA_TLS_CLIENT_CA`: PEM CA bundle (absolute path); when set, clients must present a
    /// certificate signed by it (mutual TLS).
    public var tlsClientCAPath: String?
    /// `OVA_LOG_LEVEL` (or `LOG_LEVEL`): one of trace, debug, info, notice, warning, error, critical.
    public var logLevel: String
    public var logFormat: LogFormat
    public var shutdownGracePeriodSeconds: Double
    public var maxConcurrentStreams: Int
    public var maxMessageBytes: Int
    /// `OVA_MAX_CONNECTION_BUFFER`: bytes the calls of one connection may queue for sending.
    public var maxConnectionBufferBytes: Int
    public var maxConnections: Int
    /// 0 disables the idle timeout.
    public var idleTimeoutSeconds: Double
    public var handshakeTimeoutSeconds: Double
    /// `OVA_WRITE_STALL_TIMEOUT_SECONDS`: 0 disables.
    public var writeStallTimeoutSeconds: Double
    public var eventLoopThreads: Int
    /// `OVA_TASKS_ON_EVENT_LOOPS`: run Swift concurrency's tasks on the event loops (no thread
    /// hop between I/O and handlers). Handlers must then never block.
    public var tasksOnEventLoops: Bool
    /// `OVA_DB_PATH`: the SQLite database file (absolute path).
    public var databasePath: String
    /// `JWT_SECRET_KEY` as bytes; nil means "generate and persist one" (development only).
    public var jwtSecret: [UInt8]?
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`: lifetime of an access token and its session.
    public var accessTokenExpireMinutes: Int
    /// `OVA_PUBLIC_RATE_PER_MINUTE`: contact messages, and separately subscriber
    /// registrations, accepted per client address per minute.
    public var publicRatePerMinute: Int
    /// `HF_API_KEY` (or `HF_TOKEN`): the Hugging Face Inference API key; nil when unset.
    public var huggingFaceAPIKey: String?
    /// `OVA_HF_BASE_URL`: the Inference API's base URL (a loopback fake in tests).
    public var huggingFaceBaseURL: String
    /// `HF_MODELO_STT`, `HF_MODELO_TTS`: remote speech models; empty means "use the local engine".
    public var huggingFaceSpeechToTextModel: String
    public var huggingFaceTextToSpeechModel: String
    /// `HF_MODELO_IMG`, `HF_MODELO_CAPTION`, `HF_MODELO_SIGN`: image models.
    public var huggingFaceDetectionModel: String
    public var huggingFaceCaptionModel: String
    public var huggingFaceSignModel: String
    /// `OVA_LLM_BASE_URL`: an OpenAI-compatible API (`…/v1`); empty means the Hugging Face
    /// router when `HF_API_KEY` is set.
    public var llmBaseURL: String
    /// `OVA_LLM_API_KEY`, falling back to `HF_API_KEY`.
    public var llmAPIKey: String?
    /// `HF_MODELO_LLM`: the chat model; empty means chat is not configured.
    public var llmModel: String
    /// `OVA_PROVIDER_TIMEOUT_SECONDS`: overall time for one provider call, retries included.
    public var providerTimeoutSeconds: Double
    /// `OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS`: the most one attempt of a provider call may take,
    /// so a hung attempt is cut off and retried while the overall time lasts; nil (`auto`) means
    /// a third of the overall time (see ``effectiveProviderAttemptTimeoutSeconds``).
    public var providerAttemptTimeoutSeconds: Double?
    /// `OVA_PROVIDER_RETRIES`: retries after a retryable provider failure.
    public var providerRetries: Int
    /// Problems that are not errors but should be visible at startup (unknown `OVA_*`
    /// variables, which are usually typos; conflicting aliases).
    public var warnings: [String]

    /// Placeholder values only; ``load(environment:overrides:)`` overwrites every one of them
    /// from ``settings``, which holds the real defaults.
    private init() {
        environment = .development
        listenHost = ""
        listenPort = 0
        dataDirectory = ""
        tlsCertificatePath = nil
        tlsKeyPath = nil
        tlsClientCAPath = nil
        logLevel = ""
        logFormat = .text
        shutdownGracePeriodSeconds = 0
        maxConcurrentStreams = 0
        maxMessageBytes = 0
        maxConnectionBufferBytes = 0
        maxConnections = 0
        idleTimeoutSeconds = 0
        handshakeTimeoutSeconds = 0
        writeStallTimeoutSeconds = 0
        eventLoopThreads = 0
        tasksOnEventLoops = true
        databasePath = ""
        jwtSecret = nil
        accessTokenExpireMinutes = 0
        publicRatePerMinute = 0
        huggingFaceAPIKey = nil
        huggingFaceBaseURL = ""
        huggingFaceSpeechToTextModel = ""
        huggingFaceTextToSpeechModel = ""
        huggingFaceDetectionModel = ""
        huggingFaceCaptionModel = ""
        huggingFaceSignModel = ""
        llmBaseURL = ""
        llmAPIKey = nil
        llmModel = ""
        providerTimeoutSeconds = 0
        providerAttemptTimeoutSeconds = nil
        providerRetries = 0
        warnings = []
    }

    // MARK: - Derived values

    public var isProduction: Bool { environment == .production }

    /// The chat API base: ``llmBaseURL``, or the Hugging Face router when only `HF_API_KEY` is set.
    public var effectiveLLMBaseURL: String? {
        if !llmBaseURL.isEmpty { return llmBaseURL }
        return huggingFaceAPIKey == nil ? nil : "https://router.huggingface.co/v1"
    }

    /// ``providerAttemptTimeoutSeconds``, or for `auto` a third of the overall time (20 s of the
    /// default 60), which leaves a hung first attempt time for two more.
    public var effectiveProviderAttemptTimeoutSeconds: Double {
        providerAttemptTimeoutSeconds ?? providerTimeoutSeconds / 3
    }

    /// ``databasePath``, or `ova.sqlite3` in the data directory when unset.
    public var effectiveDatabasePath: String {
        databasePath.isEmpty ? dataDirectory + "/ova.sqlite3" : databasePath
    }

    /// `host:port`, with IPv6 hosts in brackets (`[::1]:7443`).
    public var listenDescription: String {
        listenHost.contains(":") ? "[\(listenHost)]:\(listenPort)" : "\(listenHost):\(listenPort)"
    }

    /// ``logLevel`` as a swift-log level.
    public var loggerLevel: Logger.Level {
        Logger.Level(rawValue: logLevel) ?? .info
    }

    /// Every setting and its effective value, for the startup log. Secrets show only
    /// `set` / `unset`.
    public func redactedSummary() -> [(key: String, value: String)] {
        Self.settings.map { setting in
            let value = setting.display(self)
            if setting.isSecret {
                return (key: setting.name, value: value == nil ? "unset" : "set")
            }
            return (key: setting.name, value: value ?? "unset")
        }
    }

    // MARK: - Loading

    /// Loads the configuration. For each setting the first non-empty value wins from:
    /// `overrides` (command line flags, keyed by variable name), `environment`, the default.
    ///
    /// - Throws: ``ConfigurationError`` naming the variable, the value and what was expected.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String: String] = [:]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration()
        let context = LoadContext(environment: environment)

        for setting in settings {
            let keys = [setting.name] + setting.aliases
            var chosen: (key: String, value: String)?
            search: for source in [overrides, environment] {
                for key in keys {
                    if let value = source[key], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        chosen = (key, value)
                        break search
                    }
                }
            }
            let (key, raw) = chosen ?? (setting.name, setting.defaultValue)
            try setting.apply(&config, raw, key, context)
        }

        try config.validateCombination()
        config.warnings = collectWarnings(environment: environment, overrides: overrides)
        return config
    }

    private func validateCombination() throws(ConfigurationError) {
        switch (tlsCertificatePath, tlsKeyPath) {
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
        if let attempt = providerAttemptTimeoutSeconds, attempt > providerTimeoutSeconds {
            throw .inconsistent(
                variable: "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS",
                reason: "the attempt timeout (OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS=\(Self.formatSeconds(attempt))) "
                    + "must not exceed the overall timeout (OVA_PROVIDER_TIMEOUT_SECONDS=\(Self.formatSeconds(providerTimeoutSeconds))): "
                    + "lower the first or raise the second"
            )
        }
        if environment == .production {
            guard let secret = jwtSecret else {
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
    }

    private static func collectWarnings(environment: [String: String], overrides: [String: String]) -> [String] {
        // OVA_ENV_FILE is read before loading, by ProcessEnvironment.
        let known = Set(settings.flatMap { [$0.name] + $0.aliases } + [ProcessEnvironment.envFileVariable])
        var warnings: [String] = []
        for key in environment.keys.sorted() where key.hasPrefix("OVA_") && !known.contains(key) {
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
            guard let primary = environment[setting.name], !primary.isEmpty else { continue }
            for alias in setting.aliases {
                if let other = environment[alias], !other.isEmpty, other != primary {
                    warnings.append("\(alias) is ignored because \(setting.name) is set")
                }
            }
        }
        return warnings
    }

    /// The known name closest to a mistyped one, if it is close enough to be a typo.
    static func closestName(to name: String) -> String? {
        let candidates = settings.flatMap { [$0.name] + $0.aliases }
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(Array(name.utf8), Array(candidate.utf8))
            if distance <= 3, distance < (best?.distance ?? Int.max) {
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

// MARK: - The settings table

extension ServerConfiguration {
    /// What a setting's parser may need beyond its own value.
    struct LoadContext: Sendable {
        var environment: [String: String]

        var currentDirectory: String { FileManager.default.currentDirectoryPath }

        var homeDirectory: String {
            if let home = environment["HOME"], !home.isEmpty { return home }
            return FileManager.default.homeDirectoryForCurrentUser.path
        }
    }

    /// One configuration setting: its variable name, default, help and how it is parsed.
    public struct Setting: Sendable {
        typealias Apply = @Sendable (
            _ config: inout ServerConfiguration,
            _ value: String,
            _ variable: String,
            _ context: LoadContext
        ) throws(ConfigurationError) -> Void

        /// The environment variable name, also the key in `overrides`.
        public let name: String
        /// Other accepted variable names (lower precedence than `name` within one source).
        public let aliases: [String]
        /// The default, as it would be written in the environment.
        public let defaultValue: String
        public let help: String
        /// Secret values are never logged or echoed in errors; the summary shows set/unset.
        public let isSecret: Bool
        let apply: Apply
        /// The effective value for the startup summary; nil when unset.
        let display: @Sendable (ServerConfiguration) -> String?

        init(
            _ name: String,
            aliases: [String] = [],
            default defaultValue: String,
            secret: Bool = false,
            help: String,
            display: @escaping @Sendable (ServerConfiguration) -> String?,
            apply: @escaping Apply
        ) {
            self.name = name
            self.aliases = aliases
            self.defaultValue = defaultValue
            self.help = help
            self.isSecret = secret
            self.display = display
            self.apply = apply
        }

        /// The long command line flag for this setting: `OVA_TLS_CERT` → `tls-cert`.
        public var flagName: String {
            let base = name.hasPrefix("OVA_") ? String(name.dropFirst(4)) : name
            return base.lowercased().replacingOccurrences(of: "_", with: "-")
        }
    }

    /// Names, defaults and help of every variable, for `--help` and the docs.
    public static let variables: [(name: String, default: String, help: String)] = settings.map {
        (name: $0.name, default: $0.defaultValue, help: $0.help)
    }

    /// The setting with this variable name (or alias), if any.
    public static func setting(named name: String) -> Setting? {
        settings.first { $0.name == name || $0.aliases.contains(name) }
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Every setting, in documentation order.
    public static let settings: [Setting] = [
        Setting(
            "ENVIRONMENT", default: "development",
            help: "development or production (also dev/prod). Production requires OVA_TLS_CERT and OVA_TLS_KEY; "
                + "development generates a self-signed certificate when none is configured.",
            display: { $0.environment.rawValue }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.environment = try parseEnvironment(value, variable: variable)
        },
        Setting(
            "OVA_LISTEN", default: "127.0.0.1:7443",
            help: "Address to listen on: host:port, [ipv6]:port, or :port for all IPv4 interfaces. Port 0 picks a free port.",
            display: { $0.listenDescription }
        ) { config, value, variable, _ throws(ConfigurationError) in
            (config.listenHost, config.listenPort) = try parseListen(value, variable: variable)
        },
        Setting(
            "OVA_DATA_DIR", default: "./data",
            help: "Directory for server state (the development certificate, later the database). Relative paths are "
                + "resolved against the working directory; created with mode 0700 if missing.",
            display: { $0.dataDirectory }
        ) { config, value, variable, context throws(ConfigurationError) in
            guard let path = try parsePath(value, variable: variable, context: context) else {
                throw .invalidValue(variable: variable, value: value, expected: "must be a directory path")
            }
            config.dataDirectory = path
        },
        Setting(
            "OVA_TLS_CERT", default: "",
            help: "PEM certificate chain (leaf first). Requires OVA_TLS_KEY. Required in production.",
            display: { $0.tlsCertificatePath }
        ) { config, value, variable, context throws(ConfigurationError) in
            config.tlsCertificatePath = try parsePath(value, variable: variable, context: context)
        },
        Setting(
            "OVA_TLS_KEY", default: "",
            help: "PEM private key for OVA_TLS_CERT. Requires OVA_TLS_CERT. Required in production.",
            display: { $0.tlsKeyPath }
        ) { config, value, variable, context throws(ConfigurationError) in
            config.tlsKeyPath = try parsePath(value, variable: variable, context: context)
        },
        Setting(
            "OVA_TLS_CLIENT_CA", default: "",
            help: "PEM CA bundle. When set, clients must present a certificate signed by it (mutual TLS).",
            display: { $0.tlsClientCAPath }
        ) { config, value, variable, context throws(ConfigurationError) in
            config.tlsClientCAPath = try parsePath(value, variable: variable, context: context)
        },
        Setting(
            "OVA_LOG_LEVEL", aliases: ["LOG_LEVEL"], default: "info",
            help: "trace, debug, info, notice, warning, error or critical. LOG_LEVEL is accepted too.",
            display: { $0.logLevel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.logLevel = try parseLogLevel(value, variable: variable)
        },
        Setting(
            "OVA_LOG_FORMAT", default: "text",
            help: "text (human readable) or json (one object per line).",
            display: { $0.logFormat.rawValue }
        ) { config, value, variable, _ throws(ConfigurationError) in
            guard let format = LogFormat(rawValue: normalized(value)) else {
                throw .invalidValue(variable: variable, value: value, expected: "expected text or json")
            }
            config.logFormat = format
        },
        Setting(
            "OVA_SHUTDOWN_GRACE_SECONDS", default: "10",
            help: "On SIGTERM/SIGINT, seconds to let in-flight calls finish before connections are closed (0-3600).",
            display: { formatSeconds($0.shutdownGracePeriodSeconds) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.shutdownGracePeriodSeconds = try parseSeconds(value, variable: variable, range: 0...3600)
        },
        Setting(
            "OVA_MAX_CONCURRENT_STREAMS", default: "1024",
            help: "Maximum concurrent calls on one connection (1-1000000).",
            display: { String($0.maxConcurrentStreams) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.maxConcurrentStreams = try parseInteger(value, variable: variable, range: 1...1_000_000)
        },
        Setting(
            "OVA_MAX_MESSAGE_BYTES", default: "4194304",
            help: "Largest accepted message in bytes (1024-67108864, i.e. 1 KiB-64 MiB); KiB/MiB suffixes accepted.",
            display: { String($0.maxMessageBytes) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.maxMessageBytes = try parseByteCount(value, variable: variable, range: 1024...(64 << 20))
        },
        Setting(
            "OVA_MAX_CONNECTION_BUFFER", default: "2097152",
            help: "Bytes the calls of one connection may queue for sending before their writes wait (65536-1073741824, i.e. 64 KiB-1 GiB; KiB/MiB suffixes accepted): "
                + "what the server holds for a client that does not read, whatever windows it advertised.",
            display: { String($0.maxConnectionBufferBytes) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.maxConnectionBufferBytes = try parseByteCount(value, variable: variable, range: (64 << 10)...(1 << 30))
        },
        Setting(
            "OVA_MAX_CONNECTIONS", default: "20000",
            help: "Maximum simultaneously open client connections (1-1000000); further connections are refused.",
            display: { String($0.maxConnections) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.maxConnections = try parseInteger(value, variable: variable, range: 1...1_000_000)
        },
        Setting(
            "OVA_IDLE_TIMEOUT_SECONDS", default: "300",
            help: "Close connections with no open call and no traffic for this many seconds (0 disables, at most 86400).",
            display: { formatSeconds($0.idleTimeoutSeconds) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.idleTimeoutSeconds = try parseSeconds(value, variable: variable, range: 0...86400)
        },
        Setting(
            "OVA_HANDSHAKE_TIMEOUT_SECONDS", default: "10",
            help: "Close connections whose TLS handshake, preface and SETTINGS have not all arrived within this many seconds (0.1-300).",
            display: { formatSeconds($0.handshakeTimeoutSeconds) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.handshakeTimeoutSeconds = try parseSeconds(value, variable: variable, range: 0.1...300)
        },
        Setting(
            "OVA_WRITE_STALL_TIMEOUT_SECONDS", default: "60",
            help: "Close a connection whose client has read nothing (its socket stayed full) for this many seconds, "
                + "freeing what its calls hold (0 disables, at most 3600).",
            display: { formatSeconds($0.writeStallTimeoutSeconds) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.writeStallTimeoutSeconds = try parseSeconds(value, variable: variable, range: 0...3600)
        },
        Setting(
            "OVA_THREADS", default: "auto",
            help: "Event loop threads: a number 1-1024, or auto for the number of CPU cores.",
            display: { String($0.eventLoopThreads) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.eventLoopThreads = try parseThreads(value, variable: variable)
        },
        Setting(
            "OVA_TASKS_ON_EVENT_LOOPS", default: "true",
            help: "Run Swift concurrency tasks (handlers) on the event-loop threads instead of Swift's pool, so a "
                + "call needs no thread switch. Handlers must never block. true or false.",
            display: { String($0.tasksOnEventLoops) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.tasksOnEventLoops = try parseBool(value, variable: variable)
        },
        Setting(
            "OVA_DB_PATH", default: "",
            help: "SQLite database file (WAL mode; created and migrated at startup). Default: ova.sqlite3 in OVA_DATA_DIR.",
            display: { $0.databasePath }
        ) { config, value, variable, context throws(ConfigurationError) in
            config.databasePath = try parsePath(value, variable: variable, context: context) ?? ""
        },
        Setting(
            "JWT_SECRET_KEY", default: "", secret: true,
            help: "HMAC key that signs access tokens (HS256). Required in production, at least 32 bytes. In development, "
                + "when unset, one is generated and kept in OVA_DATA_DIR/jwt-secret (mode 0600).",
            display: { $0.jwtSecret == nil ? nil : "set" }
        ) { config, value, _, _ throws(ConfigurationError) in
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            config.jwtSecret = trimmed.isEmpty ? nil : Array(trimmed.utf8)
        },
        Setting(
            "ACCESS_TOKEN_EXPIRE_MINUTES", default: "30",
            help: "Lifetime of an access token and of its session, in minutes (1-1440). Logout ends both earlier.",
            display: { String($0.accessTokenExpireMinutes) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.accessTokenExpireMinutes = try parseInteger(value, variable: variable, range: 1...1440)
        },
        Setting(
            "OVA_PUBLIC_RATE_PER_MINUTE", default: "10",
            help: "Per client address: contact messages (Messages/SendMessage), and separately subscriber registrations "
                + "(Users/RegisterUser), accepted per minute (1-100000); more get RESOURCE_EXHAUSTED with a retry delay.",
            display: { String($0.publicRatePerMinute) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.publicRatePerMinute = try parseInteger(value, variable: variable, range: 1...100_000)
        },
        Setting(
            "HF_API_KEY", aliases: ["HF_TOKEN"], default: "", secret: true,
            help: "Hugging Face Inference API key (HF_TOKEN is accepted too). Enables the remote speech, vision and sign "
                + "providers, and chat through the Hugging Face router when OVA_LLM_BASE_URL is unset.",
            display: { $0.huggingFaceAPIKey == nil ? nil : "set" }
        ) { config, value, _, _ throws(ConfigurationError) in
            config.huggingFaceAPIKey = optionalSecret(value)
        },
        Setting(
            "OVA_HF_BASE_URL", default: "https://api-inference.huggingface.co",
            help: "Base URL of the Hugging Face Inference API (http or https).",
            display: { $0.huggingFaceBaseURL }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceBaseURL = try parseURL(value, variable: variable)
        },
        Setting(
            "HF_MODELO_STT", default: "",
            help: "Hugging Face speech-to-text model (e.g. openai/whisper-large-v3). Unset: the local pocketsphinx engine (English).",
            display: { $0.huggingFaceSpeechToTextModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceSpeechToTextModel = try parseModel(value, variable: variable)
        },
        Setting(
            "HF_MODELO_TTS", default: "",
            help: "Hugging Face text-to-speech model returning WAV. Unset: the local espeak-ng engine (Spanish, English and more).",
            display: { $0.huggingFaceTextToSpeechModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceTextToSpeechModel = try parseModel(value, variable: variable)
        },
        Setting(
            "HF_MODELO_IMG", default: "facebook/detr-resnet-50",
            help: "Hugging Face object-detection model for Vision/AnalyzeImage.",
            display: { $0.huggingFaceDetectionModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceDetectionModel = try parseModel(value, variable: variable)
        },
        Setting(
            "HF_MODELO_CAPTION", default: "nlpconnect/vit-gpt2-image-captioning",
            help: "Hugging Face image-to-text (caption) model for Vision/AnalyzeImage.",
            display: { $0.huggingFaceCaptionModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceCaptionModel = try parseModel(value, variable: variable)
        },
        Setting(
            "HF_MODELO_SIGN", default: "RavenOnur/Sign-Language",
            help: "Hugging Face image-classification model for sign-language letters.",
            display: { $0.huggingFaceSignModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.huggingFaceSignModel = try parseModel(value, variable: variable)
        },
        Setting(
            "OVA_LLM_BASE_URL", default: "",
            help: "OpenAI-compatible chat API base, e.g. http://127.0.0.1:8080/v1 (llama.cpp, vLLM, Ollama, Mistral). "
                + "Unset with HF_API_KEY set: https://router.huggingface.co/v1.",
            display: { $0.llmBaseURL.isEmpty ? nil : $0.llmBaseURL }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.llmBaseURL = value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "" : try parseURL(value, variable: variable)
        },
        Setting(
            "OVA_LLM_API_KEY", default: "", secret: true,
            help: "API key for OVA_LLM_BASE_URL; falls back to HF_API_KEY.",
            display: { $0.llmAPIKey == nil ? nil : "set" }
        ) { config, value, _, _ throws(ConfigurationError) in
            config.llmAPIKey = optionalSecret(value)
        },
        Setting(
            "HF_MODELO_LLM", default: "",
            help: "Chat model name sent to the chat API (e.g. mistralai/Mistral-7B-Instruct-v0.3). Unset: chat answers "
                + "FAILED_PRECONDITION naming this setting.",
            display: { $0.llmModel.isEmpty ? nil : $0.llmModel }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.llmModel = try parseModel(value, variable: variable)
        },
        Setting(
            "OVA_PROVIDER_TIMEOUT_SECONDS", default: "60",
            help: "Overall time for one remote provider call, retries included (1-600), as the original's 60 s; a shorter "
                + "RPC deadline wins.",
            display: { formatSeconds($0.providerTimeoutSeconds) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.providerTimeoutSeconds = try parseSeconds(value, variable: variable, range: 1...600)
        },
        Setting(
            "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS", default: "auto",
            help: "The most one attempt of a remote provider call may take: 1-600 and at most OVA_PROVIDER_TIMEOUT_SECONDS, "
                + "or auto for a third of it (20 s of 60). A hung attempt is cut off and retried while the overall time lasts.",
            display: { config in
                config.providerAttemptTimeoutSeconds == nil
                    ? "auto (\(formatSeconds(config.effectiveProviderAttemptTimeoutSeconds)))"
                    : formatSeconds(config.effectiveProviderAttemptTimeoutSeconds)
            }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.providerAttemptTimeoutSeconds = normalized(value) == "auto"
                ? nil : try parseSeconds(value, variable: variable, range: 1...600)
        },
        Setting(
            "OVA_PROVIDER_RETRIES", default: "3",
            help: "Retries of a remote provider call after a retryable failure (0-10), with exponential backoff and full jitter.",
            display: { String($0.providerRetries) }
        ) { config, value, variable, _ throws(ConfigurationError) in
            config.providerRetries = try parseInteger(value, variable: variable, range: 0...10)
        },
    ]
}

// MARK: - Value parsers

extension ServerConfiguration {
    static func normalized(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    static func parseEnvironment(_ value: String, variable: String) throws(ConfigurationError) -> Environment {
        switch normalized(value) {
        case "development", "dev": return .development
        case "production", "prod": return .production
        default:
            throw .invalidValue(
                variable: variable,
                value: value,
                expected: "expected development (or dev) or production (or prod)"
            )
        }
    }

    static func parseLogLevel(_ value: String, variable: String) throws(ConfigurationError) -> String {
        var level = normalized(value)
        if level == "warn" { level = "warning" }
        guard logLevels.contains(level) else {
            throw .invalidValue(
                variable: variable,
                value: value,
                expected: "expected one of \(logLevels.joined(separator: ", "))"
            )
        }
        return level
    }

    /// Parses `host:port`, `[ipv6]:port` or `:port` (all IPv4 interfaces).
    static func parseListen(_ value: String, variable: String) throws(ConfigurationError) -> (host: String, port: Int) {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        func invalid(_ expected: String) -> ConfigurationError {
            .invalidValue(variable: variable, value: value, expected: expected)
        }
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw invalid("missing ']' after the IPv6 address; expected [address]:port, e.g. [::1]:7443")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw invalid("expected [address]:port, e.g. [::1]:7443")
            }
            portText = rest.dropFirst()
            let allowed = Set("0123456789abcdefABCDEF:.%")
            let zoneAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            guard host.contains(":"),
                  parts[0].allSatisfy({ allowed.contains($0) && $0 != "%" }),
                  parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy { zoneAllowed.contains($0) })
            else {
                throw invalid("brackets must hold an IPv6 address, e.g. [::1]:7443")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw invalid("expected host:port, e.g. 127.0.0.1:7443, [::1]:7443 or :7443 for all interfaces")
            }
            let hostPart = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw invalid("IPv6 addresses must be in brackets, e.g. [::1]:7443")
            }
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            guard hostPart.allSatisfy({ allowed.contains($0) }) else {
                throw invalid("host must be a hostname or IP address, e.g. 127.0.0.1:7443")
            }
            host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        }
        guard !portText.isEmpty else {
            throw invalid("missing port; expected host:port, e.g. 127.0.0.1:7443")
        }
        let port: Int
        if portText.allSatisfy({ $0.isASCII && $0.isNumber }) {
            port = Int(portText) ?? Int.max  // too many digits: out of range
        } else if let signed = Int(portText) {
            port = signed
        } else {
            throw invalid("port must be a number 0-65535")
        }
        guard (0...65535).contains(port) else {
            throw invalid("port must be 0-65535")
        }
        return (host, port)
    }

    /// Expands `~`, resolves relative paths against the working directory, standardizes.
    static func parsePath(_ value: String, variable: String, context: LoadContext) throws(ConfigurationError) -> String? {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return nil }
        guard !text.contains("\0") else {
            throw .invalidValue(variable: variable, value: value, expected: "path must not contain NUL")
        }
        var path = text
        if path == "~" {
            path = context.homeDirectory
        } else if path.hasPrefix("~/") {
            path = context.homeDirectory + String(path.dropFirst(1))
        }
        if !path.hasPrefix("/") {
            path = context.currentDirectory + "/" + path
        }
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    static func parseDigits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text) ?? Int.max
    }

    static func parseInteger(_ value: String, variable: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let number = parseDigits(Substring(text)) ?? Int(text), range.contains(number) else {
            throw .invalidValue(
                variable: variable,
                value: value,
                expected: "must be an integer \(range.lowerBound)-\(range.upperBound)"
            )
        }
        return number
    }

    /// An integer number of bytes, optionally with a `KiB` or `MiB` suffix.
    static func parseByteCount(_ value: String, variable: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        var digits = Substring(text)
        var multiplier = 1
        for (suffix, factor) in [("kib", 1 << 10), ("mib", 1 << 20)] where text.lowercased().hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            while digits.last == " " { digits = digits.dropLast() }
            multiplier = factor
        }
        let expected = "must be a number of bytes \(range.lowerBound)-\(range.upperBound)"
            + " (\(formatBytes(range.lowerBound))-\(formatBytes(range.upperBound))); KiB and MiB suffixes are accepted"
        guard let number = parseDigits(digits) else {
            throw .invalidValue(variable: variable, value: value, expected: expected)
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(bytes) else {
            throw .invalidValue(variable: variable, value: value, expected: expected)
        }
        return bytes
    }

    /// A finite number of seconds, optionally with an `s` suffix.
    static func parseSeconds(_ value: String, variable: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        var text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasSuffix("s") { text.removeLast() }
        let numeric = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard numeric, let seconds = Double(text), seconds.isFinite, range.contains(seconds) else {
            throw .invalidValue(
                variable: variable,
                value: value,
                expected: "must be a number of seconds \(formatSeconds(range.lowerBound))-\(formatSeconds(range.upperBound))"
            )
        }
        return seconds
    }

    static func optionalSecret(_ value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// An absolute http(s) URL without a trailing slash.
    static func parseURL(_ value: String, variable: String) throws(ConfigurationError) -> String {
        var text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, !text.contains(" ")
        else {
            throw .invalidValue(variable: variable, value: value, expected: "must be an http:// or https:// URL, e.g. https://api-inference.huggingface.co")
        }
        return text
    }

    /// A model id such as `facebook/detr-resnet-50` (it becomes part of a URL path).
    static func parseModel(_ value: String, variable: String) throws(ConfigurationError) -> String {
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:")
        guard text.count <= 200, text.allSatisfy({ allowed.contains($0) }), !text.contains(".."), !text.hasPrefix("/") else {
            throw .invalidValue(variable: variable, value: value, expected: "must be a model id such as owner/model-name")
        }
        return text
    }

    static func parseBool(_ value: String, variable: String) throws(ConfigurationError) -> Bool {
        switch normalized(value) {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw .invalidValue(variable: variable, value: value, expected: "expected true or false")
        }
    }

    static func parseThreads(_ value: String, variable: String) throws(ConfigurationError) -> Int {
        if normalized(value) == "auto" {
            return max(1, ProcessInfo.processInfo.activeProcessorCount)
        }
        let range = 1...1024
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let threads = parseDigits(Substring(text)) ?? Int(text), range.contains(threads) else {
            throw .invalidValue(variable: variable, value: value, expected: "must be auto or an integer 1-1024")
        }
        return threads
    }

    static func formatSeconds(_ seconds: Double) -> String {
        if seconds == seconds.rounded(), abs(seconds) < 1e15 {
            return String(Int(seconds))
        }
        return String(seconds)
    }

    static func formatBytes(_ bytes: Int) -> String {
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
