import ArgumentParser
import Foundation
import Logging
import OvaServer
import OvaServices
import OvaStore

/// `ova-server import ...`: brings another system's data into OVA's database.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import data from another system into OVA's database.",
        subcommands: [ImportOvaWeb.self]
    )
}

/// `ova-server import ova-web --from mysql://user@host:port/db`: the original backend's
/// administrators, contact messages and subscribers. The rules are ``OvaWebImport``'s; this
/// reads the arguments, the source and the server's configuration, and reports.
struct ImportOvaWeb: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ova-web",
        abstract: "Import the original OVA Web backend's MySQL/MariaDB database (read-only).",
        discussion: """
            Reads administradores, contactos and usuarios from the OVA Web database and writes \
            them into OVA's database (the same OVA_DATA_DIR / OVA_DB_PATH and .env files as the \
            server, which may be running), in one transaction: all or nothing.

            Administrators keep their password hashes as they are: bcrypt ($2b$) logs in at once; \
            the oldest salt:hexhash (SHA-256) logs in too and is replaced by bcrypt at that first \
            login. Flags (es_superadmin, activo, leido, respondido) and times come along; \
            OVA Web's DATETIME values have no time zone and are read as UTC. Sessions \
            (sesiones_admin) are counted, not imported: administrators log in again.

            Rows OVA's own checks would refuse (an invalid email, a name or text too short or \
            too long, an unusable password hash) are listed by table and id and skipped. Each \
            source row is imported once: running the command again imports only rows that are \
            new in the source, and administrators and subscribers whose email OVA already has \
            are left as they are. Every run that writes is recorded in the audit log as \
            import.ova_web (actor cli) with the counts.

            The source password never goes on the command line: pipe it with --password-stdin \
            or name a file with --password-file (none: an empty password).

              printf '%s\\n' "$OVA_WEB_DB_PASSWORD" | ova-server import ova-web --from mysql://ova@db.example.com:3306/ova --password-stdin --dry-run
              ova-server import ova-web --from 'mysql://ova@/ova?socket=/run/mysqld/mysqld.sock' --password-file /root/ova-web.pw

            Exit status: 0 done (also when nothing was new), 64 bad arguments, 65 not an OVA \
            Web database (a table or column missing), 66 no such database or password file, \
            69 the source server cannot be reached, 74 OVA's database refused the write (nothing \
            written), 77 access denied by the source, 78 OVA's configuration is invalid. \
            docs/OPERATIONS.md, "Moving from OVA Web", has the whole mapping.
            """
    )

    @Option(
        name: .customLong("from"),
        help: ArgumentHelp(
            "The OVA Web database: mysql://user@host[:port]/database (port 3306 by default), or mysql://user@/database?socket=/path.",
            valueName: "url"
        )
    )
    var source: String

    @Flag(name: .customLong("password-stdin"), help: "Read the source database's password from standard input (one line).")
    var passwordFromStandardInput = false

    @Option(
        name: .customLong("password-file"),
        help: ArgumentHelp("Read the source database's password from this file (one trailing newline is dropped).", valueName: "file")
    )
    var passwordFile: String?

    @Flag(name: .customLong("dry-run"), help: "Read and check everything, print the counts, write nothing.")
    var dryRun = false

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    func validate() throws {
        if self.passwordFromStandardInput, self.passwordFile != nil {
            throw ValidationError("pass the password with --password-stdin or --password-file, not both")
        }
        do {
            _ = try SourceURL(self.source)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let sourceURL: SourceURL
        do {
            sourceURL = try SourceURL(self.source)
        } catch {
            throw ValidationError("\(error)")
        }
        let password = try self.readPassword()
        let sourceConfiguration = sourceURL.configuration(password: password)

        var overrides: [String: String] = [:]
        overrides["OVA_DATA_DIR"] = self.dataDir
        let environment: ProcessEnvironment
        let configuration: ServerConfiguration
        do {
            // The same .env files as `serve`, so both use one database.
            environment = try ProcessEnvironment.resolve(overrides: overrides)
            configuration = try ServerConfiguration.load(environment: environment.environment, overrides: overrides)
        } catch {
            Self.fail("configuration error: \(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        var logger = Logger(label: "ova")
        logger.logLevel = .warning
        environment.log(to: logger)

        // The source first: a source that cannot be read leaves OVA's database untouched.
        let snapshot: OvaWebSnapshot
        do throws(OvaWebSourceError) {
            snapshot = try await OvaWebSource.read(sourceConfiguration)
        } catch {
            let (message, code) = Self.explain(error, source: sourceConfiguration)
            Self.fail(message)
            throw ExitCode(code)
        }
        var tables = [
            "\(snapshot.administrators.count) administradores", "\(snapshot.messages.count) contactos",
        ]
        if !snapshot.absentTables.contains("usuarios") { tables.append("\(snapshot.subscribers.count) usuarios") }
        if let sessions = snapshot.sessionCount { tables.append("\(sessions) sesiones_admin") }
        print("read \(sourceConfiguration): \(tables.joined(separator: ", "))")

        let accounts = try await AccountServices.open(configuration: configuration, logger: logger)
        let report: OvaWebImport.Report
        do {
            report = try await OvaWebImport.run(
                snapshot, into: accounts.store, dryRun: self.dryRun, source: sourceConfiguration.description,
                audit: CommandLineAudit(repository: accounts.store.audit, logger: logger)
            )
            await accounts.close()
        } catch {
            await accounts.close()
            Self.fail("the import failed and wrote nothing: \(error)")
            throw ExitCode(74)  // EX_IOERR
        }
        Self.show(report)
    }

    /// The counts, the skipped rows and what the run did.
    static func show(_ report: OvaWebImport.Report) {
        for line in report.summaryLines {
            Swift.print(line)
        }
        for row in report.skipped {
            Swift.print("skipped \(row)")
        }
        for line in report.matchLines {
            Swift.print("note: \(line)")
        }
        if (report.sessionCount ?? 0) > 0 {
            Swift.print("note: \(OvaWebImport.Report.sessionsReason)")
        }
        if report.dryRun {
            Swift.print("dry run: nothing was written")
        } else if report.newRows == 0 {
            Swift.print("nothing new to import (recorded in the audit log as import.ova_web)")
        } else {
            Swift.print("imported \(report.newRows) rows (recorded in the audit log as import.ova_web)")
        }
    }

    /// The source's password: standard input's first line, a file's content, or empty.
    private func readPassword() throws -> String {
        if self.passwordFromStandardInput {
            guard let line = readLine(strippingNewline: true) else {
                Self.fail("no password on standard input")
                throw ExitCode(64)  // EX_USAGE
            }
            return line
        }
        if let path = self.passwordFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                Self.fail("cannot read the password file \(path)")
                throw ExitCode(66)  // EX_NOINPUT
            }
            var text = String(decoding: data, as: UTF8.self)
            if text.hasSuffix("\r\n") {
                text.removeLast(2)
            } else if text.hasSuffix("\n") {
                text.removeLast()
            }
            return text
        }
        return ""
    }

    /// The line and the sysexits code for a source that could not be read.
    static func explain(_ error: OvaWebSourceError, source: MariaDBConfiguration) -> (String, Int32) {
        switch error {
        case .connection(let cause):
            switch cause.code {
            case 1044:
                // ER_DBACCESS_DENIED_ERROR: also what a server answers for a database the account
                // may not see, so it may not exist either.
                return ("\(cause.message) (check the database name in --from, and that the user may SELECT from it)", 77)  // EX_NOPERM
            case 1045, 1698:
                // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
                return ("\(cause.message) (check the user in --from and the password from --password-stdin or --password-file)", 77)  // EX_NOPERM
            case 1049:
                return ("\(cause.message) (check the database name in --from)", 66)  // EX_NOINPUT
            default:
                return ("\(cause.message) (is the OVA Web database server running and reachable at \(source.endpoint)?)", 69)  // EX_UNAVAILABLE
            }
        case .missingTable, .missingColumn:
            return ("\(source): \(error)", 65)  // EX_DATAERR
        case .read(let cause):
            return ("\(error)", cause.isConnectionLost ? 69 : 65)
        }
    }

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data("ova-server: \(message)\n".utf8))
    }
}

