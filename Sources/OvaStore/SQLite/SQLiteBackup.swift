import CSQLite
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a running backup has come.
public struct BackupProgress: Sendable, Equatable {
    public var copiedPages: Int
    public var totalPages: Int
}

/// What a finished backup wrote.
public struct BackupReport: Sendable, Equatable {
    /// The backup file, as given.
    public var path: String
    /// Database pages copied, each `pageSize` bytes.
    public var pages: Int
    public var pageSize: Int
    /// The size of the backup file.
    public var bytes: Int64
    /// Backup steps taken (each copies up to ``SQLiteBackup/pagesPerStep`` pages).
    public var steps: Int
    /// From opening the database to the synced, renamed copy.
    public var duration: Duration
}

/// A consistent copy of a live SQLite database in a new file, made with SQLite's online backup
/// API while the server keeps reading and writing the database.
///
/// The copy is one snapshot: the backup holds a read transaction on the database from its first
/// step to its last. OVA's databases are in WAL mode, where a reader blocks no writer, so the
/// server keeps committing meanwhile (only its WAL grows until the backup ends, as checkpoints
/// cannot pass the snapshot). Without that transaction SQLite restarts a stepped backup from
/// the first page whenever another connection writes between two steps, which under a steady
/// write load never finishes. Steps keep each call to SQLite short and report progress.
///
/// The copy is written to a temporary file beside the destination, created 0600; checked with
/// `PRAGMA integrity_check`; synced; then renamed to the destination. A failure at any point
/// removes the temporary file, so the destination is either the complete copy or as it was.
///
/// The database is opened as it is: never created, migrated or switched to another journal mode.
public struct SQLiteBackup: Sendable {
    /// The database to copy.
    public var databasePath: String
    /// The backup file to write.
    public var destinationPath: String
    /// Replace an existing destination file (never the database itself).
    public var replaceExisting = false
    /// Pages copied per step (4 MiB with SQLite's default 4 KiB pages).
    public var pagesPerStep: Int32 = 1024
    /// How long to wait before retrying a step that found the database busy or locked.
    public var busyRetryDelay: Duration = .milliseconds(10)
    /// How long steps may keep finding the database busy or locked before the backup gives up.
    public var busyTimeout: Duration = .seconds(30)
    /// Called on the backup's thread after every step that left pages to copy.
    public var onProgress: (@Sendable (BackupProgress) -> Void)?

    public init(database databasePath: String, to destinationPath: String) {
        self.databasePath = databasePath
        self.destinationPath = destinationPath
    }

