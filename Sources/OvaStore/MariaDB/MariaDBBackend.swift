import NIOPosix
import Synchronization

/// How OVA uses a MariaDB (or MySQL) server: where it is, and the pool in front of it.
public struct MariaDBStoreOptions: Sendable, Equatable {
    public var connection: MariaDBConfiguration
    /// Connections (and threads) in the pool: at most this many statements run at once.
    public var poolSize: Int
    /// How long an operation may wait for a free connection before it fails as unavailable.
    public var acquireTimeout: Duration

    public init(connection: MariaDBConfiguration, poolSize: Int = 10, acquireTimeout: Duration = .seconds(5)) {
        self.connection = connection
        self.poolSize = poolSize
        self.acquireTimeout = acquireTimeout
    }
}

/// What a backend's connections are doing, as `GetStatus` reports it.
public struct DatabasePoolStatus: Sendable, Equatable {
    /// The most connections the backend opens.
    public var size: Int
    /// Connections running an operation now.
    public var inUse: Int
    /// Open connections waiting for work.
    public var idle: Int
    /// Operations waiting for a connection.
    public var waiting: Int
}

/// MariaDB behind ``Database``: a pool of blocking Connector/C connections on dedicated threads.
///
/// Connector/C's calls block on the network, so they run on `poolSize` threads of their own,
/// never on an event loop; each running operation holds one connection, so there are never
/// more connections than threads and a thread never waits for a connection. Operations beyond
/// the pool queue, and one that has not started within `acquireTimeout` fails with
/// ``StoreError/unavailable(_:)`` instead of waiting on (a stuck database must not hang every
/// call behind it). The connector's non-blocking API would save the threads but not the round
/// trips, which are what an operation costs; docs/ARCHITECTURE.md has the comparison.
///
/// A connection whose server went away is dropped, never reused, and the next operation opens a
/// new one: a restart of the server fails the operations in flight (UNAVAILABLE) and nothing
/// after them. One idle for a second or more is pinged before use, so a restart while the pool
/// was quiet costs no call at all. A transaction that InnoDB chose as a deadlock victim was
/// rolled back whole and is run again, up to three times.
final class MariaDBBackend: Sendable {
    private let threads: NIOThreadPool
    private let state: Mutex<PoolState>
    let options: MariaDBStoreOptions
    /// The server's version string, from the first connection.
    let serverVersion: String

    private struct PoolState {
        var idle: [PooledConnection] = []
        var inUse = 0
        var waiting = 0
    }

    /// A connection the pool keeps between operations. `@unchecked Sendable` is sound because
    /// the pool hands it to one job at a time, through `state`'s lock.
    private final class PooledConnection: @unchecked Sendable {
        let connection: MariaDBStoreConnection
        var idleSince = ContinuousClock.now

        init(_ connection: MariaDBStoreConnection) {
            self.connection = connection
        }
    }

    /// An idle connection unused this long is pinged before it is handed out.
    private static let validationAge: Duration = .seconds(1)
    /// Runs of a transaction that InnoDB rolled back as a deadlock victim.
    private static let deadlockAttempts = 3

    private init(threads: NIOThreadPool, options: MariaDBStoreOptions, first: MariaDBStoreConnection) {
        self.threads = threads
        self.options = options
        self.serverVersion = first.driver.serverVersion
        var state = PoolState()
        state.idle.append(PooledConnection(first))
        self.state = Mutex(state)
    }

    /// Starts the pool's threads and opens its first connection, so a wrong address or
    /// password fails here, at startup, and not at the first call.
    ///
    /// - Throws: ``StoreError/unavailable(_:)`` naming the account, the endpoint and the setting
    ///   to check.
    static func open(_ options: MariaDBStoreOptions) async throws(StoreError) -> MariaDBBackend {
        let threads = NIOThreadPool(numberOfThreads: max(1, options.poolSize))
        threads.start()
        do {
            let first = try await threads.runIfActive { () throws -> ConnectionHandOff in
                ConnectionHandOff(try Self.connect(options.connection))
            }
            return MariaDBBackend(threads: threads, options: options, first: first.connection)
        } catch {
            try? await threads.shutdownGracefully()
            throw Database.storeError(error)
        }
    }

