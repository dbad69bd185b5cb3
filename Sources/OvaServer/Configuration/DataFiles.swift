import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Files the server keeps in `OVA_DATA_DIR`: the directory itself (0700) and files written
/// atomically with exact permissions (keys, secrets and the database 0600), whatever the umask.
public enum DataFiles {
    /// The mode of every private file the server creates.
    static let privateFileMode: mode_t = 0o600

    /// Creates the data directory (0700) or checks an existing one: production refuses one that
    /// others can write to (they could swap the database or the keys) and warns when others can
    /// list it. Development leaves an existing directory as the operator made it.
    public static func preparePrivateDirectory(_ directory: String, production: Bool, logger: Logger) throws(ConfigurationError) {
        var info = stat()
        guard production, stat(directory, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) else {
            try ensureDirectory(directory)
            return
        }
        let mode = info.st_mode & 0o7777
        if mode & 0o022 != 0 {
            throw .unusableFile(
                variable: "OVA_DATA_DIR",
                path: directory,
                reason: "is writable by group or others (mode \(octal(mode))), who could replace the database or the keys; "
                    + "fix: chmod 700 \(directory)"
            )
        }
        if mode & 0o044 != 0 {
            logger.warning(
                "the data directory is readable by group or others; fix: chmod 700 \(directory)",
                metadata: ["path": "\(directory)", "mode": "\(octal(mode))"]
            )
        }
    }

    /// Creates the SQLite database file 0600 before SQLite opens it (SQLite would create it
    /// 0644 under the usual umask, and gives its `-wal` and `-shm` files the database's mode),
    /// and tightens an existing database or its companions that others can read.
    public static func preparePrivateDatabase(path: String, logger: Logger) throws(ConfigurationError) {
        try makePrivate(path: path, create: true, logger: logger)
        for suffix in ["-wal", "-shm", "-journal"] {
            try makePrivate(path: path + suffix, create: false, logger: logger)
        }
    }

    /// ``makePrivate(path:create:)`` that logs a notice when it had to tighten the file.
    @discardableResult
    static func makePrivate(path: String, create: Bool, logger: Logger) throws(ConfigurationError) -> mode_t? {
        let previous = try makePrivate(path: path, create: create)
        if let previous {
            logTightened(path: path, previousMode: previous, logger: logger)
        }
        return previous
    }

    static func logTightened(path: String, previousMode: mode_t, logger: Logger) {
        logger.notice(
            "\(path) was accessible to group or others; its mode is now 0600",
            metadata: ["path": "\(path)", "previous_mode": "\(octal(previousMode))"]
        )
    }

    /// Makes `path` mode 0600: creates it empty when missing and `create` is set, tightens it
    /// when group or others have any access. Leaves anything but a regular file alone.
    ///
    /// - Returns: the mode the file had when it had to be tightened; nil otherwise.
    static func makePrivate(path: String, create: Bool) throws(ConfigurationError) -> mode_t? {
        func failure(_ what: String) -> ConfigurationError {
            let code = errno
            return .unusableFile(variable: nil, path: path, reason: "\(what): \(String(cString: strerror(code)))")
        }
        var fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        var created = false
        if fd < 0, errno == ENOENT, create {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, privateFileMode)
            created = fd >= 0
            if fd < 0, errno == EEXIST {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            }
        }
        if fd < 0 {
            if errno == ENOENT, !create { return nil }
            throw failure(create ? "could not open or create the file" : "could not open the file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("could not inspect the file") }
        guard (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { return nil }
        let mode = info.st_mode & 0o7777
        // open(2) applied the umask to a new file: set the mode exactly.
        guard created || mode & 0o077 != 0 else { return nil }
        guard fchmod(fd, privateFileMode) == 0 else { throw failure("could not set mode 0600") }
        return created ? nil : mode
    }

    /// `0755`-style.
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func ensureDirectory(_ directory: String) throws(ConfigurationError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw .unusableFile(variable: "OVA_DATA_DIR", path: directory, reason: "exists but is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .unusableFile(variable: "OVA_DATA_DIR", path: directory, reason: "could not create the directory: \(error.localizedDescription)")
        }
        // Do not depend on how the attributes interact with the umask.
        _ = chmod(directory, 0o700)
    }

    /// Writes `contents` to a fresh temporary file created with `mode` (O_CREAT|O_EXCL, so the
    /// data is never readable with looser permissions), syncs it and renames it over `path`.
    static func writeAtomically(path: String, contents: [UInt8], mode: mode_t) throws(ConfigurationError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let suffix = (0..<8).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        let temporaryPath = directory + "/." + name + ".tmp-" + suffix

        func failure(_ what: String) -> ConfigurationError {
            let code = errno
            return .unusableFile(variable: nil, path: path, reason: "\(what): \(String(cString: strerror(code)))")
        }

        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("could not create \(temporaryPath)") }
        var ok = false
        defer {
            if !ok { unlink(temporaryPath) }
        }
        do {
            defer { close(fd) }
            // open(2) applies the umask; make the mode exact.
            guard fchmod(fd, mode) == 0 else { throw failure("could not set mode on \(temporaryPath)") }
            var offset = 0
            while offset < contents.count {
                let written = contents.withUnsafeBytes { buffer in
                    write(fd, buffer.baseAddress.map { $0 + offset }, contents.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("could not write \(temporaryPath)")
                }
                offset += written
            }
            guard fsync(fd) == 0 else { throw failure("could not sync \(temporaryPath)") }
        }
        guard rename(temporaryPath, path) == 0 else { throw failure("could not rename \(temporaryPath)") }
        ok = true
    }
}
