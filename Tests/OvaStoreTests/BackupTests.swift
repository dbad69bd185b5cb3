import Foundation
import Logging
import Testing

@testable import OvaStore

@Suite("Backup")
struct BackupTests {
    @Test("a backup taken while rows are being inserted is one consistent snapshot, and the server's writes go on")
    func backupUnderWrites() async throws {
        try await withSQLiteStore { store, path in
            let body = String(repeating: "Un mensaje de prueba con acentos: ñandú, café. ", count: 20)
            for index in 0..<200 {
                _ = try await store.messages.create(name: "Ana", email: "ana@example.com", subject: "seed \(index)", message: body)
            }
            let before = try await Self.messageCount(store)

            // Between any two backup steps, the writer commits at least one more row.
            let interleaving = Interleaving()
            let writer = Task {
                defer { interleaving.writerFinished() }
                var written = 0
                while !interleaving.stopRequested {
                    _ = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "live \(written)", message: body)
                    written += 1
                    interleaving.committed()
                }
                return written
            }
            let destination = Self.directory(of: path) + "/backup.sqlite3"
            var backup = SQLiteBackup(database: path, to: destination)
            backup.pagesPerStep = 1
            backup.onProgress = { progress in interleaving.stepTaken(progress) }
            let report: BackupReport
            do {
                report = try await backup.run()
            } catch {
                interleaving.stop()
                _ = try? await writer.value
                throw error
            }
            let after = try await Self.messageCount(store)
            interleaving.stop()
            let written = try await writer.value

            #expect(!interleaving.restarted, "the backup restarted from the first page after a write")
            #expect(report.steps > 10)
            #expect(interleaving.commitsSeenBetweenSteps >= report.steps - 1)
            #expect(after.count >= before.count + Int64(report.steps - 1))
            #expect(written >= report.steps - 1)
            #expect(report.bytes == Int64(report.pages * report.pageSize))
            #expect(try Self.leftovers(beside: destination).isEmpty)

            let copy = try SQLiteConnection(existing: destination)
            #expect(try copy.query("PRAGMA integrity_check").map { $0.string(0) } == ["ok"])
            let copied = try #require(try copy.query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM contact_messages").first)
            #expect(copied.int64(0) >= before.count && copied.int64(0) <= after.count)
            // One snapshot: ids 1...n with no hole, as the writer committed them in order.
            #expect(copied.int64(1) == copied.int64(0))
            #expect(try Self.mode(destination) == 0o600)

            // The copy is a database the store opens (migrations and all) with the data.
            let reopened = try await Store.open(.file(destination), logger: Logger(label: "test"))
            #expect(try await reopened.messages.get(id: 1).subject == "seed 0")
            let last = try await reopened.messages.get(id: copied.int64(1))
            #expect(last.message == body)
            await reopened.database.close()
        }
    }

    @Test("restoring a backup as documented gives a working database with the data as it was at the backup")
    func restore() async throws {
        try await withSQLiteStore { store, path in
            let admin = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "$2b$12$x", superadmin: true)
            let kept = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "Hola", message: "¿Qué tal? 🎉")
            let destination = Self.directory(of: path) + "/backup.sqlite3"
            let report = try await SQLiteBackup(database: path, to: destination).run()
            #expect(report.path == destination)
            #expect(report.pages > 0)

            // Written after the backup: gone once it is restored. The store is closed as a
            // stopped server's would be, but its connection (and WAL) stays: the restore must
            // not depend on a clean shutdown.
            let later = try await store.messages.create(name: "Eva", email: "eva@example.com", subject: "Después", message: "x")
            await store.database.close()

            // docs/OPERATIONS.md: stop the server, move the database and its -wal and -shm
            // aside, copy the backup to the database's path with mode 0600, start the server.
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: path + suffix + ".old")
            }
            try FileManager.default.copyItem(atPath: destination, toPath: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            let restored = try await Store.open(.file(path), logger: Logger(label: "test"))
            #expect(try await restored.admins.get(id: admin.id) == admin)
            #expect(try await restored.messages.get(id: kept.id) == kept)
            await #expect(throws: StoreError.notFound) { _ = try await restored.messages.get(id: later.id) }
            let next = try await restored.messages.create(name: "Eva", email: "eva@example.com", subject: "Otra vez", message: "y")
            #expect(try await restored.messages.get(id: next.id) == next)
            await restored.database.close()
        }
    }

    @Test("an existing file is kept unless replacing is asked for; then it is replaced whole, 0600")
    func existingDestination() async throws {
        try await withSQLiteStore { store, path in
            _ = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "Hola", message: "x")
            let destination = Self.directory(of: path) + "/backup.sqlite3"
            #expect(FileManager.default.createFile(atPath: destination, contents: Data("an earlier backup".utf8)))
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: destination)

            await #expect(throws: BackupError.destinationExists(destination)) {
                _ = try await SQLiteBackup(database: path, to: destination).run()
            }
            #expect(FileManager.default.contents(atPath: destination) == Data("an earlier backup".utf8))
            #expect(try Self.mode(destination) == 0o644)
            #expect(try Self.leftovers(beside: destination).isEmpty)

            var replacing = SQLiteBackup(database: path, to: destination)
            replacing.replaceExisting = true
            let report = try await replacing.run()
            #expect(try Self.mode(destination) == 0o600)
            #expect(try Self.fileSize(destination) == report.bytes)
            #expect(try Self.leftovers(beside: destination).isEmpty)
            let copy = try SQLiteConnection(existing: destination)
            #expect(try copy.query("SELECT subject FROM contact_messages").map { $0.string(0) } == ["Hola"])
        }
    }

    @Test("the database itself is never the destination, even when replacing")
    func databaseAsDestination() async throws {
        try await withSQLiteStore { store, path in
            _ = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "Hola", message: "x")
            var backup = SQLiteBackup(database: path, to: path)
            backup.replaceExisting = true
            await #expect(throws: BackupError.destinationIsDatabase(path)) { _ = try await backup.run() }
            // Another name for the same file is the same file.
            let alias = Self.directory(of: path) + "/alias.sqlite3"
            try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: path)
            backup.destinationPath = alias
            await #expect(throws: BackupError.destinationIsDatabase(alias)) { _ = try await backup.run() }
            #expect(try await store.messages.get(id: 1).subject == "Hola")
        }
    }

    @Test("a missing database is a clear error and creates neither the database nor the backup")
    func missingDatabase() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/ova.sqlite3"
        let destination = directory + "/backup.sqlite3"
        await #expect(throws: BackupError.databaseMissing(database)) {
            _ = try await SQLiteBackup(database: database, to: destination).run()
        }
        #expect(BackupError.databaseMissing(database).description == "there is no database at \(database)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("a file that is not a database fails and leaves nothing behind")
    func notADatabase() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/ova.sqlite3"
        #expect(FileManager.default.createFile(atPath: database, contents: Data(String(repeating: "not sqlite ", count: 500).utf8)))
        let destination = directory + "/backup.sqlite3"
        do {
            _ = try await SQLiteBackup(database: database, to: destination).run()
            Issue.record("backed up a file that is not a database")
        } catch {
            guard case .failed(let message) = error else {
                Issue.record("expected .failed, got \(error)")
                return
            }
            #expect(message.contains("file is not a database"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["ova.sqlite3"])
    }

    @Test("a copy that fails PRAGMA integrity_check is not installed")
    func integrityCheckFailure() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/ova.sqlite3"
        do {
            // An index that no longer matches its table: every page reads, but the check fails.
            let connection = try SQLiteConnection(path: database)
            try connection.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
            try connection.execute("CREATE INDEX t_a ON t (a)")
            for value in 0..<50 {
                try connection.run("INSERT INTO t (a, b) VALUES (?, ?)", [.integer(Int64(value)), .integer(Int64(1000 + value))])
            }
            try connection.execute("PRAGMA writable_schema = ON")
            try connection.run("UPDATE sqlite_master SET sql = 'CREATE INDEX t_a ON t (b)' WHERE name = 't_a'")
        }
        let destination = directory + "/backup.sqlite3"
        do {
            _ = try await SQLiteBackup(database: database, to: destination).run()
            Issue.record("installed a copy of a damaged database")
        } catch {
            guard case .integrityCheckFailed(let findings) = error else {
                Issue.record("expected .integrityCheckFailed, got \(error)")
                return
            }
            #expect(!findings.isEmpty && findings.count <= 5)
            #expect(findings.contains { $0.contains("t_a") })
        }
        #expect(!FileManager.default.fileExists(atPath: destination))
        #expect(try Self.leftovers(beside: destination).isEmpty)
    }

    // MARK: - Helpers

    private static func messageCount(_ store: Store) async throws -> (count: Int64, maxID: Int64) {
        let row = try await store.database.read { connection throws(StoreError) in
            try connection.query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM contact_messages").first
        }
        return (row?.int64(0) ?? -1, row?.int64(1) ?? -1)
    }

    private static func directory(of path: String) -> String {
        (path as NSString).deletingLastPathComponent
    }

    private static func temporaryDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    private static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    private static func fileSize(_ path: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.int64Value ?? -1
    }

    /// Temporary files of a backup to `destination` still in its directory.
    private static func leftovers(beside destination: String) throws -> [String] {
        let name = (destination as NSString).lastPathComponent
        return try FileManager.default.contentsOfDirectory(atPath: directory(of: destination))
            .filter { $0.hasPrefix("." + name + ".tmp-") || $0.hasPrefix(name + "-") }
    }
}

