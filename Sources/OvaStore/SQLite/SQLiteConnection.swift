import CSQLite

/// A libsqlite3 connection. Not thread-safe by design: ``Database`` owns it and uses it from its
/// single storage thread only, so no statement or transaction is ever shared between threads.
final class SQLiteConnection: SQLConnection {
    /// The libsqlite3 connection, for the APIs this wrapper does not cover (the online backup).
    private(set) var handle: OpaquePointer?
    private var statementCache: [String: OpaquePointer] = [:]
    let path: String
    let dialect = SQLDialect.sqlite

    /// Opens (creating if needed) the database file and applies the connection settings every
    /// OVA connection needs: WAL, foreign keys, a busy timeout instead of immediate SQLITE_BUSY.
    convenience init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        try self.init(opening: path, create: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        try self.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:" {
            let mode = try self.query("PRAGMA journal_mode = WAL").first?.string(0) ?? ""
            guard mode.lowercased() == "wal" else {
                throw .unavailable("the database at \(path) cannot use WAL journaling (got \(mode))")
            }
            try self.execute("PRAGMA synchronous = NORMAL")
        }
    }

    /// Opens an existing database file as it is: nothing is created, and no setting that would
    /// write to the file (journal mode, migrations) is applied. For tools that read a database
    /// another process owns, such as ``SQLiteBackup``.
    convenience init(existing path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        try self.init(opening: path, create: false, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    }

    private init(opening path: String, create: Bool, busyTimeoutMilliseconds: Int32) throws(StoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw .unavailable("cannot open the database at \(path): \(message)")
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit {
        for statement in self.statementCache.values {
            sqlite3_finalize(statement)
        }
        sqlite3_close_v2(self.handle)
    }

    /// Runs statements that take no parameters and return no rows (DDL, PRAGMA).
    func execute(_ sql: String) throws(StoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(self.handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? "error \(code)"
            sqlite3_free(errorMessage)
            throw StoreError.fromSQLite(code: code, message: message)
        }
    }

    /// Runs one statement that takes no parameters and returns no rows, prepared once and kept:
    /// for the transaction statements every write runs (`BEGIN IMMEDIATE`, `SAVEPOINT`,
    /// `COMMIT`), which `sqlite3_exec` would parse again each time (4.2 µs against 2.8 µs for
    /// BEGIN + COMMIT, docs/PERFORMANCE.md).
    func executeCached(_ sql: String) throws(StoreError) {
        let statement = try self.prepared(sql)
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let error = StoreError.fromSQLite(code: code, message: self.lastErrorMessage)
            sqlite3_reset(statement)
            throw error
        }
        sqlite3_reset(statement)
    }

    /// Whether a transaction is open (SQLite rolls one back by itself after some errors, such
    /// as a full disk or an I/O error).
    var isInTransaction: Bool {
        sqlite3_get_autocommit(self.handle) == 0
    }

    /// Runs a parameterized statement and returns every row.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow] {
        let statement = try self.prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try self.bind(parameters, to: statement)
        var rows: [SQLRow] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw StoreError.fromSQLite(code: code, message: self.lastErrorMessage)
            }
            rows.append(Self.readRow(statement))
        }
        return rows
    }

    /// Runs a parameterized INSERT/UPDATE/DELETE; returns the number of rows changed
    /// (`sqlite3_changes`: every row the statement matched, changed values or not).
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int {
        try self.query(sql, parameters)
        return Int(sqlite3_changes(self.handle))
    }

    /// The rowid of the last INSERT on this connection (`LAST_INSERT_ID()` in MySQL).
    var lastInsertedID: Int64 {
        sqlite3_last_insert_rowid(self.handle)
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try self.executeCached("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try self.executeCached("COMMIT")
            return result
        } catch {
            try? self.executeCached("ROLLBACK")
            throw error
        }
    }

    var lastErrorMessage: String {
        String(cString: sqlite3_errmsg(self.handle))
    }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let cached = self.statementCache[sql] {
            return cached
        }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw StoreError.fromSQLite(code: code, message: self.lastErrorMessage)
        }
        self.statementCache[sql] = statement
        return statement
    }

    private func bind(_ parameters: [SQLValue], to statement: OpaquePointer) throws(StoreError) {
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard expected == parameters.count else {
            throw .internalError("statement expects \(expected) parameters, got \(parameters.count)")
        }
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let integer):
                code = sqlite3_bind_int64(statement, index, integer)
            case .text(let text):
                // Bound by length, so text with an embedded NUL is stored whole, never cut.
                code = text.utf8.withContiguousStorageIfAvailable { bytes in
                    bytes.withMemoryRebound(to: CChar.self) {
                        sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), ova_sqlite_transient())
                    }
                } ?? {
                    let bytes = Array(text.utf8)
                    return bytes.withUnsafeBufferPointer { buffer in
                        buffer.withMemoryRebound(to: CChar.self) {
                            sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), ova_sqlite_transient())
                        }
                    }
                }()
            case .null:
                code = sqlite3_bind_null(statement, index)
            }
            guard code == SQLITE_OK else {
                throw StoreError.fromSQLite(code: code, message: self.lastErrorMessage)
            }
        }
    }

    private static func readRow(_ statement: OpaquePointer) -> SQLRow {
        let count = sqlite3_column_count(statement)
        var values: [SQLValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count {
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                values.append(.integer(sqlite3_column_int64(statement, column)))
            case SQLITE_NULL:
                values.append(.null)
            default:
                let length = Int(sqlite3_column_bytes(statement, column))
                if let pointer = sqlite3_column_text(statement, column) {
                    let buffer = UnsafeBufferPointer(start: pointer, count: length)
                    values.append(.text(String(decoding: buffer, as: UTF8.self)))
                } else {
                    values.append(.text(""))
                }
            }
        }
        return SQLRow(values: values)
    }
}
