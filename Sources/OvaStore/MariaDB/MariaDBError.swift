import CMariaDB

/// A failure reported by a MariaDB (or MySQL) server or by Connector/C, with the server's numbers.
///
/// The message is the server's or the library's text (e.g. "Duplicate entry 'x' for key 'email'",
/// "Access denied for user 'ova'@'localhost' (using password: YES)"), which may quote values
/// from the data, so it is for the server log only, like ``StoreError``'s messages. It never
/// contains the connection's password: MariaDB does not echo passwords, and should a message
/// ever carry it, it is replaced before the error is made.
public struct MariaDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error number: the server's (1062 duplicate key, 1045 access denied, 1213 deadlock, …)
    /// or Connector/C's own, 2000–2999 and 5000–5999 (2002 cannot connect, 2006 server gone away,
    /// 2013 connection lost during a query).
    public let code: UInt32
    /// The five-character SQLSTATE (`23000` for an integrity constraint, `28000` for bad
    /// credentials, `HY000` when no specific state applies).
    public let sqlState: String
    public let message: String

    public init(code: UInt32, sqlState: String, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "MariaDB error \(self.code) (\(self.sqlState)): \(self.message)"
    }

    /// A unique or primary key already holds the value (ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME).
    public var isDuplicateKey: Bool {
        self.code == UInt32(ER_DUP_ENTRY) || self.code == UInt32(ER_DUP_ENTRY_WITH_KEY_NAME)
    }

    /// The server could not be reached, or the connection broke: the connection is unusable
    /// (its prepared statements are gone with it) and must be replaced, not reused.
    public var isConnectionLost: Bool {
        Self.connectionLostCodes.contains(self.code)
    }

    /// InnoDB chose this transaction as a deadlock victim and rolled it back whole, so running
    /// it again from the start is safe (ER_LOCK_DEADLOCK).
    public var isDeadlock: Bool {
        self.code == UInt32(ER_LOCK_DEADLOCK)
    }

    /// For a failure to connect: the settings an operator should check, e.g. `DB_USER and
    /// DB_PASSWORD` for a refused login; nil when no setting explains it.
    public var settingHint: String? {
        switch Int32(self.code) {
        case ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
            return "check DB_USER and DB_PASSWORD or DB_PASSWORD_FILE"
        case ER_DBACCESS_DENIED_ERROR:
            return "the account DB_USER may not use the database DB_NAME: GRANT it"
        case ER_BAD_DB_ERROR:
            return "check DB_NAME, or create it: CREATE DATABASE name CHARACTER SET utf8mb4"
        case CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_LOST, CR_SERVER_GONE_ERROR, CR_SERVER_LOST_EXTENDED:
            return "check DB_HOST and DB_PORT, and that the server is running"
        case CR_SSL_CONNECTION_ERROR:
            return "check DB_SSL_MODE and DB_SSL_CA"
        default:
            return nil
        }
    }

    private static let connectionLostCodes: Set<UInt32> = [
        UInt32(CR_CONNECTION_ERROR), UInt32(CR_CONN_HOST_ERROR), UInt32(CR_UNKNOWN_HOST),
        UInt32(CR_SERVER_GONE_ERROR), UInt32(CR_SERVER_LOST), UInt32(CR_SERVER_LOST_EXTENDED),
        UInt32(CR_ERR_NET_READ), UInt32(CR_ERR_NET_WRITE),
        UInt32(ER_CONNECTION_KILLED), UInt32(ER_SERVER_SHUTDOWN),
    ]

    /// An error detected on this side, with no server state: a misuse of the API (parameter
    /// count) or a value this client cannot represent.
    static func client(_ message: String) -> MariaDBError {
        MariaDBError(code: UInt32(CR_UNKNOWN_ERROR), sqlState: "HY000", message: message)
    }

    /// The last error of a connection handle.
    static func last(of handle: UnsafeMutablePointer<MYSQL>, redacting password: String, context: String? = nil) -> MariaDBError {
        self.make(
            code: mysql_errno(handle),
            sqlState: mysql_sqlstate(handle).map { String(cString: $0) },
            message: mysql_error(handle).map { String(cString: $0) },
            redacting: password,
            context: context
        )
    }

    /// The last error of a prepared statement.
    static func last(of statement: UnsafeMutablePointer<MYSQL_STMT>, redacting password: String) -> MariaDBError {
        self.make(
            code: mysql_stmt_errno(statement),
            sqlState: mysql_stmt_sqlstate(statement).map { String(cString: $0) },
            message: mysql_stmt_error(statement).map { String(cString: $0) },
            redacting: password,
            context: nil
        )
    }

    private static func make(code: UInt32, sqlState: String?, message: String?, redacting password: String, context: String?) -> MariaDBError {
        var text = message ?? ""
        if text.isEmpty { text = "error \(code)" }
        if let context { text = "\(context): \(text)" }
        if !password.isEmpty {
            text = text.replacing(password, with: "[redacted]")
        }
        let state = sqlState.flatMap { $0.count == 5 ? $0 : nil } ?? "HY000"
        return MariaDBError(code: code == 0 ? UInt32(CR_UNKNOWN_ERROR) : code, sqlState: state, message: text)
    }
}