/// `--from`: `mysql://user@host[:port]/database` or `mysql://user@/database?socket=/path`
/// (`mariadb://` too). A password in it is refused: it would show in the process list and the
/// shell's history.
struct SourceURL: Equatable {
    var endpoint: MariaDBConfiguration.Endpoint
    var user: String
    var database: String

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(_ text: String) throws(Invalid) {
        let example = "e.g. mysql://ova@db.example.com:3306/ova"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "mysql" || scheme == "mariadb"
        else {
            throw Invalid(description: "--from must be a mysql:// URL, \(example)")
        }
        if components.password != nil {
            throw Invalid(description: """
                --from must not contain the password (it would show in the process list and the shell history): \
                remove it and pass it with --password-stdin or --password-file
                """)
        }
        guard let user = components.user, !user.isEmpty else {
            throw Invalid(description: "--from must name the user, \(example)")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "--from must name the database after the host, \(example)")
        }
        let query = components.queryItems ?? []
        if let unknown = query.first(where: { $0.name != "socket" }) {
            throw Invalid(description: "--from: unknown parameter \(unknown.name) (only socket=/path is understood)")
        }
        if let socket = query.first(where: { $0.name == "socket" }) {
            guard let path = socket.value, path.hasPrefix("/") else {
                throw Invalid(description: "--from: socket= needs an absolute path")
            }
            guard (components.host ?? "").isEmpty || components.host == "localhost", components.port == nil else {
                throw Invalid(description: "--from: with socket= leave the host and port out (mysql://user@/database?socket=/path)")
            }
            self.endpoint = .unixSocket(path: path)
        } else {
            var host = components.host ?? ""
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else {
                throw Invalid(description: "--from must name the host (or socket=/path), \(example)")
            }
            let port = components.port ?? 3306
            guard (1...65_535).contains(port) else {
                throw Invalid(description: "--from: port \(port) is out of range")
            }
            self.endpoint = .tcp(host: host, port: port)
        }
        self.user = user
        self.database = database
    }

    func configuration(password: String) -> MariaDBConfiguration {
        MariaDBConfiguration(endpoint: self.endpoint, user: self.user, password: password, database: self.database)
    }
}
