import NIOCore
import Synchronization

/// What a task wants sent on one stream, in order.
enum OutboundItem: Sendable {
    case headers(Metadata)
    case message(ByteBuffer, endStream: Bool)
    case halfClose
    case trailers(Trailers)
}

/// Hands a stream's outbound items from the task producing them to the event loop.
///
/// Writers append and return at once while fewer than `highWatermark` bytes wait on the stream
/// and the connection's ``ConnectionWriteBudget`` has room; past either they suspend until the
/// event loop has sent enough (which it does only as the peer's flow-control windows and the
/// socket's writability allow). One scheduled drain takes everything queued, so a burst of
/// writes costs one event-loop hop and one flush.
final class OutboundQueue: Sendable {
    private struct State: ParkedWaiterState {
        var items: [OutboundItem] = []
        var queuedBytes = 0
        var drainScheduled = false
        var waiter: CheckedContinuation<Void, any Error>?
        var closedWith: RPCError?
        /// Bytes written since the writer last yielded its thread.
        var writtenSinceYield = 0
    }

    private let state = Mutex(State())
    private let highWatermark: Int
    private let lowWatermark: Int
    /// What the whole connection may hold; shared by its streams.
    private let budget: ConnectionWriteBudget
    /// Asks the event loop to call the connection's drain for this stream.
    private let scheduleDrain: @Sendable () -> Void

    init(highWatermark: Int, budget: ConnectionWriteBudget, scheduleDrain: @escaping @Sendable () -> Void) {
        self.highWatermark = highWatermark
        self.lowWatermark = highWatermark / 2
        self.budget = budget
        self.scheduleDrain = scheduleDrain
    }

    // MARK: - Producer (task)

    /// Queues an item, suspending while too much is already waiting.
    ///
    /// - Throws: the error the stream ended with (cancelled, deadline, reset by the peer).
    func write(_ item: OutboundItem, bytes: Int) async throws {
        let (schedule, mustWait, mustYield): (Bool, Bool, Bool) = try self.state.withLock { state in
            if let error = state.closedWith { throw error }
            state.items.append(item)
            state.queuedBytes += bytes
            state.writtenSinceYield += bytes
            let schedule = !state.drainScheduled
            state.drainScheduled = true
            let mustYield = state.writtenSinceYield >= Self.yieldThreshold
            if mustYield { state.writtenSinceYield = 0 }
            return (schedule, state.queuedBytes > self.highWatermark, mustYield)
        }
        let overBudget = self.budget.add(bytes)
        if schedule { self.scheduleDrain() }
        if mustWait {
            try await self.budget.writerWaiting { try await self.waitForRoom() }
        }
        if overBudget {
            try await self.budget.writerWaiting { try await self.budget.waitForRoom() }
            if let error = self.state.withLock({ $0.closedWith }) { throw error }
        } else if !mustWait, mustYield {
            // A writer that never suspends would keep a shared thread (an event loop, when
            // tasks run there) from draining and flushing: step aside once in a while.
            await Task.yield()
        }
    }

    /// A writer yields its thread once per this many bytes written without suspending.
    static let yieldThreshold = 64 * 1024

    /// Queues an item without waiting (final items: trailers, half-close).
    /// Returns false when the stream is already closed.
    @discardableResult
    func enqueue(_ item: OutboundItem, bytes: Int = 0) -> Bool {
        let schedule: Bool? = self.state.withLock { state in
            if state.closedWith != nil { return nil }
            state.items.append(item)
            state.queuedBytes += bytes
            let schedule = !state.drainScheduled
            state.drainScheduled = true
            return schedule
        }
        guard let schedule else { return false }
        _ = self.budget.add(bytes)
        if schedule { self.scheduleDrain() }
        return true
    }

    private func waitForRoom() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Bool, any Error> = self.state.withLock { state in
                    if let error = state.closedWith { return .failure(error) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.queuedBytes <= self.lowWatermark { return .success(true) }
                    state.waiter = continuation
                    return .success(false)
                }
                switch outcome {
                case .success(true): continuation.resume()
                case .success(false): break
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            self.state.resumeWaiterCancelled()
        }
    }

    // MARK: - Consumer (event loop)

    /// Everything queued since the last call; the next write schedules a new drain.
    func takeAll() -> [OutboundItem] {
        self.state.withLock { state in
            state.drainScheduled = false
            guard !state.items.isEmpty else { return [] }
            let items = state.items
            state.items = []
            return items
        }
    }

    /// The event loop has handed `bytes` to the channel.
    func sent(bytes: Int) {
        guard bytes > 0 else { return }
        let (counted, waiter): (Bool, CheckedContinuation<Void, any Error>?) = self.state.withLock { state in
            // After `close` the bytes were already released, with everything else queued.
            guard state.closedWith == nil else { return (false, nil) }
            state.queuedBytes -= bytes
            guard state.queuedBytes <= self.lowWatermark, let waiter = state.waiter else { return (true, nil) }
            state.waiter = nil
            return (true, waiter)
        }
        if counted { self.budget.release(bytes) }
        waiter?.resume()
    }

    /// The stream is over: pending and future writes fail with `error`, and what was still
    /// queued leaves the connection's budget. Idempotent.
    func close(_ error: RPCError) {
        let (waiter, dropped): (CheckedContinuation<Void, any Error>?, Int) = self.state.withLock { state in
            if state.closedWith == nil { state.closedWith = error }
            state.items = []
            let dropped = state.queuedBytes
            state.queuedBytes = 0
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, dropped)
        }
        self.budget.release(dropped)
        waiter?.resume(throwing: error)
    }
}
