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
            self-signed certificate (its path and SHA-256 fingerprint are logged). Every setting \
            is an environment variable (also read from a .env file) and, except secrets, a flag \
            of the same meaning (OVA_LISTEN is --listen); flags win. `ova-server serve --help` \
            lists every setting with its default; docs/CONFIGURATION.md explains them.
            """,
        version: OvaVersion.current,
        subcommands: [Serve.self, AdminCommand.self, BackupCommand.self, MigrateCommand.self, ImportCommand.self, ConfigCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// `ova-server serve` (the default): start serving until SIGINT/SIGTERM.
///
/// Its flags are not declared here one by one: every setting in
/// ``ServerConfiguration/settings`` is accepted as `--flag-name value`, and the help text
/// below is generated from the same table.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the server (the default command).",
        discussion: ServerConfiguration.commandLineHelp()
    )

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Settings, as --name value or --name=value (listed above).", valueName: "--setting value")
    )
    var settings: [String] = []

    func run() async throws {
        let overrides: [String: String]
        do {
            overrides = try ServerConfiguration.overrides(fromFlags: self.settings)
        } catch {
            throw ValidationError("\(error)")
        }

        let environment: ProcessEnvironment
        let configuration: ServerConfiguration
        do {
            environment = try ProcessEnvironment.resolve(overrides: overrides)
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
        } catch let error as DatabaseStartupError {
            logger.critical("ova-server failed to start: \(error)")
            throw ExitCode(69)  // EX_UNAVAILABLE
        } catch {
            logger.critical("ova-server failed to start: \(error)")
            throw ExitCode(1)
        }
    }
}
