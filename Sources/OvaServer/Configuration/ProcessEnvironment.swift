import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The environment `ova-server` configures itself from: the process environment plus the
/// `.env` files, merged once so that `serve` and `admin` see the same settings.
///
/// Files read: `.env` in the working directory when it exists, and the file named by
/// `OVA_ENV_FILE` when that is set (then it must exist). Precedence, highest first: the real
/// environment (a set, non-empty variable is never overridden), `OVA_ENV_FILE`, `.env`.
public struct ProcessEnvironment: Sendable {
    /// The variable naming an extra `.env` file.
    public static let envFileVariable = "OVA_ENV_FILE"
    /// The file read from the working directory when present.
    public static let defaultFileName = ".env"

    /// What one file contributed.
    public struct FileReport: Sendable, Equatable {
        /// The absolute path read.
        public var path: String
        /// Keys whose value came from this file, in file order.
        public var provided: [String]
        /// Keys in this file that a higher source (the environment, or `OVA_ENV_FILE` over
        /// `.env`) already set.
        public var shadowed: [String]
    }

    /// The merged variables, for ``ServerConfiguration/load(environment:overrides:)``.
    public var environment: [String: String]
    /// The files read, in the order they were read (`.env` first).
    public var files: [FileReport]
    /// Duplicate keys within a file.
    public var warnings: [String]

    /// Merges `environment` with the `.env` files.
    ///
    /// - Parameters:
    ///   - overrides: the command line's settings; `OVA_ENV_FILE` there (`--env-file`) wins over
    ///     the environment's.
    ///   - workingDirectory: where `.env` is looked for and a relative `OVA_ENV_FILE` is resolved.
    /// - Throws: ``ConfigurationError`` for a bad line (file and line number, never the value),
    ///   a missing `OVA_ENV_FILE` file, or an existing `.env` that cannot be read.
    public static func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String: String] = [:],
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(ConfigurationError) -> ProcessEnvironment {
        // Lowest precedence first; each later file overrides the earlier ones.
        var sources: [(path: String, variable: String?)] = []
        let defaultPath = absolute(defaultFileName, in: workingDirectory)
        if FileManager.default.fileExists(atPath: defaultPath) {
            sources.append((defaultPath, nil))
        }
        if let named = [overrides[envFileVariable], environment[envFileVariable]].compactMap({ $0 }).first(where: { !$0.isEmpty }) {
            let path = absolute(named, in: workingDirectory)
            // OVA_ENV_FILE=.env is the default file named twice: read it once.
            if !sources.contains(where: { sameFile($0.path, path) }) {
                sources.append((path, envFileVariable))
            }
        }

        var parsed: [DotEnvFile] = []
        for source in sources {
            parsed.append(try DotEnvFile.load(path: source.path, variable: source.variable))
        }
        var merged = environment
        var files = [FileReport](repeating: FileReport(path: "", provided: [], shadowed: []), count: parsed.count)
        // Highest precedence first, so "already set" means "set by a stronger source".
        for index in parsed.indices.reversed() {
            let file = parsed[index]
            let values = file.values
            var report = FileReport(path: file.path, provided: [], shadowed: [])
            for key in file.keys {
                if let existing = merged[key], !existing.isEmpty {
                    report.shadowed.append(key)
                } else if let value = values[key] {
                    merged[key] = value
                    report.provided.append(key)
                }
            }
            files[index] = report
        }
        return ProcessEnvironment(environment: merged, files: files, warnings: parsed.flatMap(\.warnings))
    }

    /// Logs which files were read and which keys each provided (never a value), and the
    /// warnings. `ova-server` calls it once logging is set up.
    public func log(to logger: Logger) {
        for file in files {
            var message = "read \(file.provided.count) setting\(file.provided.count == 1 ? "" : "s") from \(file.path)"
            if !file.provided.isEmpty {
                message += ": " + file.provided.joined(separator: ", ")
            }
            if !file.shadowed.isEmpty {
                message += " (already set, so not taken from the file: " + file.shadowed.joined(separator: ", ") + ")"
            }
            logger.info("\(message)")
        }
        for warning in warnings {
            logger.warning("\(warning)")
        }
    }

    private static func absolute(_ path: String, in directory: String) -> String {
        let expanded = path.hasPrefix("/") ? path : directory + "/" + path
        return URL(fileURLWithPath: expanded).standardizedFileURL.path
    }

    private static func sameFile(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        var first = stat()
        var second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
