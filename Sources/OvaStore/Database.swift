import Logging
import NIOPosix

/// The SQLite database: one connection, used from one dedicated storage thread.
///
/// SQLite calls block (disk I/O, fsync, the busy timeout), so none may run on an event loop;
/// every operation is a closure sent to the storage thread and awaited. One writer connection
/// is also what SQLite allows at a time, so serializing on one thread costs no concurrency
/// that WAL would give writers, and a statement cache per connection stays single-threaded.
/// Reads are microseconds on the indexed tables; if they ever dominate, a pool of read-only
/// connections on more threads is the next step (WAL lets them run beside the writer).
public final class Database: Sendable {
    /// Where the database lives: `path` on disk, or `memory` for tests.
    public enum Location: Sendable, Equatable {
        case file(String)
        case memory
    }

    public let location: Location
    private let thread: NIOThreadPool
    private let connection: ConnectionOwner

    private init(location: Location, thread: NIOThreadPool, connection: ConnectionOwner) {
        self.location = location
        self.thread = thread
        self.connection = connection
    }

    /// Opens (creating if needed) the database and applies pending migrations.
    ///
    /// - Throws: ``StoreError/unavailable(_:)`` when the file cannot be opened or written.
    public static func open(_ location: Location, logger: Logger) async throws(StoreError) -> Database {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let path: String
        switch location {
        case .file(let file): path = file
        case .memory: path = ":memory:"
        }
        do {
            let owner = try await thread.runIfActive { () throws -> ConnectionOwner in
                let connection = try SQLiteConnection(path: path)
                let applied = try Migrations.apply(to: connection)
                for migration in applied {
                    logger.notice("database migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                }
                return ConnectionOwner(connection)
            }
            return Database(location: location, thread: thread, connection: owner)
        } catch {
            try? await thread.shutdownGracefully()
            throw Self.storeError(error)
        }
    }

    /// Runs `body` on the storage thread, outside any transaction (single statements are atomic).
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        let owner = self.connection
        do {
            return try await self.thread.runIfActive {
                try body(owner.connection)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` on the storage thread inside one transaction.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.read { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> T in
                try body(connection)
            }
        }
    }

    /// Round-trips a trivial query through the storage thread; returns how long it took.
    public func ping() async throws(StoreError) -> Duration {
        let start = ContinuousClock.now
        _ = try await self.read { connection throws(StoreError) in
            try connection.query("SELECT 1").count
        }
        return ContinuousClock.now - start
    }

    /// Stops the storage thread; later operations fail with ``StoreError/unavailable(_:)``.
    /// Waits for operations already queued.
    public func close() async {
        try? await self.thread.shutdownGracefully()
    }

    private static func storeError(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if error is NIOThreadPoolError.ThreadPoolInactive {
            return .unavailable("the database is closed")
        }
        if error is CancellationError {
            // What the thread pool throws for work queued after (or during) close.
            return .unavailable("the database is closed")
        }
        return .internalError("\(error)")
    }
}

/// Hands the connection to the storage thread's closures.
///
/// `@unchecked Sendable` is sound because ``Database`` only dereferences it inside closures run
/// by its single-thread pool: the connection is never touched by two threads.
private final class ConnectionOwner: @unchecked Sendable {
    let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }
}
