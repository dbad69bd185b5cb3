/// A value bound to, or read from, an SQL statement.
///
/// Only the types the portable schema uses: 64-bit integers (ids, booleans as 0/1, times as
/// Unix milliseconds), text and NULL. Blobs and reals are not needed by any table.
public enum SQLValue: Sendable, Equatable {
    case integer(Int64)
    case text(String)
    case null

    public static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }

    public static func optionalText(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
}

/// One result row, read by column index in the order of the SELECT list.
public struct SQLRow: Sendable {
    let values: [SQLValue]

    public func int64(_ index: Int) -> Int64 {
        if case .integer(let value) = self.values[index] { return value }
        return 0
    }

    public func bool(_ index: Int) -> Bool { self.int64(index) != 0 }

    public func string(_ index: Int) -> String {
        self.optionalString(index) ?? ""
    }

    public func optionalString(_ index: Int) -> String? {
        switch self.values[index] {
        case .text(let value): return value
        case .integer(let value): return String(value)
        case .null: return nil
        }
    }

    public func optionalInt64(_ index: Int) -> Int64? {
        if case .integer(let value) = self.values[index] { return value }
        return nil
    }
}

/// The SQL a backend speaks, where the two differ: the migrations' DDL and the few clauses a
/// repository takes from here instead of writing them inline.
public enum SQLDialect: Sendable, Equatable, CaseIterable {
    case sqlite
    case mariadb

    /// Appended to every CREATE TABLE. MariaDB's server defaults may be latin1 or MyISAM, so
    /// each table says InnoDB (transactions, foreign keys) and utf8mb4 (4-byte characters)
    /// itself; `utf8mb4_nopad_bin` compares bytes as SQLite's BINARY collation does, so
    /// `email = ?` and UNIQUE stay case- and trailing-space-sensitive on both backends (callers
    /// normalize emails; `utf8mb4_bin` would ignore trailing spaces, `_ci` case).
    var tableOptions: String {
        switch self {
        case .sqlite: return ""
        case .mariadb: return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
        }
    }

    /// Appended to a SELECT inside a write transaction whose result the transaction's writes
    /// depend on (read-modify-write, "is there still a superadmin"). SQLite's `BEGIN IMMEDIATE`
    /// already serializes writers; InnoDB's REPEATABLE READ reads a snapshot that a concurrent
    /// transaction may be changing, so the rows are locked (and read current) with FOR UPDATE.
    var lockingRead: String {
        switch self {
        case .sqlite: return ""
        case .mariadb: return " FOR UPDATE"
        }
    }
}

extension SQLDialect {
    /// `insert` (an INSERT … VALUES of one row whose unique key is the column `key`) made to keep
    /// an existing row instead of failing. On MariaDB the existing row is also locked
    /// exclusively: a failed plain INSERT would leave a shared lock that a following locking
    /// read must upgrade, and two transactions upgrading at once deadlock.
    func insertKeepingExisting(_ insert: String, key: String) -> String {
        switch self {
        case .sqlite: return "\(insert) ON CONFLICT (\(key)) DO NOTHING"
        case .mariadb: return "\(insert) ON DUPLICATE KEY UPDATE \(key) = \(key)"
        }
    }
}

/// The connection repositories and migrations run their SQL on, whatever the backend.
///
/// A connection is not thread-safe and not `Sendable`: ``Database`` hands one to one closure at
/// a time on a thread of its backend, and the closure must not let it escape. It is class-bound,
/// so `any SQLConnection` is a reference plus a witness table (no boxing); a call through it
/// costs an indirect jump, nothing beside the statement it runs.
protocol SQLConnection: AnyObject {
    /// Which SQL this connection speaks.
    var dialect: SQLDialect { get }

    /// Runs statements that take no parameters and return no rows (DDL, settings).
    func execute(_ sql: String) throws(StoreError)

    /// Runs a parameterized statement and returns every row.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> [SQLRow]

    /// Runs a parameterized INSERT/UPDATE/DELETE; returns the number of rows it matched (an
    /// UPDATE that sets a row to the values it had still counts that row, as in SQLite).
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int

    /// The id the last INSERT on this connection generated (`LAST_INSERT_ID()` in MariaDB).
    var lastInsertedID: Int64 { get }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
}

extension SQLConnection {
    /// ``query(_:_:)`` without parameters.
    @discardableResult
    func query(_ sql: String) throws(StoreError) -> [SQLRow] {
        try self.query(sql, [])
    }

    /// ``run(_:_:)`` without parameters.
    @discardableResult
    func run(_ sql: String) throws(StoreError) -> Int {
        try self.run(sql, [])
    }
}
