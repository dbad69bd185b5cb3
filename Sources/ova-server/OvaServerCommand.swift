import ArgumentParser
import Foundation
import Logging
import OvaServer

/// `ova-server`: runs the OVA RPC server.
@main
struct OvaServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ova-server",
        abstract: "The OVA binary RPC server (TLS, default 127.0.0.1:7443).",
        discussion: """
            With no configuration it runs in development mode: data in ./data, a generated \
            self-signed certificate (its path and SHA-256 fingerprint are logged). Every flag \
            has an environment variable of the same meaning; flags win. Variables may also come \
            from ./.env and the file named by OVA_ENV_FILE; real environment variables win over both.

            Environment variables:
            \(ServerConfiguration.variables.map { "  \($0.name) (default: \($0.default.isEmpty ? "unset" : $0.default))\n      \($0.help)" }.joined(separator: "\n"))
            """,
        version: OvaVersion.current,
        subcommands: [Serve.self, AdminCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// `ova-server serve` (the default): start serving until SIGINT/SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server (the default command).")

    @Option(help: ArgumentHelp("Listen address host:port (OVA_LISTEN).", valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain (OVA_TLS_CERT).", valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key (OVA_TLS_KEY).", valueName: "file"))
    var tlsKey: String?

    @Option(name: .customLong("tls-client-ca"), help: ArgumentHelp("PEM CA for client certificates: enables mutual TLS (OVA_TLS_CLIENT_CA).", valueName: "file"))
    var tlsClientCA: String?

    @Option(help: ArgumentHelp("development or production (ENVIRONMENT).", valueName: "name"))
    var environment: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error, critical (OVA_LOG_LEVEL).", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("text or json (OVA_LOG_FORMAT).", valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("threads"), help: ArgumentHelp("Event-loop threads (OVA_THREADS).", valueName: "n"))
    var threads: String?

    func run() async throws {
        var overrides: [String: String] = [:]
        overrides["OVA_LISTEN"] = self.listen
        overrides["OVA_DATA_DIR"] = self.dataDir
        overrides["OVA_TLS_CERT"] = self.tlsCert
        overrides["OVA_TLS_KEY"] = self.tlsKey
        overrides["OVA_TLS_CLIENT_CA"] = self.tlsClientCA
        overrides["ENVIRONMENT"] = self.environment
        overrides["OVA_LOG_LEVEL"] = self.logLevel
        overrides["OVA_LOG_FORMAT"] = self.logFormat
        overrides["OVA_THREADS"] = self.threads

        let environment: ProcessEnvironment
        let configuration: ServerConfiguration
        do {
            environment = try ProcessEnvironment.resolve()
            configuration = try ServerConfiguration.load(environment: environment.environment, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("ova-server: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        OvaLogging.bootstrap(configuration: configuration)
        let logger = Logger(label: "ova")
        environment.log(to: logger)
        for warning in configuration.warnings {
            logger.warning("\(warning)")
        }
        do {
            try await OvaServerApp.run(configuration: configuration, logger: logger)
        } catch {
            logger.critical("ova-server failed to start: \(error)")
            throw ExitCode(1)
        }
    }
}
