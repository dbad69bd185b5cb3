import Dispatch
import Foundation
import Synchronization
import Testing

@testable import OvaStore

/// A fresh SQLite backend on a file in a temporary directory, closed and removed afterwards.
private func withBackend<T>(_ body: (SQLiteBackend) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-group-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let backend = try await SQLiteBackend.open(path: directory.appendingPathComponent("ova.sqlite3").path)
    do {
        let result = try await body(backend)
        await backend.close()
        return result
    } catch {
        await backend.close()
        throw error
    }
}

/// Runs `queue` while the storage thread is held by a read, then lets the thread go: whatever
/// `queue` enqueued meanwhile is waiting together when the thread gets to it, so the writes
/// form one group with no timing involved.
private func withStorageThreadHeld(_ backend: SQLiteBackend, _ queue: () -> Void) async throws {
    let gate = DispatchSemaphore(value: 0)
    let (started, running) = AsyncStream.makeStream(of: Void.self)
    let held = Task {
        try await backend.withConnection { _ throws(StoreError) in
            running.yield()
            gate.wait()
        }
    }
    // Once the read says it runs, it holds the thread until the gate opens.
    for await _ in started { break }
    queue()
    gate.signal()
    try await held.value
}

/// Collects the answers of writes queued with ``SQLiteBackend/enqueueWrite(_:answer:)``.
private final class Answers<T: Sendable>: Sendable {
    private let stream: AsyncStream<(Int, Result<T, StoreError>)>
    private let continuation: AsyncStream<(Int, Result<T, StoreError>)>.Continuation

    init() {
        (self.stream, self.continuation) = AsyncStream.makeStream()
    }

    func answer(_ index: Int) -> @Sendable (Result<T, StoreError>) -> Void {
        { [continuation] result in continuation.yield((index, result)) }
    }

    /// The first `count` answers, by the index they were queued with.
    func collect(_ count: Int) async -> [Int: Result<T, StoreError>] {
        var results: [Int: Result<T, StoreError>] = [:]
        for await (index, result) in self.stream {
            results[index] = result
            if results.count == count { break }
        }
        return results
    }
}

private func names(_ backend: SQLiteBackend, table: String) async throws -> [String] {
    try await backend.withConnection { connection throws(StoreError) in
        try connection.query("SELECT name FROM \(table) ORDER BY name").map { $0.string(0) }
    }
}

@Suite("SQLite group commit")
struct GroupCommitTests {
    @Test("a write that throws in a group is rolled back alone; the others commit")
    func failingWriteRollsBackAlone() async throws {
        try await withBackend { backend in
            try await backend.write { connection throws(StoreError) in
                try connection.execute("CREATE TABLE names (name TEXT NOT NULL UNIQUE)")
            }
            let answers = Answers<Int64>()
            try await withStorageThreadHeld(backend) {
                backend.enqueueWrite({ connection throws(StoreError) in
                    try connection.run("INSERT INTO names (name) VALUES ('alice')")
                    return connection.lastInsertedID
                }, answer: answers.answer(0))
                backend.enqueueWrite({ connection throws(StoreError) in
                    // Its first row must go with it when the second one fails.
                    try connection.run("INSERT INTO names (name) VALUES ('bob')")
                    try connection.run("INSERT INTO names (name) VALUES ('alice')")
                    return connection.lastInsertedID
                }, answer: answers.answer(1))
                backend.enqueueWrite({ connection throws(StoreError) in
                    try connection.run("INSERT INTO names (name) VALUES ('carol')")
                    return connection.lastInsertedID
                }, answer: answers.answer(2))
            }
            let results = await answers.collect(3)
            #expect(backend.writes.statistics.largestGroup == 3)
            #expect(throws: StoreError.duplicate(field: "name")) { try results[1]?.get() }
            let first = try #require(try results[0]?.get())
            let third = try #require(try results[2]?.get())
            #expect(first != third)
            #expect(try await names(backend, table: "names") == ["alice", "carol"])
        }
    }

