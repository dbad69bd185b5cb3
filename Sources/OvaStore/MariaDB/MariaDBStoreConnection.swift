/// A ``MariaDBConnection`` as the repositories see every connection: an ``SQLConnection``
/// throwing ``StoreError``.
///
/// The driver keeps MariaDB's own error (numbers, SQLSTATE) for its tests and for the pool; this
/// is the one place where it becomes the store's error, and it remembers the last driver error
/// so that ``MariaDBBackend`` can tell a deadlock (worth retrying) or a lost connection (worth
/// replacing) from any other failure.
final class MariaDBStoreConnection: SQLConnection {
    let driver: MariaDBConnection
    let dialect = SQLDialect.mariadb
    /// The driver error behind the last ``StoreError`` this connection threw.
    private(set) var lastFailure: MariaDBError?

    init(_ driver: MariaDBConnection) {
        self.driver = driver
    }

    /// Forgets the last failure, before a job runs.
    func clearFailure() {
        self.lastFailure = nil
    }

    func execute(_ sql: String) throws(StoreError) {
        try self.mapped { () throws(MariaDBError) in try self.driver.execute(sql) }
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow] {
        try self.mapped { () throws(MariaDBError) in try self.driver.query(sql, parameters) }
    }

    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int {
        try self.mapped { () throws(MariaDBError) in try self.driver.run(sql, parameters) }
    }

    var lastInsertedID: Int64 {
        self.driver.lastInsertedID
    }

    /// `START TRANSACTION` … `COMMIT`, rolled back if `body` throws. InnoDB's default isolation
    /// (REPEATABLE READ) with the repositories' locking reads (``SQLDialect/lockingRead``) and
    /// unique keys gives what SQLite's single writer gave.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try self.execute("START TRANSACTION")
        do {
            let result = try body()
            try self.execute("COMMIT")
            return result
        } catch {
            if !self.driver.isBroken {
                // The failure that matters is the one being thrown; a failed ROLLBACK leaves the
                // connection broken, which the pool sees.
                _ = try? self.driver.run("ROLLBACK")
            }
            throw error
        }
    }

    private func mapped<T>(_ body: () throws(MariaDBError) -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            self.lastFailure = error
            throw error.storeError
        }
    }
}
