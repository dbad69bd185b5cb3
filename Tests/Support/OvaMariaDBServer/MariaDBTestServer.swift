import Foundation
import OvaTestSupport
import Synchronization

/// A throwaway MariaDB server for tests: Debian's `mariadbd`, started by the test process itself
/// in a temporary directory, with no system service and no configuration file involved.
///
/// ``start(serverArguments:)`` initializes a data directory (`mariadb-install-db --no-defaults`),
/// starts `mariadbd --no-defaults` listening on a free port of 127.0.0.1 and on a unix socket in
/// that directory, waits until it accepts connections, then creates the test account ``user``
/// with a random ``password`` and every privilege on the databases ``makeDatabase()`` creates
/// (`ovatest_…`), none elsewhere. Root logs in only through the socket, which only this user can
/// reach (the directory is 0700).
///
/// The server keeps MariaDB's compiled-in defaults, latin1 included: a table that does not ask
/// for utf8mb4 itself fails the 4-byte tests here as it would on such a production server.
///
/// ``stop()`` ends `mariadbd` and removes the directory, and is awaited. A test process that dies
/// first (a crash, a kill) leaves nothing either: a watchdog shell started with the server waits
/// for the test process's end of a socket pair to close, which the kernel does when it dies, and
/// then kills `mariadbd` and removes the directory.
///
/// Startup takes a few seconds (mostly `mariadb-install-db`), so tests share one server per
/// process (``shared()``, ``withMariaDB(_:)``) with a fresh database each, and only tests that
/// stop or break a server start their own (``withDedicatedMariaDB(_:)``).
public final class MariaDBTestServer: Sendable {
    /// The temporary directory holding the data directory, the socket, the pid file and `err.log`.
    public let directory: URL
    public let socketPath: String
    public let host = "127.0.0.1"
    public let port: Int
    /// The account tests log in as.
    public let user = "ova_test"
    public let password: String
    /// From the first file created to the account being ready.
    public let startupDuration: Duration
    /// `mariadbd`'s process id.
    public var processIdentifier: Int32 { self.mariadbd.processIdentifier }

    private var mariadbd: ChildProcess { self.process.withLock { $0 } }
    private let process: Mutex<ChildProcess>
    private let serverArguments: [String]
    private let watchdog: Watchdog
    private let tools: MariaDBTools
    private let state = Mutex(State())

    private struct State {
        var stopped = false
        var databases = 0
    }

    private init(
        directory: URL,
        port: Int,
        password: String,
        startupDuration: Duration,
        mariadbd: ChildProcess,
        serverArguments: [String],
        watchdog: Watchdog,
        tools: MariaDBTools
    ) {
        self.directory = directory
        self.socketPath = directory.appendingPathComponent(Layout.socket).path
        self.port = port
        self.password = password
        self.startupDuration = startupDuration
        self.process = Mutex(mariadbd)
        self.serverArguments = serverArguments
        self.watchdog = watchdog
        self.tools = tools
    }