extension MariaDBError {
    /// The same failure in the store's terms, so that services map both backends alike.
    public var storeError: StoreError {
        if self.isDuplicateKey {
            return .duplicate(field: Self.duplicateKeyName(self.message) ?? "value")
        }
        if self.isConnectionLost || Self.unavailableCodes.contains(self.code) {
            return .unavailable(self.description)
        }
        if Self.constraintCodes.contains(self.code) {
            // Worded as SQLite's are ("… constraint failed"), so services keep the server's
            // text out of their answers for both backends alike.
            return .constraintViolation("constraint failed: \(self.description)")
        }
        return .internalError(self.description)
    }

    /// Busy, read-only, overloaded or refusing the account: retrying later, or elsewhere, can work.
    private static let unavailableCodes: Set<UInt32> = [
        UInt32(ER_LOCK_WAIT_TIMEOUT), UInt32(ER_LOCK_DEADLOCK), UInt32(ER_CON_COUNT_ERROR),
        UInt32(ER_TOO_MANY_USER_CONNECTIONS), UInt32(ER_OPTION_PREVENTS_STATEMENT),
        UInt32(ER_READ_ONLY_MODE), UInt32(ER_ACCESS_DENIED_ERROR), UInt32(ER_DBACCESS_DENIED_ERROR),
        UInt32(ER_BAD_DB_ERROR), UInt32(ER_OUT_OF_RESOURCES), UInt32(ER_DISK_FULL),
    ]

    /// Foreign keys, CHECK constraints and NOT NULL columns.
    private static let constraintCodes: Set<UInt32> = [
        UInt32(ER_ROW_IS_REFERENCED_2), UInt32(ER_NO_REFERENCED_ROW_2), UInt32(ER_ROW_IS_REFERENCED),
        UInt32(ER_NO_REFERENCED_ROW), UInt32(ER_CONSTRAINT_FAILED), UInt32(ER_BAD_NULL_ERROR),
    ]

    /// "Duplicate entry 'a@b.c' for key 'email'" → "email" (also "'administrators.email'", as
    /// MySQL 8 writes it). The key is named after its column by the migrations.
    static func duplicateKeyName(_ message: String) -> String? {
        guard let marker = message.ranges(of: "for key '").last else { return nil }
        let rest = message[marker.upperBound...]
        guard let end = rest.lastIndex(of: "'") else { return nil }
        let key = rest[..<end]
        let column = key.split(separator: ".").last.map(String.init) ?? String(key)
        return column.isEmpty ? nil : column
    }
}