    /// Runs `body` with a pooled connection on one of the pool's threads.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.submit { () throws(StoreError) -> T in
            try self.run(body, deadlockAttempts: 1)
        }
    }

    /// Runs `body` in a transaction, again should InnoDB roll it back as a deadlock victim.
    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await self.submit { () throws(StoreError) -> T in
            try self.run({ connection throws(StoreError) in
                try connection.transaction { () throws(StoreError) -> T in try body(connection) }
            }, deadlockAttempts: Self.deadlockAttempts)
        }
    }

    /// What the pool's connections are doing now.
    var status: DatabasePoolStatus {
        self.state.withLock { state in
            DatabasePoolStatus(size: self.options.poolSize, inUse: state.inUse, idle: state.idle.count, waiting: state.waiting)
        }
    }

    /// Stops the threads after the operations already queued, then closes every connection.
    func close() async {
        try? await self.threads.shutdownGracefully()
        let idle = self.state.withLock { state in
            defer { state.idle.removeAll() }
            return state.idle
        }
        _ = idle  // Closed by their deinit, here, with no thread left to use them.
    }

    // MARK: - Jobs

    /// Queues `job` on the pool and waits for its result, or for `acquireTimeout` if it has not
    /// started by then.
    private func submit<T: Sendable>(_ job: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        let pending = PendingOperation<T>()
        let mustWait = self.state.withLock { state in
            state.waiting += 1
            return state.inUse + state.waiting > self.options.poolSize
        }
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            pending.waitFor(continuation)
            if mustWait {
                // Armed before the job is queued, so a job that starts at once cancels it.
                let timeout = self.options.acquireTimeout
                let size = self.options.poolSize
                pending.timer = Task {
                    try? await Task.sleep(for: timeout)
                    if pending.abandon(.unavailable("all \(size) database connections stayed busy for \(timeout) (OVA_DB_POOL_SIZE)")) {
                        self.state.withLock { $0.waiting -= 1 }
                    }
                }
            }
            self.threads.submit { workState in
                guard pending.start() else { return }  // Timed out while queued.
                self.state.withLock { state in
                    state.waiting -= 1
                    state.inUse += 1
                }
                let result: Result<T, StoreError>
                if case .active = workState {
                    do throws(StoreError) {
                        result = .success(try job())
                    } catch {
                        result = .failure(error)
                    }
                } else {
                    result = .failure(.unavailable("the database is closed"))
                }
                // Counted out before the caller resumes, so what it reads next is current.
                self.state.withLock { $0.inUse -= 1 }
                pending.finish(result)
            }
        }
        return try result.get()
    }

    /// Runs `body` on a connection from the pool (or a new one), returning the connection unless
    /// it broke.
    private func run<T>(_ body: (any SQLConnection) throws(StoreError) -> T, deadlockAttempts: Int) throws(StoreError) -> T {
        var attempt = 1
        while true {
            let pooled = try self.checkOut()
            pooled.connection.clearFailure()
            do {
                let value = try body(pooled.connection)
                self.checkIn(pooled)
                return value
            } catch {
                let failure = pooled.connection.lastFailure
                self.checkIn(pooled)
                if let failure, failure.isDeadlock, attempt < deadlockAttempts {
                    attempt += 1
                    continue
                }
                throw error
            }
        }
    }

    private func checkOut() throws(StoreError) -> PooledConnection {
        while let pooled = self.state.withLock({ $0.idle.popLast() }) {
            guard pooled.idleSince.duration(to: .now) >= Self.validationAge else { return pooled }
            do {
                try pooled.connection.driver.ping()
                return pooled
            } catch {
                continue  // Gone with its server; dropped here.
            }
        }
        do {
            return PooledConnection(try Self.connect(self.options.connection))
        } catch {
            throw Database.storeError(error)
        }
    }

    private func checkIn(_ pooled: PooledConnection) {
        guard !pooled.connection.driver.isBroken else { return }
        pooled.idleSince = .now
        self.state.withLock { $0.idle.append(pooled) }
    }

    private static func connect(_ configuration: MariaDBConfiguration) throws(StoreError) -> MariaDBStoreConnection {
        do {
            return MariaDBStoreConnection(try MariaDBConnection(configuration))
        } catch {
            throw .unavailable("\(error.message)\(error.settingHint.map { " (\($0))" } ?? "")")
        }
    }
}

/// Carries the first connection from the pool's thread to the pool. `@unchecked Sendable` is
/// sound because it is handed over once, and nothing else holds the connection.
private final class ConnectionHandOff: @unchecked Sendable {
    let connection: MariaDBStoreConnection

    init(_ connection: MariaDBStoreConnection) {
        self.connection = connection
    }
}

/// One operation's way from the caller to a pool thread and back: exactly one of the thread
/// (``start()`` then ``finish(_:)``) and the acquire timer (``abandon(_:)``) resumes the caller.
private final class PendingOperation<T: Sendable>: Sendable {
    private enum Phase {
        case created
        case queued(CheckedContinuation<Result<T, StoreError>, Never>)
        case running(CheckedContinuation<Result<T, StoreError>, Never>)
        case done
    }

    private let phase = Mutex<Phase>(.created)
    private let timerTask = Mutex<Task<Void, Never>?>(nil)

    var timer: Task<Void, Never>? {
        get { self.timerTask.withLock { $0 } }
        set { self.timerTask.withLock { $0 = newValue } }
    }

    func waitFor(_ continuation: CheckedContinuation<Result<T, StoreError>, Never>) {
        self.phase.withLock { $0 = .queued(continuation) }
    }

    /// A pool thread takes the operation; false if it was abandoned first.
    func start() -> Bool {
        let started = self.phase.withLock { phase -> Bool in
            guard case .queued(let continuation) = phase else { return false }
            phase = .running(continuation)
            return true
        }
        if started { self.timer?.cancel() }
        return started
    }

    func finish(_ result: Result<T, StoreError>) {
        let continuation = self.phase.withLock { phase -> CheckedContinuation<Result<T, StoreError>, Never>? in
            guard case .running(let continuation) = phase else { return nil }
            phase = .done
            return continuation
        }
        continuation?.resume(returning: result)
    }

    /// The acquire timer gives up on an operation still queued; false if a thread has it.
    func abandon(_ error: StoreError) -> Bool {
        let continuation = self.phase.withLock { phase -> CheckedContinuation<Result<T, StoreError>, Never>? in
            guard case .queued(let continuation) = phase else { return nil }
            phase = .done
            return continuation
        }
        continuation?.resume(returning: .failure(error))
        return continuation != nil
    }
}
