import Foundation
import Testing

/// The built `ova` executable, run as a user runs it: its own process, a token file of its own,
/// no OVA_* variables inherited from whoever runs the tests.
struct OvaProcess {
    /// What one run printed and how it ended.
    struct Result: Sendable {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// `ova` next to the test bundle: `swift build --build-tests` builds every product into the
    /// same directory.
    /// A product built beside the test bundle (`ova`, `ova-server`).
    static func product(_ name: String) -> URL {
        let tests = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return tests.deletingLastPathComponent().appendingPathComponent(name)
    }

    let directory: URL
    /// The program ``run(_:input:)`` starts.
    let executable: URL

    init(program: String = "ova") throws {
        self.executable = Self.product(program)
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    var tokenFile: URL { self.directory.appendingPathComponent("token") }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OVA_") }
        environment["OVA_TOKEN_FILE"] = self.tokenFile.path
        return environment
    }

    /// Runs `ova arguments` to the end; standard input is `input` (empty when nil).
    func run(
        _ arguments: [String], input: String = "", environment extra: [String: String] = [:], workingDirectory: URL? = nil
    ) async throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: self.executable.path), "build it first: swift build --build-tests")
        let id = UUID().uuidString
        let inputFile = self.directory.appendingPathComponent("\(id).in")
        let outputFile = self.directory.appendingPathComponent("\(id).out")
        let errorFile = self.directory.appendingPathComponent("\(id).err")
        try Data(input.utf8).write(to: inputFile)
        try Data().write(to: outputFile)
        try Data().write(to: errorFile)
        let process = Process()
        process.executableURL = self.executable
        process.arguments = arguments
        process.environment = self.environment.merging(extra) { $1 }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        // Waiting through the termination handler: a blocked cooperative thread could starve
        // the in-process server that the command talks to.
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return Result(
            status: status,
            standardOutput: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        )
    }

    /// Starts `ova arguments` with standard output a pipe and returns its first line as soon as
    /// it is written, then stops the process: what `ova call ... | jq` sees. For a command that
    /// does not end by itself: a line held in a buffer never comes, and after `limit` the
    /// process is stopped and the answer is empty.
    func firstLineThroughPipe(_ arguments: [String], limit: Duration = .seconds(60)) async throws -> String {
        try #require(FileManager.default.isExecutableFile(atPath: self.executable.path), "build ova first: swift build --build-tests")
        let process = Process()
        process.executableURL = self.executable
        process.arguments = arguments
        process.environment = self.environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        let watchdog = Task {
            try? await Task.sleep(for: limit)
            process.terminate()
        }
        let line: String = await withCheckedContinuation { continuation in
            // A thread of its own for the blocking reads (see `run`).
            Thread.detachNewThread {
                var bytes = Data()
                while !bytes.contains(UInt8(ascii: "\n")) {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    bytes.append(chunk)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
        watchdog.cancel()
        process.terminate()
        return line.split(separator: "\n").first.map(String.init) ?? ""
    }
}