    /// Makes the backup on a thread of its own (SQLite and the file system block) and returns
    /// what it wrote.
    public func run() async throws(BackupError) -> BackupReport {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let report = try await thread.runIfActive { () throws -> BackupReport in
                try self.runBlocking()
            }
            try? await thread.shutdownGracefully()
            return report
        } catch {
            try? await thread.shutdownGracefully()
            throw (error as? BackupError) ?? .failed("\(error)")
        }
    }

    /// The backup, on the calling thread.
    func runBlocking() throws(BackupError) -> BackupReport {
        let start = ContinuousClock.now
        let database = try self.checkPaths()
        let temporaryPath = Self.temporaryPath(beside: self.destinationPath)
        try Self.createPrivateFile(temporaryPath)
        var installed = false
        defer {
            if !installed { Self.remove(databaseFile: temporaryPath) }
        }
        let (pages, pageSize, steps) = try self.copyPages(into: temporaryPath)
        try Self.checkIntegrity(of: temporaryPath)
        let bytes = try Self.sync(temporaryPath)
        try self.install(temporaryPath, database: database)
        installed = true
        return BackupReport(
            path: self.destinationPath, pages: pages, pageSize: pageSize, bytes: bytes, steps: steps,
            duration: ContinuousClock.now - start
        )
    }

    // MARK: - Steps

    /// Refuses a missing database and a destination that exists (unless replacing) or that is
    /// the database itself; returns the database's identity for a last check at rename time.
    private func checkPaths() throws(BackupError) -> FileIdentity {
        let database: FileIdentity
        switch FileIdentity.of(self.databasePath) {
        case .success(let identity?) where identity.isRegularFile:
            database = identity
        case .success(.some):
            throw .failed("\(self.databasePath) is not a regular file")
        case .success(nil):
            throw .databaseMissing(self.databasePath)
        case .failure(let error):
            throw error
        }
        switch FileIdentity.of(self.destinationPath) {
        case .success(let existing?):
            if existing.sameFile(as: database) { throw .destinationIsDatabase(self.destinationPath) }
            if !self.replaceExisting { throw .destinationExists(self.destinationPath) }
            if !existing.isRegularFile { throw .failed("\(self.destinationPath) exists and is not a regular file") }
        case .success(nil):
            break
        case .failure(let error):
            throw error
        }
        return database
    }

    /// Copies every page of the database into the (empty) file at `path`, within one read
    /// transaction on the database.
    private func copyPages(into path: String) throws(BackupError) -> (pages: Int, pageSize: Int, steps: Int) {
        let source: SQLiteConnection
        let destination: SQLiteConnection
        let pageSize: Int
        do throws(StoreError) {
            source = try SQLiteConnection(existing: self.databasePath)
            // The snapshot: a deferred transaction's first read starts the read transaction,
            // which every backup step then uses instead of opening (and ending) its own.
            try source.execute("BEGIN")
            try source.query("SELECT COUNT(*) FROM sqlite_master")
            pageSize = Int(try source.query("PRAGMA page_size").first?.int64(0) ?? 0)
            destination = try SQLiteConnection(existing: path)
        } catch {
            throw .failed("cannot read \(self.databasePath): \(Self.detail(error))")
        }
        defer { try? source.execute("COMMIT") }

        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw .failed("cannot start the backup: \(destination.lastErrorMessage)")
        }
        var steps = 0
        var busySince: ContinuousClock.Instant?
        while true {
            let code = sqlite3_backup_step(backup, self.pagesPerStep)
            switch code & 0xFF {
            case SQLITE_DONE:
                steps += 1
                let pages = Int(sqlite3_backup_pagecount(backup))
                guard sqlite3_backup_finish(backup) == SQLITE_OK else {
                    throw .failed("the backup failed: \(destination.lastErrorMessage)")
                }
                return (pages, pageSize, steps)
            case SQLITE_OK:
                steps += 1
                busySince = nil
                let total = Int(sqlite3_backup_pagecount(backup))
                self.onProgress?(BackupProgress(copiedPages: total - Int(sqlite3_backup_remaining(backup)), totalPages: total))
            case SQLITE_BUSY, SQLITE_LOCKED:
                let now = ContinuousClock.now
                let since = busySince ?? now
                busySince = since
                if now - since > self.busyTimeout {
                    sqlite3_backup_finish(backup)
                    throw .failed("\(self.databasePath) stayed locked for more than \(self.busyTimeout); nothing was written")
                }
                Self.pause(self.busyRetryDelay)
            default:
                // The step's error is reported on the destination connection once finished.
                sqlite3_backup_finish(backup)
                throw .failed("the backup failed: \(destination.lastErrorMessage)")
            }
        }
    }

    /// Opens the copy as the server would and runs `PRAGMA integrity_check` on it.
    private static func checkIntegrity(of path: String) throws(BackupError) {
        let findings: [String]
        do throws(StoreError) {
            let copy = try SQLiteConnection(existing: path)
            findings = try copy.query("PRAGMA integrity_check").map { $0.string(0) }
        } catch {
            throw .integrityCheckFailed([Self.detail(error)])
        }
        guard findings == ["ok"] else {
            throw .integrityCheckFailed(Array(findings.prefix(5)))
        }
    }

    /// Flushes the copy to disk; returns its size.
    private static func sync(_ path: String) throws(BackupError) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .failed("cannot open \(path): \(Self.lastSystemError)") }
        defer { close(fd) }
        var info = stat()
        guard fsync(fd) == 0, fstat(fd, &info) == 0 else {
            throw .failed("cannot sync \(path): \(Self.lastSystemError)")
        }
        return Int64(info.st_size)
    }

    /// Moves the finished copy to the destination: atomically replacing it when asked to, and
    /// otherwise with link(2), which fails rather than replace a file created meanwhile.
    private func install(_ temporaryPath: String, database: FileIdentity) throws(BackupError) {
        let destination = self.destinationPath
        if case .success(let existing?) = FileIdentity.of(destination), existing.sameFile(as: database) {
            throw .destinationIsDatabase(destination)
        }
        if self.replaceExisting {
            // A WAL or journal left beside an earlier file of that name (by a reader that
            // crashed) would be replayed into the new copy the next time it is opened.
            for suffix in ["-wal", "-shm", "-journal"] {
                unlink(destination + suffix)
            }
            guard rename(temporaryPath, destination) == 0 else {
                throw .failed("cannot rename \(temporaryPath) to \(destination): \(Self.lastSystemError)")
            }
        } else if link(temporaryPath, destination) == 0 {
            unlink(temporaryPath)
        } else {
            switch errno {
            case EEXIST:
                throw .destinationExists(destination)
            case EPERM, ENOTSUP, EOPNOTSUPP, EMLINK:
                // A file system without hard links: the check in checkPaths() has to do.
                guard access(destination, F_OK) != 0 else { throw .destinationExists(destination) }
                guard rename(temporaryPath, destination) == 0 else {
                    throw .failed("cannot rename \(temporaryPath) to \(destination): \(Self.lastSystemError)")
                }
            default:
                throw .failed("cannot create \(destination): \(Self.lastSystemError)")
            }
        }
        // The rename is durable once the directory is synced; a file system that cannot sync
        // a directory still has the complete copy.
        let directory = open(Self.directory(of: destination), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    // MARK: - Files

    /// `dir/.name.tmp-<random>`: in the destination's directory, so the rename stays within
    /// one file system, and hidden.
    private static func temporaryPath(beside destination: String) -> String {
        let name = destination.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? destination
        return directory(of: destination) + "/." + name + ".tmp-" + String(UInt64.random(in: .min ... .max), radix: 16)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates an empty file with mode 0600 exactly, whatever the umask (as the server's own
    /// private files; SQLite would create it 0644 and gives its journal the same mode).
    private static func createPrivateFile(_ path: String) throws(BackupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed("cannot create \(path): \(Self.lastSystemError)") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else {
            let error = Self.lastSystemError
            unlink(path)
            throw .failed("cannot set mode 0600 on \(path): \(error)")
        }
    }

    /// Removes a database file and whatever SQLite kept beside it.
    private static func remove(databaseFile path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            unlink(path + suffix)
        }
    }

    private static func pause(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }

    private static var lastSystemError: String {
        String(cString: strerror(errno))
    }

    /// SQLite's own message, without the store's prefixes.
    private static func detail(_ error: StoreError) -> String {
        switch error {
        case .unavailable(let message), .internalError(let message), .constraintViolation(let message): return message
        default: return "\(error)"
        }
    }
}

/// A file's device and inode, to tell whether two paths name one file.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var isRegularFile: Bool

    func sameFile(as other: FileIdentity) -> Bool {
        self.device == other.device && self.inode == other.inode
    }

    /// The identity of the file at `path` (following symbolic links); nil when there is none.
    static func of(_ path: String) -> Result<FileIdentity?, BackupError> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return .success(nil) }
            return .failure(.failed("cannot inspect \(path): \(String(cString: strerror(errno)))"))
        }
        return .success(
            FileIdentity(
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                isRegularFile: (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG)
            )
        )
    }
}
