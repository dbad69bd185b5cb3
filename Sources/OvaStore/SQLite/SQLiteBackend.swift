import CSQLite
import NIOPosix

/// SQLite behind ``Database``: one connection, used from one dedicated storage thread.
///
/// SQLite calls block (disk I/O, fsync, the busy timeout), so none may run on an event loop;
/// every operation is a closure sent to the storage thread and awaited. One writer connection
/// is also what SQLite allows at a time, so serializing on one thread costs no concurrency
/// that WAL would give writers, and a statement cache per connection stays single-threaded.
/// Reads are microseconds on the indexed tables; if they ever dominate, a pool of read-only
/// connections on more threads is the next step (WAL lets them run beside the writer).
/// Writes queued while the thread is busy are committed together (``SQLiteGroupCommit``).
final class SQLiteBackend: Sendable {
    private let thread: NIOThreadPool
    private let connection: ConnectionOwner
    /// The writes waiting for the storage thread.
    let writes = SQLiteGroupCommit()

    private init(thread: NIOThreadPool, connection: ConnectionOwner) {
        self.thread = thread
        self.connection = connection
    }

    /// Opens (creating if needed) the database at `path` (`:memory:` for a private in-memory one)
    /// on a new storage thread.
    ///
    /// - Throws: ``StoreError/unavailable(_:)`` when the file cannot be opened or written.
    static func open(path: String) async throws(StoreError) -> SQLiteBackend {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let owner = try await thread.runIfActive { () throws -> ConnectionOwner in
                ConnectionOwner(try SQLiteConnection(path: path))
            }
            return SQLiteBackend(thread: thread, connection: owner)
        } catch {
            try? await thread.shutdownGracefully()
            throw Database.storeError(error)
        }
    }

    /// Runs `body` with the connection on the storage thread.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        let owner = self.connection
        do {
            return try await self.thread.runIfActive {
                try body(owner.connection)
            }
        } catch {
            throw Database.storeError(error)
        }
    }

    /// Runs `body` with the connection on the storage thread as one write: in a transaction
    /// of its own, or under its own savepoint in a group of writes committed together; either
    /// way it returns only after its changes are committed, and a body that throws changes
    /// nothing.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, StoreError>, Never>) in
            self.enqueueWrite(body) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// ``write(_:)`` without waiting: `answer` is called once the write's group is committed
    /// or failed. Tests queue several writes this way while the storage thread is held, so
    /// that they form one group whatever the scheduling.
    func enqueueWrite<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T,
        answer: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        self.writes.enqueue(body, answer: answer)
        // One job per write: the first job to run commits every write queued by then, and the
        // later ones find nothing left (or the writes queued after that group).
        let owner = self.connection
        let writes = self.writes
        self.thread.submit { state in
            switch state {
            case .active: writes.commitPending(on: owner.connection)
            case .cancelled: writes.failPending(.unavailable("the database is closed"))
            }
        }
    }

    /// The SQLite library's version, e.g. `3.40.1`.
    static var libraryVersion: String {
        String(cString: sqlite3_libversion())
    }

    /// Stops the storage thread after the operations already queued.
    func close() async {
        try? await self.thread.shutdownGracefully()
    }
}

/// Hands the connection to the storage thread's closures.
///
/// `@unchecked Sendable` is sound because ``SQLiteBackend`` only dereferences it inside closures
/// run by its single-thread pool: the connection is never touched by two threads.
private final class ConnectionOwner: @unchecked Sendable {
    let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }
}