    @Test("when the group's COMMIT fails, every write in it fails and none is kept")
    func commitFailureFailsEveryWrite() async throws {
        try await withBackend { backend in
            // A deferred foreign key is checked at COMMIT, so one write makes the COMMIT fail.
            try await backend.write { connection throws(StoreError) in
                try connection.execute(
                    """
                    CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                    CREATE TABLE children (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                        parent_id INTEGER NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
                    """
                )
            }
            let answers = Answers<Int>()
            try await withStorageThreadHeld(backend) {
                backend.enqueueWrite({ connection throws(StoreError) in
                    try connection.run("INSERT INTO parents (id, name) VALUES (1, 'valid')")
                }, answer: answers.answer(0))
                backend.enqueueWrite({ connection throws(StoreError) in
                    try connection.run("INSERT INTO children (name, parent_id) VALUES ('orphan', 99)")
                }, answer: answers.answer(1))
                backend.enqueueWrite({ connection throws(StoreError) in
                    try connection.run("INSERT INTO parents (id, name) VALUES (2, 'also valid')")
                }, answer: answers.answer(2))
            }
            let results = await answers.collect(3)
            #expect(backend.writes.statistics.largestGroup == 3)
            for index in 0..<3 {
                #expect(throws: StoreError.constraintViolation("FOREIGN KEY constraint failed")) { try results[index]?.get() }
            }
            #expect(try await names(backend, table: "parents") == [])
            #expect(try await names(backend, table: "children") == [])

            // The failed group left no transaction open: the next write commits.
            try await backend.write { connection throws(StoreError) in
                try connection.run("INSERT INTO parents (id, name) VALUES (3, 'after')")
            }
            #expect(try await names(backend, table: "parents") == ["after"])
        }
    }

    @Test("a write is visible to the next read as soon as its await returns")
    func writeVisibleAfterAwait() async throws {
        try await withSQLiteStore { store, _ in
            let database = store.database
            try await database.write { connection throws(StoreError) in
                try connection.execute("CREATE TABLE counters (value INTEGER NOT NULL)")
            }
            for value in 1...20 {
                try await database.write { connection throws(StoreError) in
                    try connection.run("INSERT INTO counters (value) VALUES (?)", [.integer(Int64(value))])
                }
                let seen = try await database.read { connection throws(StoreError) in
                    try connection.query("SELECT COUNT(*), MAX(value) FROM counters").first.map { [$0.int64(0), $0.int64(1)] }
                }
                #expect(seen == [Int64(value), Int64(value)])
            }
        }
    }

    @Test("many concurrent writers all land, each with its own row id")
    func concurrentWritersAllLand() async throws {
        let writers = 300
        try await withBackend { backend in
            try await backend.write { connection throws(StoreError) in
                try connection.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            }
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        try await backend.write { connection throws(StoreError) in
                            try connection.run("INSERT INTO messages (body) VALUES (?)", [.text("message \(writer)")])
                            return connection.lastInsertedID
                        }
                    }
                }
                var ids: Set<Int64> = []
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(ids.count == writers)
            let (count, distinctBodies) = try await backend.withConnection { connection throws(StoreError) in
                let row = try connection.query("SELECT COUNT(*), COUNT(DISTINCT body) FROM messages").first
                return (row?.int64(0), row?.int64(1))
            }
            #expect(count == Int64(writers))
            #expect(distinctBodies == Int64(writers))
            #expect(backend.writes.statistics.largestGroup <= SQLiteGroupCommit.maximumGroupSize)
        }
    }

    @Test("a group takes at most maximumGroupSize writes; the rest commit in the next one")
    func groupIsBounded() async throws {
        let queued = SQLiteGroupCommit.maximumGroupSize + 10
        try await withBackend { backend in
            try await backend.write { connection throws(StoreError) in
                try connection.execute("CREATE TABLE items (n INTEGER NOT NULL)")
            }
            let groupsBefore = backend.writes.statistics.groups
            let answers = Answers<Int>()
            try await withStorageThreadHeld(backend) {
                for index in 0..<queued {
                    backend.enqueueWrite({ connection throws(StoreError) in
                        try connection.run("INSERT INTO items (n) VALUES (?)", [.integer(Int64(index))])
                    }, answer: answers.answer(index))
                }
            }
            let results = await answers.collect(queued)
            #expect(results.values.allSatisfy { (try? $0.get()) == 1 })
            let statistics = backend.writes.statistics
            #expect(statistics.largestGroup == SQLiteGroupCommit.maximumGroupSize)
            #expect(statistics.groups - groupsBefore == 2)
        }
    }

    @Test("writes after close fail as unavailable instead of waiting forever")
    func writeAfterCloseFails() async throws {
        try await withBackend { backend in
            await backend.close()
            await #expect(throws: StoreError.unavailable("the database is closed")) {
                try await backend.write { connection throws(StoreError) in
                    try connection.execute("CREATE TABLE never (n INTEGER)")
                }
            }
        }
    }
}
