import Foundation
import OvaMariaDBServer
import Testing

@testable import OvaStore

/// The built `ova-server` run as an operator runs it, in a data directory of its own, with no
/// OVA_* variables inherited from whoever runs the tests.
struct ServerCommand {
    struct Result: Sendable {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// `ova-server` next to the test bundle: `swift build --build-tests` builds every product
    /// into the same directory.
    static let executable: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("ova-server")

    let directory: URL

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-import-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    var dataDirectory: URL { self.directory.appendingPathComponent("data") }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs `ova-server arguments` to the end with `input` on standard input; waits through the
    /// termination handler, so no cooperative thread blocks.
    func run(_ arguments: [String], input: String = "") async throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path), "build ova-server first: swift build --build-tests")
        let id = UUID().uuidString
        let files = ["in", "out", "err"].map { self.directory.appendingPathComponent("\(id).\($0)") }
        try Data(input.utf8).write(to: files[0])
        try Data().write(to: files[1])
        try Data().write(to: files[2])
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        // The directory as the working directory: a stray .env of the checkout is not read.
        process.currentDirectoryURL = self.directory
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OVA_") && !$0.key.hasPrefix("DB_") }
            .merging(["OVA_DATA_DIR": self.dataDirectory.path]) { $1 }
        process.standardInput = try FileHandle(forReadingFrom: files[0])
        process.standardOutput = try FileHandle(forWritingTo: files[1])
        process.standardError = try FileHandle(forWritingTo: files[2])
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return Result(
            status: status,
            standardOutput: (try? String(contentsOf: files[1], encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: files[2], encoding: .utf8)) ?? ""
        )
    }
}

extension MariaDBConfiguration {
    /// `mysql://user@127.0.0.1:port/database`, the password left out as the command requires.
    var url: String {
        guard case .tcp(let host, let port) = self.endpoint else { return "" }
        return "mysql://\(self.user)@\(host):\(port)/\(self.database)"
    }
}

@Suite("ova-server import ova-web", .timeLimit(.minutes(3)))
struct ImportCommandTests {
    @Test("dry run, import, import again: counts per table, exit 0, and only the real runs write")
    func importsTwice() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            let command = try ServerCommand()
            defer { command.remove() }
            let password = database.server.password + "\n"
            let source = ["import", "ova-web", "--from", fixture.configuration.url, "--password-stdin"]

            let dry = try await command.run(source + ["--dry-run"], input: password)
            #expect(dry.status == 0, "\(dry.standardError)")
            #expect(dry.standardOutput.contains("administradores: 3 new, 0 already imported, 2 skipped"))
            #expect(dry.standardOutput.contains("sesiones_admin: 2 not imported"))
            #expect(dry.standardOutput.contains("dry run: nothing was written"))

            let first = try await command.run(source, input: password)
            #expect(first.status == 0, "\(first.standardError)")
            #expect(first.standardOutput.contains("contactos: 2 new, 0 already imported, 1 skipped"))
            #expect(first.standardOutput.contains("skipped administradores id 4: email must be a valid email address"))
            #expect(first.standardOutput.contains("imported 7 rows"))
            // No personal data of a skipped row in the report.
            #expect(!first.standardOutput.contains("no-es-un-correo"))

            // Also from a password file.
            let passwordFile = command.directory.appendingPathComponent("source-password")
            try Data(password.utf8).write(to: passwordFile)
            let second = try await command.run(["import", "ova-web", "--from", fixture.configuration.url, "--password-file", passwordFile.path])
            #expect(second.status == 0, "\(second.standardError)")
            #expect(second.standardOutput.contains("administradores: 0 new, 3 already imported, 2 skipped"))
            #expect(second.standardOutput.contains("usuarios: 0 new, 2 already imported, 1 skipped"))
            #expect(second.standardOutput.contains("nothing new to import"))

            let store = try await Store.open(.file(command.dataDirectory.appendingPathComponent("ova.sqlite3").path), logger: .init(label: "test"))
            let events = try await store.audit.list(AuditFilter(action: "import.ova_web"), page: firstPage).items
            let admins = try await store.admins.count()
            await store.database.close()
            #expect(events.count == 2)
            #expect(events.allSatisfy { $0.actor == "cli" && $0.outcome == "OK" })
            #expect(admins == 3)
        }
    }

    @Test("refusals: a password in the URL (64), a wrong password (77), not an OVA Web database (65), nothing listening (69)")
    func refusals() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database, rows: false)
            let command = try ServerCommand()
            defer { command.remove() }
            guard case .tcp(let host, let port) = fixture.configuration.endpoint else { return }

            let inURL = try await command.run([
                "import", "ova-web", "--from", "mysql://\(database.server.user):secret-in-url@\(host):\(port)/\(database.name)",
            ])
            #expect(inURL.status == 64)
            #expect(inURL.standardError.contains("must not contain the password"))

            let wrong = try await command.run(["import", "ova-web", "--from", fixture.configuration.url, "--password-stdin"], input: "wrong\n")
            #expect(wrong.status == 77)
            #expect(wrong.standardError.contains("Access denied"))
            #expect(wrong.standardError.split(separator: "\n").count == 1)

            try await fixture.run([("DROP TABLE contactos", [])])
            let notOvaWeb = try await command.run(
                ["import", "ova-web", "--from", fixture.configuration.url, "--password-stdin"], input: database.server.password + "\n"
            )
            #expect(notOvaWeb.status == 65)
            #expect(notOvaWeb.standardError.contains("no table `contactos`"))

            // Port 1 of the loopback: nothing listens there.
            let nothing = try await command.run(["import", "ova-web", "--from", "mysql://ova@127.0.0.1:1/ova"])
            #expect(nothing.status == 69)
            #expect(nothing.standardError.split(separator: "\n").count == 1)

            // None of the failed runs touched OVA's database.
            #expect(!FileManager.default.fileExists(atPath: command.dataDirectory.appendingPathComponent("ova.sqlite3").path))
        }
    }
}
