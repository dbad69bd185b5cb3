import Synchronization

/// The bytes all the streams of one connection have queued for sending and not yet handed to
/// the channel, bounded: past `limit` every writer of the connection suspends until the event
/// loop has sent enough to fall below half of it.
///
/// Flow control protects the peer; this protects the server. A peer that advertises huge
/// windows and never reads would otherwise make its handlers queue without end
/// (docs/PROTOCOL.md §13, docs/PERFORMANCE.md "Memory and CPU under abuse"). Writers that
/// stay under the limit pay two atomic adds per message and take no lock.
final class ConnectionWriteBudget: Sendable {
    let limit: Int
    private let queued = Atomic<Int>(0)
    private let hasWaiters = Atomic<Bool>(false)
    private let waiters = Mutex<Waiters>(Waiters())

    private struct Waiters {
        var next = 0
        var continuations: [Int: CheckedContinuation<Void, any Error>] = [:]
    }

    /// Counts the writers waiting on this connection (server side), for operators and tests.
    private let metrics: ServerMetrics?

    init(limit: Int, metrics: ServerMetrics? = nil) {
        self.limit = max(1, limit)
        self.metrics = metrics
    }

    /// Brackets a writer's wait (for its stream's queue or for this budget).
    func writerWaiting<T>(_ wait: () async throws -> T) async throws -> T {
        self.metrics?.writerWaits(1)
        defer { self.metrics?.writerWaits(-1) }
        return try await wait()
    }

    /// Bytes queued now (for tests and metrics).
    var queuedBytes: Int { self.queued.load(ordering: .relaxed) }

    /// Counts `bytes` more; true when the connection is now over its limit.
    func add(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return false }
        return self.queued.wrappingAdd(bytes, ordering: .sequentiallyConsistent).newValue > self.limit
    }

    /// `bytes` left the queues (sent or dropped); wakes the writers once below half the limit.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let now = self.queued.wrappingSubtract(bytes, ordering: .sequentiallyConsistent).newValue
        guard now <= self.limit / 2, self.hasWaiters.load(ordering: .sequentiallyConsistent) else { return }
        let woken: [CheckedContinuation<Void, any Error>] = self.waiters.withLock { waiters in
            guard self.queued.load(ordering: .sequentiallyConsistent) <= self.limit / 2 else { return [] }
            self.hasWaiters.store(false, ordering: .sequentiallyConsistent)
            defer { waiters.continuations = [:] }
            return Array(waiters.continuations.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Suspends until the connection's queued bytes are at most half the limit.
    func waitForRoom() async throws {
        let id: Int = self.waiters.withLock { waiters in
            defer { waiters.next += 1 }
            return waiters.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let parked: Bool = self.waiters.withLock { waiters in
                    if Task.isCancelled { return false }
                    self.hasWaiters.store(true, ordering: .sequentiallyConsistent)
                    // Checked after raising the flag: a release that lowered the count before
                    // it saw the flag cannot leave this writer asleep.
                    guard self.queued.load(ordering: .sequentiallyConsistent) > self.limit / 2 else { return false }
                    waiters.continuations[id] = continuation
                    return true
                }
                if !parked {
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume()
                    }
                }
            }
        } onCancel: {
            let continuation = self.waiters.withLock { $0.continuations.removeValue(forKey: id) }
            continuation?.resume(throwing: CancellationError())
        }
    }
}
