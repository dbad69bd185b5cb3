import Foundation
import OvaTestServer
import Testing

/// `ova-server` as an operator runs it: `migrate`, and a start that cannot use its database.
@Suite("ova-server commands")
struct ServerCommandTests {
    @Test("migrate --status on a new data directory creates nothing; migrate applies; --status then lists every migration applied")
    func migrate() async throws {
        let server = try OvaProcess(program: "ova-server")
        defer { server.remove() }
        let data = server.directory.appendingPathComponent("data").path
        let before = try await server.run(["migrate", "--status", "--data-dir", data])
        #expect(before.status == 0, "\(before.standardError)")
        #expect(before.standardOutput.contains("no database yet"), "\(before.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: data))

        let applied = try await server.run(["migrate", "--data-dir", data])
        #expect(applied.status == 0, "\(applied.standardError)")
        #expect(applied.standardOutput.hasPrefix("applied 1: "), "\(applied.standardOutput)")
        let status = try await server.run(["migrate", "--status", "--data-dir", data])
        #expect(status.status == 0)
        let lines = status.standardOutput.split(separator: "\n")
        #expect(lines.first?.contains("(sqlite 3.") == true, "\(status.standardOutput)")
        #expect(lines.filter { $0.contains(" applied ") }.count >= 3, "\(status.standardOutput)")
        #expect(lines.last == "the schema is current")
        let again = try await server.run(["migrate", "--data-dir", data])
        #expect(again.standardOutput.hasSuffix("the schema is current\n"), "\(again.standardOutput)")
    }

    @Test("a DB_* setting without DB_HOST exits 78; a MariaDB that refuses the login exits 69 naming the settings, with no SQLite file made")
    func databaseSettings() async throws {
        let server = try OvaProcess(program: "ova-server")
        defer { server.remove() }
        let data = server.directory.appendingPathComponent("data").path
        let alone = try await server.run(["--listen", "127.0.0.1:0", "--data-dir", data], environment: ["DB_USER": "ova"])
        #expect(alone.status == 78)
        #expect(alone.standardError.contains("DB_USER is set but DB_HOST is not"), "\(alone.standardError)")

        try await withMariaDB { database in
            var settings = database.settings
            settings["DB_PASSWORD"] = "wrong-\(UUID().uuidString)"
            let refused = try await server.run(["--listen", "127.0.0.1:0", "--data-dir", data], environment: settings)
            #expect(refused.status == 69)
            let output = refused.standardOutput + refused.standardError
            #expect(output.contains("cannot use the MariaDB database"), "\(output)")
            #expect(output.contains("check DB_USER and DB_PASSWORD"), "\(output)")
            #expect(!output.contains(settings["DB_PASSWORD"] ?? "-"))
        }
        #expect(!FileManager.default.fileExists(atPath: data + "/ova.sqlite3"))
    }

    @Test("the DB_* lines in .env select MariaDB: migrate creates the schema there and --status shows the server")
    func dotEnvSelectsMariaDB() async throws {
        let server = try OvaProcess(program: "ova-server")
        defer { server.remove() }
        try await withMariaDB { database in
            let lines = database.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: server.directory.appendingPathComponent(".env"))
            let applied = try await server.run(["migrate"], workingDirectory: server.directory)
            #expect(applied.status == 0, "\(applied.standardError)")
            #expect(applied.standardOutput.contains("'\(database.server.user)'@127.0.0.1:\(database.server.port)/\(database.name)"), "\(applied.standardOutput)")
            let status = try await server.run(["migrate", "--status"], workingDirectory: server.directory)
            #expect(status.standardOutput.contains("(mariadb "), "\(status.standardOutput)")
            #expect(status.standardOutput.hasSuffix("the schema is current\n"), "\(status.standardOutput)")
            #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("data").path))
        }
    }
}
