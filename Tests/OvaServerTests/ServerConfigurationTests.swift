import Foundation
import Logging
import OvaProviders
import OvaResilience
import OvaRPC
import Testing

@testable import OvaServer

@Suite("ServerConfiguration")
struct ServerConfigurationTests {
    /// Loads and fails the test with the error's message if loading throws.
    private func load(
        _ environment: [String: String] = [:],
        overrides: [String: String] = [:]
    ) throws -> ServerConfiguration {
        try ServerConfiguration.load(environment: environment, overrides: overrides)
    }

    /// The error loading throws; fails the test if it does not throw.
    private func loadError(
        _ environment: [String: String],
        overrides: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConfigurationError? {
        do {
            let config = try ServerConfiguration.load(environment: environment, overrides: overrides)
            Issue.record("expected an error, got \(config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Defaults

    @Test func defaultsWithEmptyEnvironment() throws {
        let config = try load()
        #expect(config.environment == .development)
        #expect(config.transport.listen.host == "127.0.0.1")
        #expect(config.transport.listen.port == 7443)
        #expect(config.transport.adminListen == nil)
        #expect(config.transport.listen.description == "127.0.0.1:7443")
        let expectedDataDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/data")
            .standardizedFileURL.path
        #expect(config.storage.dataDirectory == expectedDataDirectory)
        #expect(config.storage.dataDirectory.hasPrefix("/"))
        #expect(config.tls.certificatePath == nil)
        #expect(config.tls.keyPath == nil)
        #expect(config.tls.clientCAPath == nil)
        #expect(config.logging.level == .info)
        #expect(config.logging.format == .text)
        #expect(config.transport.shutdownGracePeriod == .seconds(10))
        #expect(config.transport.maxConcurrentStreams == 1024)
        #expect(config.transport.maxMessageBytes == 4 * 1024 * 1024)
        #expect(config.transport.maxConnections == 20_000)
        #expect(config.transport.idleTimeout == .seconds(300))
        #expect(config.transport.handshakeTimeout == .seconds(10))
        #expect(config.transport.maxConnectionAge == nil)
        #expect(config.transport.connectionLimits.maxConnectionAge == nil)
        #expect(config.transport.maxConnectionAgeGrace == .seconds(30))
        #expect(config.transport.eventLoopThreads == .automatic)
        #expect(config.transport.eventLoopThreads.resolved == ProcessInfo.processInfo.activeProcessorCount)
        #expect(config.transport.tasksOnEventLoops == true)
        #expect(config.warnings.isEmpty)
    }

    @Test func everyVariableIsParsed() throws {
        let config = try load([
            "ENVIRONMENT": "production",
            "OVA_LISTEN": "0.0.0.0:9000",
            "OVA_DATA_DIR": "/var/lib/ova",
            "OVA_TLS_CERT": "/etc/ova/cert.pem",
            "OVA_TLS_KEY": "/etc/ova/key.pem",
            "OVA_TLS_CLIENT_CA": "/etc/ova/ca.pem",
            "OVA_LOG_LEVEL": "debug",
            "OVA_LOG_FORMAT": "json",
            "OVA_SHUTDOWN_GRACE_SECONDS": "2.5",
            "OVA_MAX_CONCURRENT_STREAMS": "64",
            "OVA_MAX_MESSAGE_BYTES": "1048576",
            "OVA_MAX_CONNECTION_BUFFER": "512KiB",
            "OVA_MAX_CONNECTIONS": "100",
            "OVA_IDLE_TIMEOUT_SECONDS": "0",
            "OVA_HANDSHAKE_TIMEOUT_SECONDS": "3",
            "OVA_WRITE_STALL_TIMEOUT_SECONDS": "0",
            "OVA_MAX_CONNECTION_AGE_SECONDS": "3600",
            "OVA_MAX_CONNECTION_AGE_GRACE_SECONDS": "5",
            "OVA_THREADS": "3",
            "OVA_TASKS_ON_EVENT_LOOPS": "false",
            "OVA_DB_PATH": "/var/lib/ova/db/ova.sqlite3",
            "JWT_SECRET_KEY": "0123456789abcdef0123456789abcdef-prod",
            "ACCESS_TOKEN_EXPIRE_MINUTES": "45",
            "OVA_PUBLIC_RATE_PER_MINUTE": "7",
            "OVA_ADMIN_LISTEN": "127.0.0.1:9090",
        ])
        #expect(config.environment == .production)
        #expect(config.isProduction)
        #expect(config.transport.listen.host == "0.0.0.0")
        #expect(config.transport.listen.port == 9000)
        #expect(config.storage.dataDirectory == "/var/lib/ova")
        #expect(config.tls.certificatePath == "/etc/ova/cert.pem")
        #expect(config.tls.keyPath == "/etc/ova/key.pem")
        #expect(config.tls.clientCAPath == "/etc/ova/ca.pem")
        #expect(config.logging.level == .debug)
        #expect(config.logging.format == .json)
        #expect(config.transport.shutdownGracePeriod == .milliseconds(2500))
        #expect(config.transport.maxConcurrentStreams == 64)
        #expect(config.transport.maxMessageBytes == 1_048_576)
        #expect(config.transport.maxConnectionBufferBytes == 512 * 1024)
        #expect(config.transport.maxConnections == 100)
        #expect(config.transport.idleTimeout == nil)
        #expect(config.transport.handshakeTimeout == .seconds(3))
        #expect(config.transport.writeStallTimeout == nil)
        #expect(config.transport.connectionLimits.writeStallTimeout == nil)
        #expect(config.transport.maxConnectionAge == .seconds(3600))
        #expect(config.transport.connectionLimits.maxConnectionAge == .seconds(3600))
        #expect(config.transport.connectionLimits.maxConnectionAgeGrace == .seconds(5))
        #expect(config.transport.eventLoopThreads == .count(3))
        #expect(config.transport.tasksOnEventLoops == false)
        #expect(config.transport.adminListen == ServerConfiguration.ListenAddress(host: "127.0.0.1", port: 9090))
        #expect(config.storage.databasePath == "/var/lib/ova/db/ova.sqlite3")
        #expect(config.storage.effectiveDatabasePath == "/var/lib/ova/db/ova.sqlite3")
        #expect(config.auth.jwtSecret == Array("0123456789abcdef0123456789abcdef-prod".utf8))
        #expect(config.auth.accessTokenLifetime == .seconds(45 * 60))
        #expect(config.auth.publicRatePerMinute == 7)
        #expect(config.warnings.isEmpty)
        // The secret never appears in the startup summary.
        #expect(config.redactedSummary().first { $0.key == "JWT_SECRET_KEY" }?.value == "set")
        #expect(!config.redactedSummary().contains { $0.value.contains("0123456789abcdef") })
    }

    @Test func everySettingIsCoveredByEveryVariableIsParsed() {
        // If this fails, a setting was added: extend everyVariableIsParsed (and run `make config-docs`).
        #expect(ServerConfiguration.settings.map(\.name) == [
            "ENVIRONMENT", "OVA_ENV_FILE",
            "OVA_LISTEN", "OVA_MAX_CONCURRENT_STREAMS", "OVA_MAX_MESSAGE_BYTES", "OVA_MAX_CONNECTION_BUFFER",
            "OVA_MAX_CONNECTIONS", "OVA_IDLE_TIMEOUT_SECONDS", "OVA_HANDSHAKE_TIMEOUT_SECONDS",
            "OVA_WRITE_STALL_TIMEOUT_SECONDS", "OVA_SHUTDOWN_GRACE_SECONDS",
            "OVA_MAX_CONNECTION_AGE_SECONDS", "OVA_MAX_CONNECTION_AGE_GRACE_SECONDS", "OVA_THREADS", "OVA_TASKS_ON_EVENT_LOOPS",
            "ALLOWED_ORIGINS", "OVA_ADMIN_LISTEN",
            "OVA_TLS_CERT", "OVA_TLS_KEY", "OVA_TLS_CLIENT_CA",
            "OVA_DATA_DIR", "OVA_DB_PATH", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_PASSWORD_FILE", "DB_NAME",
            "OVA_DATABASE_URL", "DB_SSL_MODE", "DB_SSL_CA", "DB_SSL_DISABLED", "OVA_DB_POOL_SIZE", "OVA_DB_POOL_TIMEOUT_SECONDS",
            "DB_CONNECT_TIMEOUT", "OVA_DB_QUERY_TIMEOUT_SECONDS",
            "JWT_SECRET_KEY", "ACCESS_TOKEN_EXPIRE_MINUTES", "OVA_PUBLIC_RATE_PER_MINUTE",
            "HF_API_KEY", "OVA_HF_BASE_URL", "HF_MODELO_STT", "HF_MODELO_TTS", "HF_MODELO_IMG", "HF_MODELO_CAPTION",
            "HF_MODELO_SIGN", "OVA_LLM_BASE_URL", "OVA_LLM_API_KEY", "HF_MODELO_LLM", "OVA_PROVIDER_TIMEOUT_SECONDS",
            "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS", "OVA_PROVIDER_RETRIES",
            "OVA_LOG_LEVEL", "OVA_LOG_FORMAT",
        ])
    }

    @Test(arguments: [
        ("dev", ServerConfiguration.Environment.development),
        ("DEVELOPMENT", .development),
        ("Prod", .production),
        (" production ", .production),
    ])
    func environmentNames(value: String, expected: ServerConfiguration.Environment) throws {
        let config = try load(["ENVIRONMENT": value, "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem", "JWT_SECRET_KEY": "0123456789abcdef0123456789abcdef-prod"])
        #expect(config.environment == expected)
    }

    @Test(arguments: [
        ("[::1]:7443", "::1", 7443, "[::1]:7443"),
        (":7443", "0.0.0.0", 7443, "0.0.0.0:7443"),
        ("localhost:0", "localhost", 0, "localhost:0"),
        ("[::]:80", "::", 80, "[::]:80"),
        ("[fe80::1%eth0]:8443", "fe80::1%eth0", 8443, "[fe80::1%eth0]:8443"),
        ("example.internal:65535", "example.internal", 65535, "example.internal:65535"),
    ])
    func listenForms(value: String, host: String, port: Int, description: String) throws {
        let config = try load(["OVA_LISTEN": value])
        #expect(config.transport.listen.host == host)
        #expect(config.transport.listen.port == port)
        #expect(config.transport.listen.description == description)
    }

    @Test func valueSuffixesAndAliases() throws {
        let config = try load([
            "OVA_MAX_MESSAGE_BYTES": "16MiB",
            "OVA_SHUTDOWN_GRACE_SECONDS": "30s",
            "OVA_THREADS": "AUTO",
            "LOG_LEVEL": "WARN",
        ])
        #expect(config.transport.maxMessageBytes == 16 * 1024 * 1024)
        #expect(config.transport.shutdownGracePeriod == .seconds(30))
        #expect(config.transport.eventLoopThreads == .automatic)
        #expect(config.transport.eventLoopThreads.resolved == ProcessInfo.processInfo.activeProcessorCount)
        #expect(config.logging.level == .warning)
    }

    @Test func relativePathsAreResolved() throws {
        let config = try load([
            "OVA_DATA_DIR": "state/../state2/",
            "OVA_TLS_CERT": "~/certs/server.pem",
            "OVA_TLS_KEY": "key.pem",
            "HOME": "/home/ova",
        ])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(config.storage.dataDirectory == URL(fileURLWithPath: cwd + "/state2").standardizedFileURL.path)
        #expect(config.tls.certificatePath == "/home/ova/certs/server.pem")
        #expect(config.tls.keyPath == URL(fileURLWithPath: cwd + "/key.pem").standardizedFileURL.path)
    }

    @Test func emptyValuesMeanUnset() throws {
        let config = try load(["OVA_LISTEN": "", "OVA_TLS_CERT": "  ", "OVA_MAX_CONNECTIONS": ""])
        #expect(config.transport.listen.description == "127.0.0.1:7443")
        #expect(config.tls.certificatePath == nil)
        #expect(config.transport.maxConnections == 20_000)
    }

    // MARK: Precedence

    @Test func flagsOverrideEnvironment() throws {
        let config = try load(
            ["OVA_LISTEN": "127.0.0.1:1000", "OVA_LOG_LEVEL": "error", "OVA_MAX_CONNECTIONS": "5"],
            overrides: ["OVA_LISTEN": "127.0.0.1:2000", "OVA_LOG_LEVEL": "trace"]
        )
        #expect(config.transport.listen.port == 2000)
        #expect(config.logging.level == .trace)
        #expect(config.transport.maxConnections == 5, "environment still applies where no flag is given")
    }

    @Test func overrideBeatsEnvironmentAlias() throws {
        let config = try load(["LOG_LEVEL": "error"], overrides: ["OVA_LOG_LEVEL": "notice"])
        #expect(config.logging.level == .notice)
        let aliasOverride = try load(["OVA_LOG_LEVEL": "error"], overrides: ["LOG_LEVEL": "critical"])
        #expect(aliasOverride.logging.level == .critical)
    }

    @Test func primaryNameBeatsAliasAndWarns() throws {
        let config = try load(["OVA_LOG_LEVEL": "debug", "LOG_LEVEL": "error"])
        #expect(config.logging.level == .debug)
        #expect(config.warnings.contains { $0.contains("LOG_LEVEL is ignored because OVA_LOG_LEVEL is set") })
    }

    // MARK: Invalid values

    @Test func listenErrorMessageIsExact() {
        let error = loadError(["OVA_LISTEN": "localhost:99999"])
        #expect(error?.description == #"OVA_LISTEN="localhost:99999": port must be 0-65535"#)
        #expect(error?.kind == .invalidValue)
        #expect(error?.variable == "OVA_LISTEN")
        #expect(error?.value == "localhost:99999")
    }

    @Test(arguments: [
        ("ENVIRONMENT", "staging", "production"),
        ("OVA_LISTEN", "localhost", "host:port"),
        ("OVA_LISTEN", "localhost:", "missing port"),
        ("OVA_LISTEN", "localhost:http", "port must be a number"),
        ("OVA_LISTEN", "localhost:-1", "0-65535"),
        ("OVA_LISTEN", "localhost:123456789012345678901234567890", "0-65535"),
        ("OVA_LISTEN", "::1:7443", "brackets"),
        ("OVA_LISTEN", "[::1]7443", "[address]:port"),
        ("OVA_LISTEN", "[localhost]:7443", "IPv6"),
        ("OVA_LISTEN", "bad host:7443", "hostname or IP"),
        ("OVA_LOG_LEVEL", "verbose", "trace, debug, info"),
        ("LOG_LEVEL", "loud", "trace, debug, info"),
        ("OVA_LOG_FORMAT", "xml", "text or json"),
        ("OVA_SHUTDOWN_GRACE_SECONDS", "-1", "0-3600"),
        ("OVA_SHUTDOWN_GRACE_SECONDS", "soon", "seconds"),
        ("OVA_SHUTDOWN_GRACE_SECONDS", "nan", "seconds"),
        ("OVA_SHUTDOWN_GRACE_SECONDS", "inf", "seconds"),
        ("OVA_MAX_CONCURRENT_STREAMS", "0", "1-1000000"),
        ("OVA_MAX_CONCURRENT_STREAMS", "1000001", "1-1000000"),
        ("OVA_MAX_CONCURRENT_STREAMS", "12abc", "integer"),
        ("OVA_MAX_MESSAGE_BYTES", "1023", "1024-67108864"),
        ("OVA_MAX_CONNECTION_BUFFER", "1KiB", "65536-1073741824"),
        ("OVA_MAX_MESSAGE_BYTES", "65MiB", "64 MiB"),
        ("OVA_MAX_MESSAGE_BYTES", "99999999999999999999MiB", "bytes"),
        ("OVA_MAX_CONNECTIONS", "0", "1-1000000"),
        ("OVA_IDLE_TIMEOUT_SECONDS", "86401", "0-86400"),
        ("OVA_HANDSHAKE_TIMEOUT_SECONDS", "0", "0.1-300"),
        ("OVA_THREADS", "0", "auto or an integer 1-1024"),
        ("OVA_THREADS", "many", "auto"),
        ("OVA_TASKS_ON_EVENT_LOOPS", "maybe", "true or false"),
    ])
    func invalidValueNamesVariable(variable: String, value: String, expected: String) {
        let error = loadError([variable: value])
        #expect(error?.kind == .invalidValue)
        #expect(error?.variable == variable)
        let message = error?.description ?? ""
        #expect(message.hasPrefix(variable + "="), "message: \(message)")
        #expect(message.contains(expected), "message: \(message)")
        #expect(message.contains("\"\(value)\""), "message: \(message)")
    }

    @Test func controlCharactersAreEscapedInMessages() {
        let error = loadError(["OVA_DATA_DIR": "a\u{0}b"])
        #expect(error?.variable == "OVA_DATA_DIR")
        #expect(error?.description == #"OVA_DATA_DIR="a\u0000b": path must not contain NUL"#)
        let newline = loadError(["OVA_LOG_FORMAT": "js\non"])
        #expect(newline?.description == #"OVA_LOG_FORMAT="js\non": expected text or json"#)
    }

    @Test func invalidOverrideNamesVariable() {
        let error = loadError([:], overrides: ["OVA_MAX_CONNECTIONS": "lots"])
        #expect(error?.variable == "OVA_MAX_CONNECTIONS")
        #expect(error?.description.contains(#""lots""#) == true)
    }

    // MARK: TLS combinations

    @Test func productionWithoutCertificateFails() {
        let error = loadError(["ENVIRONMENT": "production"])
        #expect(error?.kind == .missingValue)
        #expect(error?.variable == "OVA_TLS_CERT")
        #expect(error?.description.contains("OVA_TLS_CERT") == true)
        #expect(error?.description.contains("OVA_TLS_KEY") == true)
        #expect(error?.description.contains("production") == true)
    }

    @Test func productionWithCertificateLoads() throws {
        let config = try load(["ENVIRONMENT": "prod", "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem", "JWT_SECRET_KEY": "0123456789abcdef0123456789abcdef-prod"])
        #expect(config.environment == .production)
        #expect(config.tls.certificatePath == "/c.pem")
    }

    @Test func productionRequiresAStrongSigningKey() {
        let tls = ["ENVIRONMENT": "production", "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem"]
        let missing = loadError(tls)
        #expect(missing?.kind == .missingValue)
        #expect(missing?.variable == "JWT_SECRET_KEY")
        let short = loadError(tls.merging(["JWT_SECRET_KEY": "supersecretkey"]) { $1 })
        #expect(short?.variable == "JWT_SECRET_KEY")
        #expect(short?.description.contains("at least 32 bytes") == true)
        // The value itself is never echoed.
        #expect(short?.description.contains("supersecretkey") == false)
        // Development accepts an unset key (one is generated) but not an out-of-range lifetime.
        #expect(loadError(["ACCESS_TOKEN_EXPIRE_MINUTES": "0"])?.variable == "ACCESS_TOKEN_EXPIRE_MINUTES")
        #expect((try? load([:]))?.auth.jwtSecret == nil)
        #expect((try? load([:]))?.auth.accessTokenLifetime == .seconds(30 * 60))
    }

    @Test func providerSettings() throws {
        let config = try load([
            "HF_TOKEN": "hf_secret_value",
            "OVA_HF_BASE_URL": "http://127.0.0.1:9000/",
            "HF_MODELO_STT": "openai/whisper-large-v3",
            "HF_MODELO_LLM": "mistralai/Mistral-7B-Instruct-v0.3",
            "OVA_PROVIDER_TIMEOUT_SECONDS": "15",
            "OVA_PROVIDER_RETRIES": "0",
        ])
        #expect(config.providers.huggingFaceAPIKey == "hf_secret_value")
        #expect(config.providers.huggingFaceBaseURL == "http://127.0.0.1:9000")
        #expect(config.providers.speechToTextModel == "openai/whisper-large-v3")
        #expect(config.providers.detectionModel == "facebook/detr-resnet-50")
        #expect(config.providers.captionModel == "nlpconnect/vit-gpt2-image-captioning")
        #expect(config.providers.signModel == "RavenOnur/Sign-Language")
        #expect(config.providers.effectiveLLMBaseURL == "https://router.huggingface.co/v1")
        #expect(config.providers.llmModel == "mistralai/Mistral-7B-Instruct-v0.3")
        #expect(config.providers.timeout == .seconds(15))
        #expect(config.providers.attemptTimeout == nil)
        #expect(config.providers.effectiveAttemptTimeout == .seconds(5))
        #expect(config.redactedSummary().first { $0.key == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS" }?.value == "auto")
        #expect(config.providers.retries == 0)
        #expect(config.redactedSummary().first { $0.key == "HF_API_KEY" }?.value == "set")
        #expect(!config.redactedSummary().contains { $0.value.contains("hf_secret_value") })
        #expect((try load([:])).providers.effectiveLLMBaseURL == nil)
        #expect(loadError(["OVA_HF_BASE_URL": "ftp://x"])?.variable == "OVA_HF_BASE_URL")
        #expect(loadError(["HF_MODELO_STT": "../../etc/passwd"])?.variable == "HF_MODELO_STT")
        #expect(loadError(["HF_MODELO_LLM": "a model with spaces"])?.variable == "HF_MODELO_LLM")
    }

    @Test func certificateWithoutKeyFails() {
        let error = loadError(["OVA_TLS_CERT": "/etc/ova/cert.pem"])
        #expect(error?.kind == .inconsistent)
        #expect(error?.description.contains("OVA_TLS_KEY") == true)
        #expect(error?.description.contains("OVA_TLS_CERT") == true)
    }

    @Test func keyWithoutCertificateFails() {
        let error = loadError(["OVA_TLS_KEY": "/etc/ova/key.pem"], overrides: ["ENVIRONMENT": "dev"])
        #expect(error?.kind == .inconsistent)
        #expect(error?.variable == "OVA_TLS_CERT")
    }

    @Test func flagCanCompleteCertificatePair() throws {
        let config = try load(["OVA_TLS_CERT": "/c.pem"], overrides: ["OVA_TLS_KEY": "/k.pem"])
        #expect(config.tls.keyPath == "/k.pem")
    }

    // MARK: Warnings

    @Test func unknownOvaVariableWarns() throws {
        let config = try load(["OVA_LISTN": "127.0.0.1:1", "OVA_SOMETHING_ELSE": "1", "PATH": "/bin", "LISTEN": "x"])
        #expect(config.warnings.count == 2, "\(config.warnings)")
        #expect(config.warnings.contains { $0.contains("OVA_LISTN") && $0.contains("did you mean OVA_LISTEN?") })
        #expect(config.warnings.contains { $0.contains("OVA_SOMETHING_ELSE") })
        #expect(config.transport.listen.port == 7443, "a misspelled variable does not apply")
    }

    @Test func unknownOverrideWarns() throws {
        let config = try load([:], overrides: ["OVA_BOGUS": "1"])
        #expect(config.warnings == ["unknown override OVA_BOGUS is ignored"])
    }

    @Test func typoInEveryFamilyWarnsWithSuggestion() throws {
        let config = try load([
            "HF_MODELO_IMAGEN": "facebook/detr-resnet-101",
            "DB_HOTS": "db.internal",
            "JWT_SECRET_KY": "x",
            "ACCESS_TOKEN_EXPIRE_MINUTS": "5",
            "LOG_LEVL": "debug",
            "ALLOWED_ORIGIN": "https://example.com",
            "ENVIROMENT": "production",
        ])
        #expect(config.warnings.contains("unknown variable HF_MODELO_IMAGEN is ignored (did you mean HF_MODELO_IMG?)"), "\(config.warnings)")
        #expect(config.warnings.contains("unknown variable DB_HOTS is ignored (did you mean DB_HOST?)"), "\(config.warnings)")
        #expect(config.warnings.contains("unknown variable JWT_SECRET_KY is ignored (did you mean JWT_SECRET_KEY?)"), "\(config.warnings)")
        #expect(config.warnings.contains { $0.hasPrefix("unknown variable ACCESS_TOKEN_EXPIRE_MINUTS is ignored (did you mean ACCESS_TOKEN_EXPIRE_MINUTES?)") })
        #expect(config.warnings.contains("unknown variable LOG_LEVL is ignored (did you mean LOG_LEVEL?)"), "\(config.warnings)")
        #expect(config.warnings.contains("unknown variable ALLOWED_ORIGIN is ignored (did you mean ALLOWED_ORIGINS?)"), "\(config.warnings)")
        #expect(config.warnings.contains("unknown variable ENVIROMENT is ignored (did you mean ENVIRONMENT?)"), "\(config.warnings)")
        #expect(config.warnings.count == 7, "\(config.warnings)")
        #expect(config.environment == .development, "a misspelled variable does not apply")
        #expect(config.providers.detectionModel == "facebook/detr-resnet-50")
    }

    @Test func unrelatedVariablesDoNotWarn() throws {
        let config = try load([
            "PATH": "/usr/bin", "HOME": "/home/ova", "LANG": "C.UTF-8", "TERM": "xterm", "PWD": "/srv",
            "HOSTNAME": "ova", "SHLVL": "1", "HF_HOME": "/cache/hf", "HF_HUB_OFFLINE": "1", "LOGNAME": "ova",
        ])
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    // MARK: Settings accepted but not used yet

    @Test func allowedOriginsWarnsThatItHasNoEffectYet() throws {
        let config = try load(["ALLOWED_ORIGINS": "https://ova.example, https://admin.ova.example"])
        #expect(config.transport.allowedOrigins == ["https://ova.example", "https://admin.ova.example"])
        #expect(config.warnings.count == 1, "\(config.warnings)")
        #expect(config.warnings.first?.hasPrefix("ALLOWED_ORIGINS is set but has no effect yet: browsers reach OVA only when gRPC-Web lands") == true)
        #expect(try load().warnings.isEmpty)
    }

    @Test func notUsedYetSettingsAreMarkedInTheDocs() {
        let section = ServerConfiguration.markdownSettingsSection()
        for setting in ServerConfiguration.settings where setting.availability != .available {
            let row = section.split(separator: "\n").first { $0.hasPrefix("| `\(setting.name)`") }
            #expect(row?.contains("**Not used yet:**") == true, "\(setting.name)")
        }
    }

    // MARK: Provider attempt timeout

    @Test("the provider attempt timeout: auto is a third of the overall one; a set one may not exceed it")
    func attemptTimeoutFitsTheOverallTimeout() throws {
        let defaults = try load()
        #expect(defaults.providers.timeout == .seconds(60))
        #expect(defaults.providers.attemptTimeout == nil)
        #expect(defaults.providers.effectiveAttemptTimeout == .seconds(20))
        let chosen = try load(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "2.5", "OVA_PROVIDER_TIMEOUT_SECONDS": "30"])
        #expect(chosen.providers.attemptTimeout == .milliseconds(2500))
        #expect(chosen.providers.effectiveAttemptTimeout == .milliseconds(2500))
        #expect(chosen.redactedSummary().first { $0.key == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS" }?.value == "2.5")
        // auto follows a shorter overall timeout, so a hung attempt still leaves room for retries ...
        #expect(try load(["OVA_PROVIDER_TIMEOUT_SECONDS": "3", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "AUTO"]).providers.effectiveAttemptTimeout == .seconds(1))
        #expect(try load(["OVA_PROVIDER_TIMEOUT_SECONDS": "30", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "30"]).providers.effectiveAttemptTimeout == .seconds(30))
        // ... a chosen one that does not fit is an error naming both.
        let error = loadError(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "20", "OVA_PROVIDER_TIMEOUT_SECONDS": "15"])
        #expect(error?.variable == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS")
        #expect(error?.description.contains("OVA_PROVIDER_TIMEOUT_SECONDS (15)") == true, "\(error?.description ?? "")")
        #expect(loadError(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "0.05"])?.description.contains("0.1-600") == true)
        #expect(loadError(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "soon"])?.variable == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS")
    }

    // MARK: Defaults come from the runtime's types

    @Test func defaultsAreTheRuntimeDefaults() throws {
        let config = try load()
        let runtime = ConnectionLimits()
        let limits = config.transport.connectionLimits
        #expect(limits.handshakeTimeout == runtime.handshakeTimeout)
        #expect(limits.idleTimeout == runtime.idleTimeout)
        #expect(limits.writeStallTimeout == runtime.writeStallTimeout)
        #expect(limits.maxConnectionBuffer == runtime.maxConnectionBuffer)
        #expect(limits.settings.maxConcurrentStreams == runtime.settings.maxConcurrentStreams)
        #expect(limits.settings.maxMessageSize == runtime.settings.maxMessageSize)
        #expect(config.transport.maxConnections == RPCServer.Configuration.defaultMaxConnections)
        #expect(config.providers.retries == RetryPolicy().maxRetries)
        #expect(config.providers.timeout == ResiliencePolicy().overallTimeout)
        #expect(config.providers.huggingFaceBaseURL == HuggingFaceConfiguration.defaultBaseURL)
        // Loading with nothing set yields the declared defaults, once paths are resolved.
        var expected = ServerConfiguration.defaults
        expected.storage.dataDirectory = config.storage.dataDirectory
        expected.environmentFile = config.environmentFile
        #expect(config == expected)
        #expect(config.environmentFile == nil)
    }

    @Test func settingsDeclareTheTypedValues() throws {
        let config = try load([
            "OVA_HANDSHAKE_TIMEOUT_SECONDS": "0.25",
            "OVA_IDLE_TIMEOUT_SECONDS": "90",
            "OVA_LLM_BASE_URL": "http://127.0.0.1:8080/v1/",
            "HF_MODELO_TTS": "facebook/mms-tts-spa",
        ])
        #expect(config.transport.handshakeTimeout == .milliseconds(250))
        #expect(config.transport.connectionLimits.handshakeTimeout == .milliseconds(250))
        #expect(config.transport.connectionLimits.idleTimeout == .seconds(90))
        #expect(config.providers.llmBaseURL == "http://127.0.0.1:8080/v1")
        #expect(config.providers.textToSpeechModel == "facebook/mms-tts-spa")
        #expect(config.providers.speechToTextModel == nil)
        #expect(config.providers.llmModel == nil)
        #expect(config.storage.databasePath == nil)
        #expect(config.storage.effectiveDatabasePath == config.storage.dataDirectory + "/ova.sqlite3")
    }

    // MARK: Flags

    @Test func everyNonSecretSettingHasAFlag() throws {
        let overrides = try ServerConfiguration.overrides(fromFlags: [
            "--listen", "127.0.0.1:0", "--data-dir=/tmp/ova-flags", "--max-connections", "7", "--hf-modelo-llm", "a/b",
            "--environment", "dev", "--log-level", "debug", "--threads", "2", "--tls-cert", "/c.pem", "--tls-key", "/k.pem",
        ])
        #expect(overrides == [
            "OVA_LISTEN": "127.0.0.1:0", "OVA_DATA_DIR": "/tmp/ova-flags", "OVA_MAX_CONNECTIONS": "7", "HF_MODELO_LLM": "a/b",
            "ENVIRONMENT": "dev", "OVA_LOG_LEVEL": "debug", "OVA_THREADS": "2", "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem",
        ])
        let config = try load(["OVA_MAX_CONNECTIONS": "9"], overrides: overrides)
        #expect(config.transport.maxConnections == 7)
        #expect(config.transport.eventLoopThreads == .count(2))
        for setting in ServerConfiguration.settings where setting.hasFlag {
            #expect(try ServerConfiguration.overrides(fromFlags: ["--\(setting.flagName)=x"]) == [setting.name: "x"])
        }
        // The flags the scripts, tests and docs use keep their spelling.
        for flag in ["listen", "data-dir", "tls-cert", "tls-key", "tls-client-ca", "environment", "log-level", "log-format", "threads"] {
            #expect(ServerConfiguration.setting(flag: flag) != nil, "--\(flag)")
        }
    }

    @Test func badFlagsAreNamed() {
        func error(_ arguments: [String]) -> String {
            do {
                _ = try ServerConfiguration.overrides(fromFlags: arguments)
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(error(["--listn", "x"]).hasPrefix("unknown option --listn (did you mean --listen?)"))
        #expect(error(["--max-conections=3"]).hasPrefix("unknown option --max-conections (did you mean --max-connections?)"))
        #expect(error(["--listen"]) == "--listen needs a value")
        #expect(error(["serve"]).hasPrefix("unexpected argument \"serve\""))
        let secret = error(["--jwt-secret-key", "hunter2-hunter2"])
        #expect(secret.contains("JWT_SECRET_KEY is secret and has no flag"), "\(secret)")
        #expect(!secret.contains("hunter2"))
    }

    // MARK: Summary and tables

    @Test func redactedSummaryListsEverySetting() throws {
        let config = try load(["OVA_LISTEN": "[::1]:9", "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem"])
        let summary = config.redactedSummary()
        #expect(summary.map(\.key) == ServerConfiguration.settings.map(\.name))
        let values = Dictionary(uniqueKeysWithValues: summary.map { ($0.key, $0.value) })
        #expect(values["OVA_LISTEN"] == "[::1]:9")
        #expect(values["OVA_TLS_CERT"] == "/c.pem")
        #expect(values["OVA_TLS_CLIENT_CA"] == "unset")
        #expect(values["OVA_THREADS"] == "auto")
        #expect(values["OVA_IDLE_TIMEOUT_SECONDS"] == "300")
        #expect(values["OVA_LOG_LEVEL"] == "info")
    }

    @Test func secretValuesNeverAppearInTheSummary() throws {
        let secrets = [
            "JWT_SECRET_KEY": "jwt-7f3c9a1e-secret-value-0123456789",
            "HF_TOKEN": "hf_2b8d4e6f-secret-value",
            "OVA_LLM_API_KEY": "sk-llm-9a8b7c-secret-value",
        ]
        let config = try load(secrets)
        let summary = config.redactedSummary()
        for (key, value) in summary where ServerConfiguration.setting(named: key)?.isSecret == true {
            #expect(value == "set" || value == "unset", "\(key)=\(value)")
        }
        let text = summary.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") + config.warnings.joined()
        for value in secrets.values {
            #expect(!text.contains(value))
            #expect(!text.contains(String(value.prefix(12))))
        }
        let values = Dictionary(uniqueKeysWithValues: summary.map { ($0.key, $0.value) })
        #expect(values["JWT_SECRET_KEY"] == "set")
        #expect(values["HF_API_KEY"] == "set")
        #expect(values["OVA_LLM_API_KEY"] == "set")
        #expect(values["DB_PASSWORD"] == "unset")
        let secretError = ConfigurationError.invalidValue(variable: "JWT_SECRET_KEY", value: "hunter2", expected: "too short", secret: true)
        #expect(!secretError.description.contains("hunter2"))
        #expect(secretError.description.contains("JWT_SECRET_KEY"))
    }

    @Test func aSecretsRejectedValueIsNotEchoed() {
        let strict = SettingParser<String?>(
            parse: { text, variable, _ throws(ConfigurationError) in
                throw .invalidValue(variable: variable, value: text, expected: "must be 40 hex digits")
            },
            format: { $0 }
        )
        let setting = ServerConfiguration.Setting("OVA_TEST_KEY", \.providers.llmAPIKey, strict, group: .providers, secret: true, doc: "test")
        var config = ServerConfiguration.defaults
        do {
            try setting.apply(&config, "hunter2-value", "OVA_TEST_KEY", ServerConfiguration.LoadContext(environment: [:]))
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"OVA_TEST_KEY="<redacted>": must be 40 hex digits"#)
            #expect(error.value == "<redacted>")
        }
    }

    @Test func startupLogShowsTheEffectiveConfigurationAtInfoWithoutSecrets() throws {
        let secrets = ["JWT_SECRET_KEY": "jwt-5e1d-startup-secret-0123456789abcdef", "OVA_LLM_API_KEY": "sk-startup-secret-42"]
        let config = try load(secrets.merging(["OVA_LISTEN": "127.0.0.1:0", "DB_PASSWORD": ""]) { $1 })
        let logs = CapturedLogs()
        OvaServerApp.logSummary(of: config, to: logs.logger())
        let entries = logs.entries
        #expect(entries.count == ServerConfiguration.Setting.Group.allCases.count)
        #expect(entries.allSatisfy { $0.level == .info })
        let text = entries.map(\.message).joined(separator: "\n")
        for setting in ServerConfiguration.settings {
            #expect(text.contains(" \(setting.name)="), "\(setting.name) is in the startup summary")
        }
        #expect(text.contains("configuration transport: OVA_LISTEN=127.0.0.1:0 "))
        #expect(text.contains("JWT_SECRET_KEY=set"))
        #expect(text.contains("OVA_LLM_API_KEY=set"))
        #expect(text.contains("DB_PASSWORD=unset"))
        for value in secrets.values {
            #expect(!text.contains(value))
        }
    }

    @Test func declarationsAreConsistent() throws {
        let names = ServerConfiguration.settings.flatMap(\.names)
        #expect(Set(names).count == names.count, "names and aliases are unique")
        let flags = ServerConfiguration.settings.filter(\.hasFlag).map(\.flagName)
        #expect(Set(flags).count == flags.count, "flags are unique")
        for setting in ServerConfiguration.settings {
            #expect(!setting.doc.isEmpty, "\(setting.name) has a doc line")
            #expect(!setting.isSecret || setting.defaultText == nil, "\(setting.name): a secret has no default")
        }
        #expect(ServerConfiguration.setting(named: "OVA_TLS_CERT")?.flagName == "tls-cert")
        #expect(ServerConfiguration.setting(named: "LOG_LEVEL")?.name == "OVA_LOG_LEVEL")
        #expect(ServerConfiguration.setting(named: "ENVIRONMENT")?.flagName == "environment")
        #expect(ServerConfiguration.setting(named: "OVA_THREADS")?.defaultText == "auto")
        #expect(ServerConfiguration.setting(named: "OVA_MAX_MESSAGE_BYTES")?.defaultText == "4194304")
        #expect(ServerConfiguration.setting(named: "OVA_DATA_DIR")?.defaultText == "./data")
        // Each documented default is what an empty environment yields.
        let summary = Dictionary(uniqueKeysWithValues: try load().redactedSummary().map { ($0.key, $0.value) })
        for setting in ServerConfiguration.settings where setting.group != .storage && setting.name != "OVA_ENV_FILE" {
            #expect(summary[setting.name] == (setting.defaultText ?? "unset"), "\(setting.name)")
        }
    }

    @Test func helpListsEverySetting() {
        let help = ServerConfiguration.commandLineHelp()
        for setting in ServerConfiguration.settings {
            #expect(help.contains(setting.name), "\(setting.name)")
            if setting.hasFlag {
                #expect(help.contains("--\(setting.flagName) <value>\n      \(setting.names.joined(separator: ", ")) (default: \(setting.defaultText ?? "unset"))"), "\(setting.name)")
            }
        }
    }

    // MARK: Generated files agree with the declarations

    private static let packageRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The first line where the committed file differs from the generated text, for a short
    /// failure message; nil when they are equal.
    private func firstDifference(_ expected: String, _ actual: String) -> String? {
        if expected == actual { return nil }
        let expectedLines = expected.components(separatedBy: "\n")
        let actualLines = actual.components(separatedBy: "\n")
        for index in 0..<max(expectedLines.count, actualLines.count) {
            let want = index < expectedLines.count ? expectedLines[index] : "<end of file>"
            let have = index < actualLines.count ? actualLines[index] : "<end of file>"
            if want != have {
                return "line \(index + 1): generated \(want.debugDescription), committed \(have.debugDescription)"
            }
        }
        return "files differ"
    }

    @Test func configurationDocsAreGeneratedFromTheDeclarations() throws {
        let docs = Self.packageRoot.appendingPathComponent("docs/CONFIGURATION.md")
        let text = try #require(try? String(contentsOf: docs, encoding: .utf8), "missing \(docs.path)")
        let updated = try #require(
            ServerConfiguration.updatingSettingsSection(in: text),
            "docs/CONFIGURATION.md lacks the generated-section markers"
        )
        #expect(firstDifference(updated, text) == nil, "docs/CONFIGURATION.md's settings tables are stale: run `make config-docs`")
        for setting in ServerConfiguration.settings {
            #expect(text.contains("| `\(setting.name)`"), "docs/CONFIGURATION.md does not document \(setting.name)")
        }
    }

    @Test func environmentExampleIsGeneratedFromTheDeclarations() throws {
        let example = Self.packageRoot.appendingPathComponent(".env.example")
        let text = try #require(try? String(contentsOf: example, encoding: .utf8), "missing \(example.path)")
        #expect(firstDifference(ServerConfiguration.environmentExample(), text) == nil, ".env.example is stale: run `make config-docs`")
        for setting in ServerConfiguration.settings {
            let line = "# \(setting.name)=" + (setting.isSecret ? "" : setting.defaultText ?? "")
            #expect(text.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
    }

    @Test func generatedSectionReplacesOnlyWhatIsBetweenTheMarkers() {
        let document = "prose before\n\(ServerConfiguration.generatedSectionBegin)\nold table\n\(ServerConfiguration.generatedSectionEnd)\nprose after\n"
        let updated = ServerConfiguration.updatingSettingsSection(in: document)
        #expect(updated == "prose before\n\(ServerConfiguration.markdownSettingsSection())\nprose after\n")
        #expect(ServerConfiguration.updatingSettingsSection(in: "no markers") == nil)
    }
}
