import Foundation
import Logging
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
        #expect(config.listenHost == "127.0.0.1")
        #expect(config.listenPort == 7443)
        #expect(config.listenDescription == "127.0.0.1:7443")
        let expectedDataDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/data")
            .standardizedFileURL.path
        #expect(config.dataDirectory == expectedDataDirectory)
        #expect(config.dataDirectory.hasPrefix("/"))
        #expect(config.tlsCertificatePath == nil)
        #expect(config.tlsKeyPath == nil)
        #expect(config.tlsClientCAPath == nil)
        #expect(config.logLevel == "info")
        #expect(config.loggerLevel == .info)
        #expect(config.logFormat == .text)
        #expect(config.shutdownGracePeriodSeconds == 10)
        #expect(config.maxConcurrentStreams == 1024)
        #expect(config.maxMessageBytes == 4 * 1024 * 1024)
        #expect(config.maxConnections == 20_000)
        #expect(config.idleTimeoutSeconds == 300)
        #expect(config.handshakeTimeoutSeconds == 10)
        #expect(config.eventLoopThreads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(config.tasksOnEventLoops == true)
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
            "OVA_THREADS": "3",
            "OVA_TASKS_ON_EVENT_LOOPS": "false",
            "OVA_DB_PATH": "/var/lib/ova/db/ova.sqlite3",
            "JWT_SECRET_KEY": "0123456789abcdef0123456789abcdef-prod",
            "ACCESS_TOKEN_EXPIRE_MINUTES": "45",
            "OVA_PUBLIC_RATE_PER_MINUTE": "7",
        ])
        #expect(config.environment == .production)
        #expect(config.isProduction)
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9000)
        #expect(config.dataDirectory == "/var/lib/ova")
        #expect(config.tlsCertificatePath == "/etc/ova/cert.pem")
        #expect(config.tlsKeyPath == "/etc/ova/key.pem")
        #expect(config.tlsClientCAPath == "/etc/ova/ca.pem")
        #expect(config.logLevel == "debug")
        #expect(config.loggerLevel == .debug)
        #expect(config.logFormat == .json)
        #expect(config.shutdownGracePeriodSeconds == 2.5)
        #expect(config.maxConcurrentStreams == 64)
        #expect(config.maxMessageBytes == 1_048_576)
        #expect(config.maxConnectionBufferBytes == 512 * 1024)
        #expect(config.maxConnections == 100)
        #expect(config.idleTimeoutSeconds == 0)
        #expect(config.handshakeTimeoutSeconds == 3)
        #expect(config.writeStallTimeoutSeconds == 0)
        #expect(OvaServerApp.limits(for: config).writeStallTimeout == nil)
        #expect(config.eventLoopThreads == 3)
        #expect(config.tasksOnEventLoops == false)
        #expect(config.databasePath == "/var/lib/ova/db/ova.sqlite3")
        #expect(config.effectiveDatabasePath == "/var/lib/ova/db/ova.sqlite3")
        #expect(config.jwtSecret == Array("0123456789abcdef0123456789abcdef-prod".utf8))
        #expect(config.accessTokenExpireMinutes == 45)
        #expect(config.publicRatePerMinute == 7)
        #expect(config.warnings.isEmpty)
        // The secret never appears in the startup summary.
        #expect(config.redactedSummary().first { $0.key == "JWT_SECRET_KEY" }?.value == "set")
        #expect(!config.redactedSummary().contains { $0.value.contains("0123456789abcdef") })
    }

    @Test func everySettingIsCoveredByEveryVariableIsParsed() {
        // If this fails, a setting was added: extend everyVariableIsParsed and docs/CONFIGURATION.md.
        #expect(ServerConfiguration.variables.map(\.name) == [
            "ENVIRONMENT", "OVA_LISTEN", "OVA_DATA_DIR", "OVA_TLS_CERT", "OVA_TLS_KEY", "OVA_TLS_CLIENT_CA",
            "OVA_LOG_LEVEL", "OVA_LOG_FORMAT", "OVA_SHUTDOWN_GRACE_SECONDS", "OVA_MAX_CONCURRENT_STREAMS",
            "OVA_MAX_MESSAGE_BYTES", "OVA_MAX_CONNECTION_BUFFER", "OVA_MAX_CONNECTIONS", "OVA_IDLE_TIMEOUT_SECONDS",
            "OVA_HANDSHAKE_TIMEOUT_SECONDS", "OVA_WRITE_STALL_TIMEOUT_SECONDS", "OVA_THREADS", "OVA_TASKS_ON_EVENT_LOOPS",
            "OVA_DB_PATH", "JWT_SECRET_KEY", "ACCESS_TOKEN_EXPIRE_MINUTES", "OVA_PUBLIC_RATE_PER_MINUTE",
            "HF_API_KEY", "OVA_HF_BASE_URL", "HF_MODELO_STT", "HF_MODELO_TTS", "HF_MODELO_IMG", "HF_MODELO_CAPTION",
            "HF_MODELO_SIGN", "OVA_LLM_BASE_URL", "OVA_LLM_API_KEY", "HF_MODELO_LLM", "OVA_PROVIDER_TIMEOUT_SECONDS",
            "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS", "OVA_PROVIDER_RETRIES",
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
        #expect(config.listenHost == host)
        #expect(config.listenPort == port)
        #expect(config.listenDescription == description)
    }

    @Test func valueSuffixesAndAliases() throws {
        let config = try load([
            "OVA_MAX_MESSAGE_BYTES": "16MiB",
            "OVA_SHUTDOWN_GRACE_SECONDS": "30s",
            "OVA_THREADS": "AUTO",
            "LOG_LEVEL": "WARN",
        ])
        #expect(config.maxMessageBytes == 16 * 1024 * 1024)
        #expect(config.shutdownGracePeriodSeconds == 30)
        #expect(config.eventLoopThreads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(config.logLevel == "warning")
    }

    @Test func relativePathsAreResolved() throws {
        let config = try load([
            "OVA_DATA_DIR": "state/../state2/",
            "OVA_TLS_CERT": "~/certs/server.pem",
            "OVA_TLS_KEY": "key.pem",
            "HOME": "/home/ova",
        ])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(config.dataDirectory == URL(fileURLWithPath: cwd + "/state2").standardizedFileURL.path)
        #expect(config.tlsCertificatePath == "/home/ova/certs/server.pem")
        #expect(config.tlsKeyPath == URL(fileURLWithPath: cwd + "/key.pem").standardizedFileURL.path)
    }

    @Test func emptyValuesMeanUnset() throws {
        let config = try load(["OVA_LISTEN": "", "OVA_TLS_CERT": "  ", "OVA_MAX_CONNECTIONS": ""])
        #expect(config.listenDescription == "127.0.0.1:7443")
        #expect(config.tlsCertificatePath == nil)
        #expect(config.maxConnections == 20_000)
    }

    // MARK: Precedence

    @Test func flagsOverrideEnvironment() throws {
        let config = try load(
            ["OVA_LISTEN": "127.0.0.1:1000", "OVA_LOG_LEVEL": "error", "OVA_MAX_CONNECTIONS": "5"],
            overrides: ["OVA_LISTEN": "127.0.0.1:2000", "OVA_LOG_LEVEL": "trace"]
        )
        #expect(config.listenPort == 2000)
        #expect(config.logLevel == "trace")
        #expect(config.maxConnections == 5, "environment still applies where no flag is given")
    }

    @Test func overrideBeatsEnvironmentAlias() throws {
        let config = try load(["LOG_LEVEL": "error"], overrides: ["OVA_LOG_LEVEL": "notice"])
        #expect(config.logLevel == "notice")
        let aliasOverride = try load(["OVA_LOG_LEVEL": "error"], overrides: ["LOG_LEVEL": "critical"])
        #expect(aliasOverride.logLevel == "critical")
    }

    @Test func primaryNameBeatsAliasAndWarns() throws {
        let config = try load(["OVA_LOG_LEVEL": "debug", "LOG_LEVEL": "error"])
        #expect(config.logLevel == "debug")
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
        #expect(config.tlsCertificatePath == "/c.pem")
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
        #expect((try? load([:]))?.jwtSecret == nil)
        #expect((try? load([:]))?.accessTokenExpireMinutes == 30)
    }

    @Test("the provider attempt timeout: auto is a third of the overall one; a set one may not exceed it")
    func providerAttemptTimeout() throws {
        #expect(try load([:]).effectiveProviderAttemptTimeoutSeconds == 20)
        let set = try load(["OVA_PROVIDER_TIMEOUT_SECONDS": "30", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "10s"])
        #expect(set.providerAttemptTimeoutSeconds == 10)
        #expect(set.effectiveProviderAttemptTimeoutSeconds == 10)
        #expect(set.redactedSummary().first { $0.key == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS" }?.value == "10")
        #expect(try load(["OVA_PROVIDER_TIMEOUT_SECONDS": "30", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "30"]).effectiveProviderAttemptTimeoutSeconds == 30)
        #expect(try load(["OVA_PROVIDER_TIMEOUT_SECONDS": "3", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "AUTO"]).effectiveProviderAttemptTimeoutSeconds == 1)
        let tooLong = loadError(["OVA_PROVIDER_TIMEOUT_SECONDS": "10", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "20"])
        #expect(tooLong?.variable == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS")
        #expect(tooLong?.message.contains("must not exceed the overall timeout (OVA_PROVIDER_TIMEOUT_SECONDS=10)") == true)
        #expect(loadError(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "0.5"])?.variable == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS")
        #expect(loadError(["OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "soon"])?.variable == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS")
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
        #expect(config.huggingFaceAPIKey == "hf_secret_value")
        #expect(config.huggingFaceBaseURL == "http://127.0.0.1:9000")
        #expect(config.huggingFaceSpeechToTextModel == "openai/whisper-large-v3")
        #expect(config.huggingFaceDetectionModel == "facebook/detr-resnet-50")
        #expect(config.huggingFaceCaptionModel == "nlpconnect/vit-gpt2-image-captioning")
        #expect(config.huggingFaceSignModel == "RavenOnur/Sign-Language")
        #expect(config.effectiveLLMBaseURL == "https://router.huggingface.co/v1")
        #expect(config.llmModel == "mistralai/Mistral-7B-Instruct-v0.3")
        #expect(config.providerTimeoutSeconds == 15)
        #expect(config.providerAttemptTimeoutSeconds == nil)
        #expect(config.effectiveProviderAttemptTimeoutSeconds == 5)
        #expect(config.redactedSummary().first { $0.key == "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS" }?.value == "auto (5)")
        #expect(config.providerRetries == 0)
        #expect(config.redactedSummary().first { $0.key == "HF_API_KEY" }?.value == "set")
        #expect(!config.redactedSummary().contains { $0.value.contains("hf_secret_value") })
        #expect((try load([:])).effectiveLLMBaseURL == nil)
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
        #expect(config.tlsKeyPath == "/k.pem")
    }

    // MARK: Warnings

    @Test func unknownOvaVariableWarns() throws {
        let config = try load(["OVA_LISTN": "127.0.0.1:1", "OVA_SOMETHING_ELSE": "1", "PATH": "/bin", "LISTEN": "x"])
        #expect(config.warnings.count == 2, "\(config.warnings)")
        #expect(config.warnings.contains { $0.contains("OVA_LISTN") && $0.contains("did you mean OVA_LISTEN?") })
        #expect(config.warnings.contains { $0.contains("OVA_SOMETHING_ELSE") })
        #expect(config.listenPort == 7443, "a misspelled variable does not apply")
    }

    @Test func unknownOverrideWarns() throws {
        let config = try load([:], overrides: ["OVA_BOGUS": "1"])
        #expect(config.warnings == ["unknown override OVA_BOGUS is ignored"])
    }

    // MARK: Summary and tables

    @Test func redactedSummaryListsEverySetting() throws {
        let config = try load(["OVA_LISTEN": "[::1]:9", "OVA_TLS_CERT": "/c.pem", "OVA_TLS_KEY": "/k.pem"])
        let summary = config.redactedSummary()
        #expect(summary.map(\.key) == ServerConfiguration.variables.map(\.name))
        let values = Dictionary(uniqueKeysWithValues: summary.map { ($0.key, $0.value) })
        #expect(values["OVA_LISTEN"] == "[::1]:9")
        #expect(values["OVA_TLS_CERT"] == "/c.pem")
        #expect(values["OVA_TLS_CLIENT_CA"] == "unset")
        #expect(values["OVA_THREADS"] == String(config.eventLoopThreads))
    }

    @Test func secretSettingsAreRedacted() throws {
        // No secret settings exist yet (JWT_SECRET_KEY, HF_API_KEY come later); when they do,
        // their summary must be set/unset only.
        let config = try load()
        for (key, value) in config.redactedSummary() where ServerConfiguration.setting(named: key)?.isSecret == true {
            #expect(value == "set" || value == "unset")
        }
        let secretError = ConfigurationError.invalidValue(variable: "JWT_SECRET_KEY", value: "hunter2", expected: "too short", secret: true)
        #expect(!secretError.description.contains("hunter2"))
        #expect(secretError.description.contains("JWT_SECRET_KEY"))
    }

    @Test func variablesTableIsConsistent() throws {
        let names = ServerConfiguration.variables.map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        for variable in ServerConfiguration.variables {
            #expect(!variable.help.isEmpty, "\(variable.name) has help")
        }
        #expect(ServerConfiguration.setting(named: "OVA_TLS_CERT")?.flagName == "tls-cert")
        #expect(ServerConfiguration.setting(named: "LOG_LEVEL")?.name == "OVA_LOG_LEVEL")
        #expect(ServerConfiguration.setting(named: "ENVIRONMENT")?.flagName == "environment")
        // Each documented default is what an empty environment yields.
        let defaults = try load()
        let summary = Dictionary(uniqueKeysWithValues: defaults.redactedSummary().map { ($0.key, $0.value) })
        #expect(summary["OVA_LISTEN"] == ServerConfiguration.variables.first { $0.name == "OVA_LISTEN" }?.default)
        #expect(summary["OVA_MAX_MESSAGE_BYTES"] == ServerConfiguration.variables.first { $0.name == "OVA_MAX_MESSAGE_BYTES" }?.default)
    }

    @Test func documentationListsEveryVariable() throws {
        let testFile = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = root.appendingPathComponent("docs/CONFIGURATION.md")
        let text = try #require(try? String(contentsOf: docs, encoding: .utf8), "missing \(docs.path)")
        for variable in ServerConfiguration.variables {
            #expect(text.contains("`\(variable.name)`"), "docs/CONFIGURATION.md does not document \(variable.name)")
            if !variable.default.isEmpty {
                #expect(text.contains("`\(variable.default)`"), "docs/CONFIGURATION.md lacks the default of \(variable.name)")
            }
        }
    }
}
