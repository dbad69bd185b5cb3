import Synchronization

/// A queue state that parks at most one consuming task, as a continuation, while it waits.
///
/// ``InboundMessages`` and ``OutboundQueue`` both park their consumer under their lock and
/// must resume it with `CancellationError` when its task is cancelled; this is that one rule.
protocol ParkedWaiterState {
    associatedtype Resumed
    var waiter: CheckedContinuation<Resumed, any Error>? { get set }
}

extension Mutex where Value: ParkedWaiterState {
    /// Takes the parked waiter, if any, and resumes it with `CancellationError`: the
    /// `onCancel` half of a cancellable wait. Resumes outside the lock, like every other
    /// resume in these queues.
    func resumeWaiterCancelled() {
        let waiter = self.withLock { state in
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(throwing: CancellationError())
    }
}
