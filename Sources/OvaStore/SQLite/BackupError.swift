/// Why ``SQLiteBackup`` made no backup. Whatever the case, nothing was left at the destination
/// (an existing file there is untouched unless the backup replaced it whole).
public enum BackupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// There is no database file at this path.
    case databaseMissing(String)
    /// The destination exists and replacing it was not asked for.
    case destinationExists(String)
    /// The destination is the database being backed up.
    case destinationIsDatabase(String)
    /// `PRAGMA integrity_check` on the copy did not answer `ok`; its first findings.
    case integrityCheckFailed([String])
    /// SQLite or the file system failed (cannot read the database, disk full, locked for too long).
    case failed(String)

    public var description: String {
        switch self {
        case .databaseMissing(let path):
            return "there is no database at \(path)"
        case .destinationExists(let path):
            return "\(path) already exists"
        case .destinationIsDatabase(let path):
            return "\(path) is the database being backed up"
        case .integrityCheckFailed(let findings):
            return "the copy failed PRAGMA integrity_check: \(findings.joined(separator: "; "))"
        case .failed(let message):
            return message
        }
    }
}
