import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files the server keeps in `OVA_DATA_DIR`: the directory itself (0700) and files written
/// atomically with exact permissions (keys and secrets 0600).
enum DataFiles {
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
