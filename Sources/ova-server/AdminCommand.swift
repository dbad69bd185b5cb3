import ArgumentParser
import Foundation
import Logging
import OvaRPC
import OvaServer
import OvaServices

/// `ova-server admin ...`: account tasks run against the database directly, for when no
/// administrator can log in yet (the first superadmin).
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage administrator accounts directly in the database.",
        subcommands: [CreateAdmin.self]
    )
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an administrator (a superadmin unless --no-superadmin).",
        discussion: """
            Reads the password from standard input (one line), so it never appears in the \
            process list or shell history:

              printf '%s\\n' "$PASSWORD" | ova-server admin create --email ana@example.com --name "Ana" --password-stdin

            The password needs at least 10 characters with a letter and a digit or symbol, \
            must not contain the email's name part and must not be a common password. \
            Uses the same OVA_DATA_DIR / OVA_DB_PATH as the server.
            """
    )

    @Option(help: "The administrator's email address (the login name).")
    var email: String

    @Option(help: "The administrator's display name (2-100 characters).")
    var name: String

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required).")
    var passwordFromStandardInput = false

    @Flag(inversion: .prefixedNo, help: "Create a superadmin (may manage administrators and read the audit log).")
    var superadmin = true

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    func validate() throws {
        guard self.passwordFromStandardInput else {
            throw ValidationError("pass the password on standard input with --password-stdin")
        }
    }

    func run() async throws {
        var overrides: [String: String] = [:]
        overrides["OVA_DATA_DIR"] = self.dataDir
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.load(overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("ova-server: configuration error: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var logger = Logger(label: "ova")
        logger.logLevel = .warning
        guard let password = readLine(strippingNewline: true), !password.isEmpty else {
            FileHandle.standardError.write(Data("ova-server: no password on standard input\n".utf8))
            throw ExitCode(64)
        }
        let accounts = try await AccountServices.open(configuration: configuration, logger: logger)
        do {
            let admin = try await AdminsServiceHandler.createAdmin(
                name: self.name, email: self.email, password: password, superadmin: self.superadmin,
                authenticator: accounts.authenticator
            )
            print("created \(admin.superadmin ? "superadmin" : "administrator") \(admin.email) (id \(admin.id)) in \(configuration.effectiveDatabasePath)")
            await accounts.close()
        } catch {
            await accounts.close()
            let error = RPCError.from(error)
            FileHandle.standardError.write(Data("ova-server: \(error.code.name): \(error.message)\n".utf8))
            throw ExitCode(error.code == .alreadyExists ? 73 : 65)
        }
    }
}