/// Makes a writer task and the backup's steps take turns: each step waits (on the backup's own
/// thread) until the writer has committed another row since the previous step.
///
/// `@unchecked Sendable`: every property is read and written under `condition`.
private final class Interleaving: @unchecked Sendable {
    private let condition = NSCondition()
    private var commits = 0
    private var commitsAtLastStep = 0
    private var finished = false
    private var stopping = false
    private var lastCopiedPages = 0
    private var _restarted = false
    private var _commitsSeenBetweenSteps = 0

    private func locked<T>(_ body: () -> T) -> T {
        self.condition.lock()
        defer { self.condition.unlock() }
        return body()
    }

    var stopRequested: Bool { self.locked { self.stopping } }
    var restarted: Bool { self.locked { self._restarted } }
    var commitsSeenBetweenSteps: Int { self.locked { self._commitsSeenBetweenSteps } }

    func committed() {
        self.locked {
            self.commits += 1
            self.condition.broadcast()
        }
    }

    func writerFinished() {
        self.locked {
            self.finished = true
            self.condition.broadcast()
        }
    }

    func stop() {
        self.locked {
            self.stopping = true
            self.condition.broadcast()
        }
    }

    /// After a backup step: notes a restart (fewer pages copied than before), which stops the
    /// writer so the backup can end; otherwise waits for the writer's next commit.
    func stepTaken(_ progress: BackupProgress) {
        self.condition.lock()
        defer { self.condition.unlock() }
        if progress.copiedPages < self.lastCopiedPages {
            self._restarted = true
            self.stopping = true
        }
        self.lastCopiedPages = progress.copiedPages
        while self.commits == self.commitsAtLastStep, !self.finished, !self.stopping {
            self.condition.wait()
        }
        if self.commits > self.commitsAtLastStep {
            self._commitsSeenBetweenSteps += 1
        }
        self.commitsAtLastStep = self.commits
    }
}