    /// Starts a server of its own; ``stop()`` it (or use ``withDedicatedMariaDB(_:)``).
    ///
    /// - Parameter serverArguments: extra `mariadbd` options, e.g. `--max-connections=5`.
    /// - Throws: ``MariaDBTestServerError`` naming what failed, with the end of the server's log.
    public static func start(serverArguments: [String] = []) async throws -> MariaDBTestServer {
        let clock = ContinuousClock()
        let began = clock.now
        let tools = try MariaDBTools.locate()
        let directory = try Layout.makeDirectory()
        let watchdog: Watchdog
        do {
            watchdog = try Watchdog(directory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        var mariadbd: ChildProcess?
        do {
            try await Self.initializeDataDirectory(directory, tools: tools, watchdog: watchdog)
            let password = Self.randomPassword()
            var attempt = 1
            while true {
                let port = try LoopbackPort.free()
                let server = try Self.launch(directory, port: port, tools: tools, extra: serverArguments)
                mariadbd = server
                watchdog.guardProcess(server.processIdentifier)
                do {
                    try await Self.waitUntilAccepting(server, directory: directory, deadline: clock.now + .seconds(60))
                } catch let error as MariaDBTestServerError where error.portWasTaken && attempt < 3 {
                    // Another process took the port between our probe and mariadbd's bind.
                    watchdog.forget(server.processIdentifier)
                    attempt += 1
                    continue
                }
                let created = MariaDBTestServer(
                    directory: directory,
                    port: port,
                    password: password,
                    startupDuration: clock.now - began,
                    mariadbd: server,
                    serverArguments: serverArguments,
                    watchdog: watchdog,
                    tools: tools
                )
                try await created.runAsRoot(created.accountSQL())
                return created
            }
        } catch {
            if let mariadbd {
                await mariadbd.terminate(grace: .seconds(10))
                watchdog.forget(mariadbd.processIdentifier)
            }
            await watchdog.finish()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Kills `mariadbd` with SIGKILL, as a crash or a power cut would, then starts it again on
    /// the same data, port and socket, and returns once it accepts connections. InnoDB recovers
    /// from its redo log at that start: every committed transaction must still be there.
    public func crashAndRestart() async throws {
        let old = self.mariadbd
        kill(old.processIdentifier, SIGKILL)
        await old.waitForExit()
        self.watchdog.forget(old.processIdentifier)
        let server = try Self.launch(self.directory, port: self.port, tools: self.tools, extra: self.serverArguments)
        self.process.withLock { $0 = server }
        self.watchdog.guardProcess(server.processIdentifier)
        try await Self.waitUntilAccepting(server, directory: self.directory, deadline: .now + .seconds(60))
    }

    /// Ends `mariadbd` (SIGTERM, SIGKILL if it has not exited within 10 s) and removes the
    /// directory. Returns once both are done; later calls return at once.
    public func stop() async {
        let first = self.state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first {
            await self.mariadbd.terminate(grace: .seconds(10))
            self.watchdog.forget(self.mariadbd.processIdentifier)
        }
        await self.watchdog.finish()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// A new empty database (server defaults, so latin1 unless a table says otherwise) that
    /// ``user`` owns; ``dropDatabase(_:)`` removes it.
    public func makeDatabase() async throws -> MariaDBTestDatabase {
        let number = self.state.withLock { state in
            state.databases += 1
            return state.databases
        }
        let name = "ovatest_\(number)"
        try await self.runAsRoot("CREATE DATABASE `\(name)`;")
        return MariaDBTestDatabase(server: self, name: name)
    }

    /// Drops a database made by ``makeDatabase()``; a failure is written to standard error, as a
    /// cleanup has no one to throw to.
    public func dropDatabase(_ name: String) async {
        do {
            try await self.runAsRoot("DROP DATABASE IF EXISTS `\(name)`;")
        } catch {
            FileHandle.standardError.write(Data("MariaDBTestServer: cannot drop \(name): \(error)\n".utf8))
        }
    }

    /// Runs SQL as root through the `mariadb` command-line client, over the unix socket: the
    /// harness does not depend on the connection code under test.
    public func runAsRoot(_ sql: String) async throws {
        let id = UUID().uuidString
        let input = self.directory.appendingPathComponent("sql-\(id).in")
        let output = self.directory.appendingPathComponent("sql-\(id).out")
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }
        try Data(sql.utf8).write(to: input)
        let client = try ChildProcess.launch(
            self.tools.client,
            arguments: ["--no-defaults", "--socket=\(self.socketPath)", "--user=root", "--batch", "--connect-timeout=10"],
            standardInput: .file(input),
            output: .file(output)
        )
        let status = await client.waitForExit()
        guard status == 0 else {
            throw MariaDBTestServerError(
                message: "the mariadb client exited with status \(status)",
                log: (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            )
        }
    }

    // MARK: - Startup steps

    private func accountSQL() -> String {
        // Root keeps only root@localhost, the unix socket; the TCP port is for the test account.
        """
        DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
        FLUSH PRIVILEGES;
        CREATE USER '\(self.user)'@'%' IDENTIFIED BY '\(self.password)';
        GRANT ALL PRIVILEGES ON `ovatest\\_%`.* TO '\(self.user)'@'%';
        """
    }

    private static func initializeDataDirectory(_ directory: URL, tools: MariaDBTools, watchdog: Watchdog) async throws {
        let log = directory.appendingPathComponent(Layout.installLog)
        var arguments = [
            "--no-defaults",
            "--datadir=\(directory.appendingPathComponent(Layout.data).path)",
            // root@localhost logs in with a password (empty here), not as the Unix user root.
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            // Its own temporary directory: a starting mariadbd deletes every `#sql*` file in its
            // tmpdir, which in a shared /tmp are the temporary tables of a concurrent install.
            "--tmpdir=\(directory.path)",
        ] + Layout.innoDBSizing
        if geteuid() == 0 { arguments.append("--user=root") }
        let install = try ChildProcess.launch(tools.installDB, arguments: arguments, output: .file(log))
        watchdog.guardProcess(install.processIdentifier)
        let status = await install.waitForExit()
        watchdog.forget(install.processIdentifier)
        guard status == 0 else {
            throw MariaDBTestServerError(
                message: "mariadb-install-db exited with status \(status)",
                log: (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            )
        }
    }

    private static func launch(_ directory: URL, port: Int, tools: MariaDBTools, extra: [String]) throws -> ChildProcess {
        var arguments = [
            "--no-defaults",
            "--datadir=\(directory.appendingPathComponent(Layout.data).path)",
            "--socket=\(directory.appendingPathComponent(Layout.socket).path)",
            "--bind-address=127.0.0.1",
            "--port=\(port)",
            "--pid-file=\(directory.appendingPathComponent("mariadbd.pid").path)",
            "--log-error=\(directory.appendingPathComponent(Layout.errorLog).path)",
            "--tmpdir=\(directory.path)",
            "--skip-name-resolve",
        ] + Layout.innoDBSizing
        if geteuid() == 0 { arguments.append("--user=root") }
        return try ChildProcess.launch(tools.server, arguments: arguments + extra, output: .discard)
    }

    /// Polls the unix socket until a connect succeeds; fails early if `mariadbd` exits.
    private static func waitUntilAccepting(_ mariadbd: ChildProcess, directory: URL, deadline: ContinuousClock.Instant) async throws {
        let socketPath = directory.appendingPathComponent(Layout.socket).path
        let errorLog = directory.appendingPathComponent(Layout.errorLog)
        while true {
            if let status = mariadbd.exitStatus {
                throw MariaDBTestServerError(
                    message: "mariadbd exited with status \(status) while starting",
                    log: (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
                )
            }
            if UnixSocket.acceptsConnections(at: socketPath) { return }
            if ContinuousClock.now >= deadline {
                await mariadbd.terminate(grace: .seconds(10))
                throw MariaDBTestServerError(
                    message: "mariadbd did not accept connections on \(socketPath) within 60 s",
                    log: (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func randomPassword() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(UInt8.random(in: 0..<16, using: &generator), radix: 16) }.joined()
    }
}

/// Why a test server could not start or take a command, with the end of the relevant log.
public struct MariaDBTestServerError: Error, CustomStringConvertible {
    public let message: String
    public let log: String

    /// The message, then the log's lines that report errors and its last 20 lines.
    public var description: String {
        let lines = self.log.split(separator: "\n")
        guard !lines.isEmpty else { return self.message }
        let errors = lines.dropLast(20).filter { $0.contains("ERROR") }.prefix(10)
        let shown = (errors.isEmpty ? [] : errors + ["…"]) + lines.suffix(20)
        return "\(self.message); log:\n" + shown.joined(separator: "\n")
    }

    var portWasTaken: Bool {
        self.log.contains("Address already in use")
    }
}

/// One database of a test server, made for one test.
public struct MariaDBTestDatabase: Sendable {
    public let server: MariaDBTestServer
    public let name: String
}

extension MariaDBTestServer {
    /// The server this test process shares, started by the first caller. Its directory and
    /// process go when the test process ends (see the watchdog in the type's documentation).
    public static func shared() async throws -> MariaDBTestServer {
        try await SharedMariaDBTestServer.instance.server()
    }
}

/// Runs `body` with a fresh database on the shared server, dropped afterwards (awaited, also
/// when `body` throws).
public func withMariaDB<Result>(_ body: (MariaDBTestDatabase) async throws -> Result) async throws -> Result {
    let server = try await MariaDBTestServer.shared()
    let database = try await server.makeDatabase()
    return try await withAsyncCleanup {
        try await body(database)
    } cleanup: {
        await server.dropDatabase(database.name)
    }
}

/// Runs `body` with a server of its own, for tests that stop or break it; the server is stopped
/// and its directory removed afterwards (awaited, also when `body` throws).
public func withDedicatedMariaDB<Result>(
    serverArguments: [String] = [],
    _ body: (MariaDBTestServer) async throws -> Result
) async throws -> Result {
    let server = try await MariaDBTestServer.start(serverArguments: serverArguments)
    return try await withAsyncCleanup {
        try await body(server)
    } cleanup: {
        await server.stop()
    }
}

private actor SharedMariaDBTestServer {
    static let instance = SharedMariaDBTestServer()
    private var starting: Task<MariaDBTestServer, any Error>?

    func server() async throws -> MariaDBTestServer {
        if let starting {
            return try await starting.value
        }
        // A failed start is kept too: every later test gets the same error at once.
        let task = Task.detached {
            let server = try await MariaDBTestServer.start()
            FileHandle.standardError.write(Data(
                "MariaDBTestServer: shared mariadbd (pid \(server.processIdentifier), port \(server.port)) ready in \(server.startupDuration)\n".utf8
            ))
            return server
        }
        self.starting = task
        return try await task.value
    }
}

/// File names inside a server's directory, and the sizes that keep it small (26 MB instead of
/// 114 MB; a test server holds little data).
private enum Layout {
    static let data = "data"
    static let socket = "mariadbd.sock"
    static let errorLog = "err.log"
    static let installLog = "install.log"
    static let innoDBSizing = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]

    /// A new 0700 directory under the temporary directory, or under /tmp when that path would
    /// make the socket's path longer than a unix socket address allows (108 bytes).
    static func makeDirectory() throws -> URL {
        let name = "ova-mariadb-\(UUID().uuidString.prefix(8))"
        var parent = FileManager.default.temporaryDirectory
        if parent.appendingPathComponent(name).appendingPathComponent(Self.socket).path.utf8.count > 100 {
            parent = URL(fileURLWithPath: "/tmp")
        }
        let directory = parent.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory
    }
}

/// Where Debian's mariadb-server and mariadb-client put their programs (`mariadbd` is in
/// /usr/sbin, which is not on every user's PATH).
private struct MariaDBTools: Sendable {
    let server: URL
    let installDB: URL
    let client: URL

    static func locate() throws -> MariaDBTools {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]
        func find(_ name: String) throws -> URL {
            for directory in directories {
                let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
            throw MariaDBTestServerError(message: "\(name) not found on PATH or in /usr/sbin: `make deps` installs mariadb-server", log: "")
        }
        return MariaDBTools(server: try find("mariadbd"), installDB: try find("mariadb-install-db"), client: try find("mariadb"))
    }
}
