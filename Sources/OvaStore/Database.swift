import Logging
import NIOPosix

/// The database every repository goes through, whichever backend holds it.
///
/// Repositories write their SQL against ``SQLConnection`` and run it in ``read(_:)`` or
/// ``write(_:)`` closures; the backend decides on which thread and connection a closure runs,
/// always off the event loops (every backend's calls block). Adding a backend means a case of
/// `Backend` and its type, not a change to a repository.
public final class Database: Sendable {
    /// Where the database lives: `path` on disk, or `memory` for tests.
    public enum Location: Sendable, Equatable {
        case file(String)
        case memory
    }

    /// The backends; each case's type owns its connections and threads.
    enum Backend: Sendable {
        case sqlite(SQLiteBackend)

        func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
            switch self {
            case .sqlite(let sqlite): return try await sqlite.withConnection(body)
            }
        }

        func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
            switch self {
            case .sqlite(let sqlite): return try await sqlite.write(body)
            }
        }

        func close() async {
            switch self {
            case .sqlite(let sqlite): await sqlite.close()
            }
        }
    }

    public let location: Location
    private let backend: Backend

    private init(location: Location, backend: Backend) {
        self.location = location
        self.backend = backend
    }

    /// Opens (creating if needed) the database and applies pending migrations.
    ///
    /// - Throws: ``StoreError/unavailable(_:)`` when the database cannot be opened or written,
    ///   or was written by a newer OVA.
    public static func open(_ location: Location, logger: Logger) async throws(StoreError) -> Database {
        let backend: Backend
        switch location {
        case .file(let path): backend = .sqlite(try await SQLiteBackend.open(path: path))
        case .memory: backend = .sqlite(try await SQLiteBackend.open(path: ":memory:"))
        }
        do {
            let applied = try await backend.withConnection { connection throws(StoreError) in
                try Migrations.apply(to: connection)
            }
            for migration in applied {
                logger.notice("database migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        } catch {
            await backend.close()
            throw error
        }
        return Database(location: location, backend: backend)
    }

    /// The SQL the backend speaks.
    var dialect: SQLDialect {
        switch self.backend {
        case .sqlite: return .sqlite
        }
    }

    /// The backend's name as `GetStatus` reports it.
    public var backendName: String {
        switch self.backend {
        case .sqlite: return "sqlite"
        }
    }

    /// Runs `body` on a connection of the backend, outside any transaction (single statements
    /// are atomic).
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.backend.withConnection(body)
    }

    /// Runs `body` on a connection of the backend as one atomic write: if `body` throws,
    /// none of its changes stay; when this returns, they are committed. (SQLite may commit it
    /// together with other writes queued beside it, each under its own savepoint; `body` must
    /// not open a transaction itself.)
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.backend.write(body)
    }

    /// Round-trips a trivial query through the backend; returns how long it took.
    public func ping() async throws(StoreError) -> Duration {
        let start = ContinuousClock.now
        _ = try await self.read { connection throws(StoreError) in
            try connection.query("SELECT 1").count
        }
        return ContinuousClock.now - start
    }

    /// Stops the backend's threads; later operations fail with ``StoreError/unavailable(_:)``.
    /// Waits for operations already queued.
    public func close() async {
        await self.backend.close()
    }

    /// The ``StoreError`` for whatever a backend's thread pool threw.
    static func storeError(_ error: any Error) -> StoreError {
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
