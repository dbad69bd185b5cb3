/// Thrown by ``Bulkhead/acquire()`` when no permit was obtained.
public struct BulkheadFull: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why no permit was obtained.
    public enum Reason: Sendable, Equatable {
        /// Every slot was taken and the waiting queue was full: rejected without waiting.
        case queueFull
        /// The task was cancelled while waiting in the queue (or before it got there).
        /// `acquire()` throws only `BulkheadFull`, so cancellation is reported this way;
        /// ``ResilientExecutor`` turns it back into `CancellationError`.
        case cancelled
    }

    /// The bulkhead that refused.
    public let bulkheadName: String
    public let reason: Reason

    public init(bulkheadName: String, reason: Reason) {
        self.bulkheadName = bulkheadName
        self.reason = reason
    }

    public var description: String {
        switch self.reason {
        case .queueFull: "bulkhead '\(self.bulkheadName)' is full"
        case .cancelled: "cancelled while waiting for bulkhead '\(self.bulkheadName)'"
        }
    }
}
