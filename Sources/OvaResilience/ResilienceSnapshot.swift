/// A ``ResilientExecutor``'s health at one instant: its breaker plus its bulkhead's load.
public struct ResilienceSnapshot: Sendable, Equatable {
    /// The executor's (provider's) name.
    public let name: String
    /// The circuit breaker's state and statistics.
    public let breaker: CircuitSnapshot
    /// Calls holding a bulkhead permit now (running, between attempts or backing off).
    public let inFlight: Int
    /// Calls waiting for a bulkhead permit now.
    public let waiting: Int
}
