import Synchronization

/// One of a ``Bulkhead``'s concurrent-call slots; give it back with ``release()``.
///
/// Releasing twice is harmless, and a permit released by nobody is released when it is
/// deallocated, so a slot cannot leak (e.g. a permit granted just as its waiter timed out).
public final class BulkheadPermit: Sendable {
    private let bulkhead: Bulkhead
    private let released = Atomic<Bool>(false)

    init(bulkhead: Bulkhead) {
        self.bulkhead = bulkhead
    }

    deinit {
        self.release()
    }

    /// Frees the slot for the next waiter. Only the first call has an effect.
    public func release() {
        if !self.released.exchange(true, ordering: .acquiringAndReleasing) {
            self.bulkhead.releaseSlot()
        }
    }
}
