/// The health of one provider as the Status service reports it.
public struct ProviderHealth: Sendable, Equatable {
    public enum CircuitState: Sendable, Equatable {
        case closed, open, halfOpen
        /// Local engines have no breaker.
        case notApplicable
    }

    public var name: String
    public var capability: String
    public var configured: Bool
    public var circuitState: CircuitState
    public var errorRate: Double
    public var p50LatencyMilliseconds: UInt64
    public var p99LatencyMilliseconds: UInt64
    public var callsTotal: UInt64
    public var failuresTotal: UInt64
    public var stateChangedAtUnixMilliseconds: UInt64
    public var retryAfterMilliseconds: UInt64
    public var lastError: String

    public init(
        name: String, capability: String, configured: Bool, circuitState: CircuitState, errorRate: Double = 0,
        p50LatencyMilliseconds: UInt64 = 0, p99LatencyMilliseconds: UInt64 = 0, callsTotal: UInt64 = 0, failuresTotal: UInt64 = 0,
        stateChangedAtUnixMilliseconds: UInt64 = 0, retryAfterMilliseconds: UInt64 = 0, lastError: String = ""
    ) {
        self.name = name
        self.capability = capability
        self.configured = configured
        self.circuitState = circuitState
        self.errorRate = errorRate
        self.p50LatencyMilliseconds = p50LatencyMilliseconds
        self.p99LatencyMilliseconds = p99LatencyMilliseconds
        self.callsTotal = callsTotal
        self.failuresTotal = failuresTotal
        self.stateChangedAtUnixMilliseconds = stateChangedAtUnixMilliseconds
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.lastError = lastError
    }
}

/// Where the Status service reads provider health, resets breakers and watches changes.
public protocol ProviderMonitor: Sendable {
    func providers() -> [ProviderHealth]
    /// Forces a provider's breaker closed; nil for an unknown provider.
    func resetCircuitBreaker(_ name: String) -> ProviderHealth?
    /// Every breaker state change from now on, until the stream is dropped.
    func stateChanges() -> AsyncStream<ProviderHealth>
}
