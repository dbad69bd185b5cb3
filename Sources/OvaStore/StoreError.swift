import CSQLite

/// Why a storage operation failed, in terms a service can map to a status code.
///
/// Messages never contain SQL or file paths of statements; ``unavailable`` and ``internalError``
/// carry SQLite's message for the server log only (services map them to a generic text).
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A UNIQUE constraint failed; `field` is the column (e.g. `email`).
    case duplicate(field: String)
    /// The row does not exist.
    case notFound
    /// A foreign key or CHECK constraint failed.
    case constraintViolation(String)
    /// The database cannot be used right now: locked past the busy timeout, disk full,
    /// I/O error, read-only, or the file cannot be opened.
    case unavailable(String)
    /// A page token that this store did not issue (or that was altered).
    case invalidPageToken
    /// A bug or a corrupt database.
    case internalError(String)

    public var description: String {
        switch self {
        case .duplicate(let field): return "duplicate value for \(field)"
        case .notFound: return "not found"
        case .constraintViolation(let message): return "constraint violation: \(message)"
        case .unavailable(let message): return "database unavailable: \(message)"
        case .invalidPageToken: return "invalid page token"
        case .internalError(let message): return "database error: \(message)"
        }
    }

    static func fromSQLite(code: Int32, message: String) -> StoreError {
        switch code & 0xFF {
        case SQLITE_CONSTRAINT:
            // Extended codes are function-like macros that Swift does not import.
            let uniqueCode = SQLITE_CONSTRAINT | (8 << 8)
            let primaryKeyCode = SQLITE_CONSTRAINT | (6 << 8)
            if code == uniqueCode || code == primaryKeyCode {
                // "UNIQUE constraint failed: administrators.email" → "email"
                let column = message.split(separator: ".").last.map { String($0) } ?? "value"
                return .duplicate(field: column)
            }
            return .constraintViolation(message)
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_NOMEM:
            return .unavailable(message)
        default:
            return .internalError("\(message) (code \(code))")
        }
    }
}
