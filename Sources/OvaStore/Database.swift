import Logging
import NIOPosix

/// The database every repository goes through, whichever backend holds it.
///
/// Repositories write their SQL against ``SQLConnection`` and run it in ``read(_:)`` or
/// ``write(_:)`` closures; the backend decides on which thread and connection a closure runs,
/// always off the event loops (every backend's calls block). Adding a backend means a case of
/// `Backend` and its type, not a change to a repository.
public final class Database: Sendable {
    /// Where the database lives: an SQLite file at `path`, SQLite in memory (tests), or a
    /// MariaDB/MySQL server.
    public enum Location: Sendable, Equatable {
        case file(String)
        case memory
        case mariadb(MariaDBStoreOptions)
    }

    /// The backends; each case's type owns its connections and threads.
    enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case mariadb(MariaDBBackend)

        func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
            switch self {
            case .sqlite(let sqlite): return try await sqlite.withConnection(body)
            case .mariadb(let mariadb): return try await mariadb.withConnection(body)
            }
        }

        func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
            switch self {
            case .sqlite(let sqlite): return try await sqlite.write(body)
            case .mariadb(let mariadb): return try await mariadb.withTransaction(body)
            }
        }

        func close() async {
            switch self {
            case .sqlite(let sqlite): await sqlite.close()
            case .mariadb(let mariadb): await mariadb.close()
            }
        }
    }

    public let location: Location
    private let backend: Backend

    private init(location: Location, backend: Backend) {
        self.location = location
        self.backend = backend
    }

    /// Opens (creating if needed) the database and, unless `migrate` is false, applies pending
    /// migrations (logged at notice).
    ///
    /// - Throws: ``StoreError/unavailable(_:)`` when the database cannot be opened or written,
    ///   or was written by a newer OVA.
    public static func open(_ location: Location, logger: Logger, migrate: Bool = true) async throws(StoreError) -> Database {
        let backend: Backend
        switch location {
        case .file(let path): backend = .sqlite(try await SQLiteBackend.open(path: path))
        case .memory: backend = .sqlite(try await SQLiteBackend.open(path: ":memory:"))
        case .mariadb(let options): backend = .mariadb(try await MariaDBBackend.open(options))
        }
        let database = Database(location: location, backend: backend)
        guard migrate else { return database }
        do {
            for migration in try await database.migrate() {
                logger.notice("database migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        } catch {
            await backend.close()
            throw error
        }
        return database
    }

    /// Applies the migrations the database does not have yet, holding the migration lock (so
    /// servers starting together against one MariaDB apply each migration once).
    ///
    /// - Returns: the migrations applied, oldest first; empty when the schema was current.
    /// - Throws: ``StoreError/unavailable(_:)`` when the database was written by a newer OVA.
    @discardableResult
    public func migrate() async throws(StoreError) -> [MigrationState] {
        try await self.backend.withConnection { connection throws(StoreError) in
            try Migrations.withMigrationLock(on: connection) { () throws(StoreError) in
                try Migrations.apply(to: connection).map { MigrationState(version: $0.version, name: $0.name, appliedAtMilliseconds: nil) }
            }
        }
    }

    /// Every migration this build knows, with when the database got it (nil: pending), and the
    /// versions the database has that this build does not know (written by a newer OVA). Reads
    /// only: nothing is created or applied.
    public func migrationStatus() async throws(StoreError) -> (known: [MigrationState], unknownVersions: [Int64]) {
        try await self.backend.withConnection { connection throws(StoreError) in
            try Migrations.status(of: connection)
        }
    }

    /// The SQL the backend speaks.
    var dialect: SQLDialect {
        switch self.backend {
        case .sqlite: return .sqlite
        case .mariadb: return .mariadb
        }
    }

    /// The backend's name as `GetStatus` reports it.
    public var backendName: String {
        switch self.backend {
        case .sqlite: return "sqlite"
        case .mariadb: return "mariadb"
        }
    }

    /// The database server's version (`10.11.19-MariaDB-…`), or the SQLite library's.
    public var serverVersion: String {
        switch self.backend {
        case .sqlite: return SQLiteBackend.libraryVersion
        case .mariadb(let mariadb): return mariadb.serverVersion
        }
    }

    /// What the backend's connections are doing: SQLite's one connection counts as a pool of one
    /// (its waiting operations are not counted).
    public var poolStatus: DatabasePoolStatus {
        switch self.backend {
        case .sqlite: return DatabasePoolStatus(size: 1, inUse: 0, idle: 1, waiting: 0)
        case .mariadb(let mariadb): return mariadb.status
        }
    }

    /// Runs `body` on a connection of the backend, outside any transaction (single statements
    /// are atomic).
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.backend.withConnection(body)
    }

    /// Runs `body` on a connection of the backend as one atomic write: if `body` throws,
    /// none of its changes stay; when this returns, they are committed. SQLite may commit it
    /// together with other writes queued beside it, each under its own savepoint; MariaDB runs
    /// it in a transaction of its own, again if InnoDB rolls it back as a deadlock victim. So
    /// `body` must not open a transaction itself, nor have effects outside the database.
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
