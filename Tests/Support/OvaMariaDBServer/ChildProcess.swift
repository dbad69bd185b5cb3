import Foundation
import Glibc
import Synchronization

/// A child process whose exit any number of tasks can await, without blocking a thread.
final class ChildProcess: Sendable {
    enum Input {
        case null
        case file(URL)
        /// Duplicated onto the child's standard input; the caller closes its own copy.
        case fileDescriptor(Int32)
    }

    enum Output {
        case discard
        /// Standard output and standard error, truncated first.
        case file(URL)
    }

    let processIdentifier: Int32
    /// Held until the end: the terminationHandler belongs to it.
    private let process: Process
    private let exit: ExitSignal

    private init(process: Process, exit: ExitSignal) {
        self.process = process
        self.processIdentifier = process.processIdentifier
        self.exit = exit
    }

    /// Starts `executable` with an environment free of `MYSQL_*`/`MARIADB_*` variables (a
    /// developer's `MYSQL_PWD` or `MYSQL_UNIX_PORT` must not reach the test server or client).
    static func launch(_ executable: URL, arguments: [String], standardInput: Input = .null, output: Output) throws -> ChildProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("MYSQL_") && !key.hasPrefix("MARIADB_")
        }
        switch standardInput {
        case .null:
            process.standardInput = FileHandle.nullDevice
        case .file(let url):
            process.standardInput = try FileHandle(forReadingFrom: url)
        case .fileDescriptor(let descriptor):
            process.standardInput = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        }
        switch output {
        case .discard:
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        case .file(let url):
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            let handle = try FileHandle(forWritingTo: url)
            process.standardOutput = handle
            process.standardError = handle
        }
        let exit = ExitSignal()
        process.terminationHandler = { process in exit.finish(process.terminationStatus) }
        try process.run()
        return ChildProcess(process: process, exit: exit)
    }

    /// The exit status (or the signal that ended it), once the process has ended.
    var exitStatus: Int32? { self.exit.status }

    /// Returns when the process has ended (at once if it already has).
    @discardableResult
    func waitForExit() async -> Int32 {
        await self.exit.wait()
    }

    /// SIGTERM, then SIGKILL if the process is still running after `grace`; returns once it
    /// has ended.
    func terminate(grace: Duration) async {
        guard self.exitStatus == nil else { return }
        kill(self.processIdentifier, SIGTERM)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForExit() }
            group.addTask {
                guard (try? await Task.sleep(for: grace)) != nil, self.exitStatus == nil else { return }
                kill(self.processIdentifier, SIGKILL)
                await self.waitForExit()
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// The status a terminationHandler delivers, handed to every waiter.
private final class ExitSignal: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let state = Mutex(State())

    var status: Int32? { self.state.withLock { $0.status } }

    func finish(_ status: Int32) {
        let waiters = self.state.withLock { state in
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters {
            waiter.resume(returning: status)
        }
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = self.state.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status {
                continuation.resume(returning: status)
            }
        }
    }
}

/// A shell that cleans up after a test process that could not: it reads process ids (and
/// `forget <pid>` for those already ended) from a socket whose other end only the test process
/// holds; when that end closes, because the harness is done or because the test process died,
/// it kills the process groups still listed and removes the server's directory.
///
/// Groups, because `mariadb-install-db` is a script whose bootstrap `mariadbd` would outlive it
/// and write into the removed directory; Foundation starts every child as the leader of a group
/// of its own, so the group id is the process id.
final class Watchdog: Sendable {
    private let socket: Int32
    private let shell: ChildProcess
    private let closed = Mutex(false)

    private static let script = """
        dir=$1
        pids=
        while read -r line; do
          case $line in
            forget\\ *)
              keep=
              for pid in $pids; do [ "$pid" = "${line#forget }" ] || keep="$keep $pid"; done
              pids=$keep ;;
            *) pids="$pids $line" ;;
          esac
        done
        for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null; done
        # Until the killed groups are gone (at most 5 s), so that none writes after the removal.
        for _ in $(seq 100); do
          alive=
          for pid in $pids; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
          [ -z "$alive" ] && break
          sleep 0.05
        done
        rm -rf "$dir"
        """

    init(directory: URL) throws {
        var descriptors: [Int32] = [-1, -1]
        // Close-on-exec, so no other child inherits our end and keeps the watchdog waiting after
        // the test process is gone; the shell gets its end as standard input through dup2,
        // which clears the flag on that copy.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            throw MariaDBTestServerError(message: "socketpair failed: errno \(errno)", log: "")
        }
        do {
            self.shell = try ChildProcess.launch(
                URL(fileURLWithPath: "/bin/bash"),  // bash: dash's kill takes no process groups
                arguments: ["-c", Self.script, "ova-mariadb-watchdog", directory.path],
                standardInput: .fileDescriptor(descriptors[1]),
                output: .discard
            )
        } catch {
            close(descriptors[0])
            close(descriptors[1])
            throw error
        }
        close(descriptors[1])
        self.socket = descriptors[0]
    }

    /// Kill `pid` should the test process end without stopping it.
    func guardProcess(_ pid: Int32) {
        self.send("\(pid)\n")
    }

    /// `pid` has ended and been reaped: its number may be reused, never kill it.
    func forget(_ pid: Int32) {
        self.send("forget \(pid)\n")
    }

    /// Closes our end; the watchdog kills what is still listed, removes the directory and exits.
    /// Returns once it has.
    func finish() async {
        let first = self.closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first {
            close(self.socket)
        }
        await self.shell.waitForExit()
    }

    private func send(_ line: String) {
        let bytes = Array(line.utf8)
        self.closed.withLock { closed in
            guard !closed else { return }
            // MSG_NOSIGNAL: a watchdog that died must not take the test process down with SIGPIPE.
            _ = bytes.withUnsafeBytes { Glibc.send(self.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Loopback sockets, through the C library: Foundation has no client sockets on Linux.
public enum LoopbackPort {
    /// A TCP port of 127.0.0.1 that nothing listens on right now (the kernel's choice for port 0).
    public static func free() throws -> Int {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw MariaDBTestServerError(message: "socket failed: errno \(errno)", log: "")
        }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            throw MariaDBTestServerError(message: "cannot bind a loopback port: errno \(errno)", log: "")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum UnixSocket {
    /// Whether a connect to the unix socket at `path` succeeds now (the server listens).
    static func acceptsConnections(at path: String) -> Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
