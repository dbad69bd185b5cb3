import Synchronization

/// Limits how many calls to one provider run at once, with a bounded FIFO queue behind them.
///
/// A slow provider otherwise ties up every request handler waiting on it. With
/// ``maxConcurrentCalls`` running, up to ``maxWaitingCalls`` more wait in arrival order; any
/// beyond that are rejected immediately rather than queued without bound.
public final class Bulkhead: Sendable {
    /// How a wait for a slot ended.
    private enum Grant {
        case granted
        case full
        case cancelled
    }

    private struct Waiter {
        let id: UInt64
        /// Resumed with `.granted` when handed a slot, `.cancelled` when its task is cancelled.
        let continuation: CheckedContinuation<Grant, Never>
    }

    private struct State {
        var inFlight = 0
        var nextID: UInt64 = 0
        /// Oldest first.
        var waiters: [Waiter] = []
    }

    /// Identifies the bulkhead in errors.
    public let name: String
    /// The most permits held at once.
    public let maxConcurrentCalls: Int
    /// The most callers waiting for a permit at once; 0 rejects as soon as all are taken.
    public let maxWaitingCalls: Int
    private let state = Mutex(State())

    public init(name: String, maxConcurrentCalls: Int, maxWaitingCalls: Int) {
        precondition(maxConcurrentCalls >= 1, "maxConcurrentCalls must be at least 1")
        precondition(maxWaitingCalls >= 0, "maxWaitingCalls must not be negative")
        self.name = name
        self.maxConcurrentCalls = maxConcurrentCalls
        self.maxWaitingCalls = maxWaitingCalls
    }

    /// Permits held now.
    public var inFlight: Int {
        self.state.withLock { $0.inFlight }
    }

    /// Callers waiting for a permit now.
    public var waiting: Int {
        self.state.withLock { $0.waiters.count }
    }

    /// A permit if one is free right now, without waiting; nil otherwise.
    public func tryAcquire() -> BulkheadPermit? {
        let granted = self.state.withLock { state in
            // Never overtake waiters (there are none while a slot is free, as releases hand
            // slots straight to them, but stay FIFO even if that changes).
            guard state.inFlight < self.maxConcurrentCalls, state.waiters.isEmpty else { return false }
            state.inFlight += 1
            return true
        }
        return granted ? BulkheadPermit(bulkhead: self) : nil
    }

    /// A permit: at once if one is free; otherwise after the callers queued earlier, if the
    /// queue has room; otherwise throws ``BulkheadFull/Reason/queueFull`` immediately.
    /// Cancelling the task while it waits throws ``BulkheadFull/Reason/cancelled``.
    public func acquire() async throws(BulkheadFull) -> BulkheadPermit {
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let grant = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Grant, Never>) in
                // Checking cancellation under the lock the handler takes closes the race where
                // the handler runs before the waiter is queued and finds nothing to cancel.
                let immediate = self.state.withLock { state -> Grant? in
                    if state.inFlight < self.maxConcurrentCalls, state.waiters.isEmpty {
                        state.inFlight += 1
                        return .granted
                    }
                    if Task.isCancelled { return .cancelled }
                    guard state.waiters.count < self.maxWaitingCalls else { return .full }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: .cancelled)
        }
        switch grant {
        case .granted:
            return BulkheadPermit(bulkhead: self)
        case .full:
            throw BulkheadFull(bulkheadName: self.name, reason: .queueFull)
        case .cancelled:
            throw BulkheadFull(bulkheadName: self.name, reason: .cancelled)
        }
    }

    /// Gives a released slot to the longest waiter, or frees it.
    func releaseSlot() {
        let next = self.state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.inFlight -= 1
                return nil
            }
            // The slot passes straight to the waiter: inFlight stays the same.
            return state.waiters.removeFirst()
        }
        next?.continuation.resume(returning: .granted)
    }
}
