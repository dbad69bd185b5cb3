import ArgumentParser
import Foundation
import Logging
import OvaRPC
import OvaServer
import OvaServices

/// `ova-server admin ...`: account tasks run against the database directly, for when no
/// administrator can log in (the first superadmin, a forgotten password). They are audited
/// like the RPCs, with the actor `cli`.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage administrator accounts directly in the database.",
        discussion: "Each command is recorded in the audit log (admins.create, admins.reset_password) with the actor cli.",
        subcommands: [CreateAdmin.self, ResetAdminPassword.self]
    )
}

/// What the admin subcommands share: where the database is, the password on standard input,
/// and how a refused request is reported.
struct AdminAccountOptions: ParsableArguments {
    @Option(help: "The administrator's email address (the login name).")
    var email: String

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required).")
    var passwordFromStandardInput = false

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    func validate() throws {
        guard self.passwordFromStandardInput else {
            throw ValidationError("pass the password on standard input with --password-stdin")
        }
    }

    static let passwordHelp = """
        Reads the password from standard input (one line), so it never appears in the \
        process list or shell history. The password needs at least 10 characters with a letter \
        and a digit or symbol, must not contain the email's name part and must not be a common \
        password. Uses the same OVA_DATA_DIR / OVA_DB_PATH as the server (which may be running).
        """

    /// Loads the configuration, reads the password, opens the accounts, runs `body` and closes
    /// them; a refusal is printed with its status and turned into a sysexits code. `body`'s
    /// outcome is recorded in the audit log as `action` by the `cli` actor, its target being
    /// what `body` returns (the email tried when it fails).
    func withAccounts(
        audited action: AuditAction,
        _ body: (ServerConfiguration, AccountServices, String) async throws -> String
    ) async throws {
        var overrides: [String: String] = [:]
        overrides["OVA_DATA_DIR"] = self.dataDir
        let environment: ProcessEnvironment
        let configuration: ServerConfiguration
        do {
            // The same .env files as `serve`, so both use one database.
            environment = try ProcessEnvironment.resolve(overrides: overrides)
            configuration = try ServerConfiguration.load(environment: environment.environment, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("ova-server: configuration error: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var logger = Logger(label: "ova")
        logger.logLevel = .warning
        environment.log(to: logger)
        guard let password = readLine(strippingNewline: true), !password.isEmpty else {
            FileHandle.standardError.write(Data("ova-server: no password on standard input\n".utf8))
            throw ExitCode(64)
        }
        let accounts = try await AccountServices.open(configuration: configuration, logger: logger)
        let audit = CommandLineAudit(repository: accounts.store.audit, logger: logger)
        do {
            _ = try await audit.run(action, failedTarget: "email:\(self.email)", target: { $0 }) {
                try await body(configuration, accounts, password)
            }
            await accounts.close()
        } catch {
            await accounts.close()
            let error = RPCError.from(error)
            FileHandle.standardError.write(Data("ova-server: \(error.code.name): \(error.message)\n".utf8))
            switch error.code {
            case .alreadyExists: throw ExitCode(73)
            case .notFound: throw ExitCode(67)
            default: throw ExitCode(65)
            }
        }
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an administrator (a superadmin unless --no-superadmin).",
        discussion: """
            \(AdminAccountOptions.passwordHelp)

              printf '%s\\n' "$PASSWORD" | ova-server admin create --email ana@example.com --name "Ana" --password-stdin
            """
    )

    @OptionGroup var account: AdminAccountOptions

    @Option(help: "The administrator's display name (2-100 characters).")
    var name: String

    @Flag(inversion: .prefixedNo, help: "Create a superadmin (may manage administrators and read the audit log).")
    var superadmin = true

    func run() async throws {
        try await self.account.withAccounts(audited: .adminsCreate) { configuration, accounts, password in
            let admin = try await AdminsServiceHandler.createAdmin(
                name: self.name, email: self.account.email, password: password, superadmin: self.superadmin,
                authenticator: accounts.authenticator
            )
            print("created \(admin.superadmin ? "superadmin" : "administrator") \(admin.email) (id \(admin.id)) in \(configuration.storage.effectiveDatabasePath)")
            return "admin:\(admin.id)"
        }
    }
}

struct ResetAdminPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-password",
        abstract: "Set a new password for an administrator and end all of its sessions.",
        discussion: """
            \(AdminAccountOptions.passwordHelp) Tokens issued before the reset stop working \
            at once; an inactive account stays inactive.

              printf '%s\\n' "$NEW_PASSWORD" | ova-server admin reset-password --email ana@example.com --password-stdin
            """
    )

    @OptionGroup var account: AdminAccountOptions

    func run() async throws {
        try await self.account.withAccounts(audited: .adminsResetPassword) { configuration, accounts, password in
            let (admin, revoked) = try await AdminsServiceHandler.resetPassword(
                email: self.account.email, password: password, authenticator: accounts.authenticator
            )
            let inactive = admin.active ? "" : " (the account is inactive: a superadmin can reactivate it with Admins/SetAdminActive)"
            print("reset the password of \(admin.email) (id \(admin.id)) in \(configuration.storage.effectiveDatabasePath); ended \(revoked) session(s)\(inactive)")
            return "admin:\(admin.id)"
        }
    }
}
