/// A circuit breaker's state and statistics at one instant, for metrics, health endpoints and
/// logs.
public struct CircuitSnapshot: Sendable, Equatable {
    /// The breaker's name.
    public let name: String
    /// The state (an open breaker whose open period has ended reads as half-open).
    public let state: CircuitBreaker.State
    /// Failed calls over the calls in the sliding window (0 when empty). The window restarts
    /// empty whenever the breaker closes.
    public let failureRate: Double
    /// Slow calls over the calls in the sliding window (0 when empty).
    public let slowCallRate: Double
    /// How many calls the sliding window holds now.
    public let bufferedCalls: Int
    /// The median duration of the last recorded calls (nearest rank), nil before any.
    public let p50Latency: Duration?
    /// The 99th percentile duration of the last recorded calls (nearest rank), nil before any.
    public let p99Latency: Duration?
    /// Calls recorded as a success or failure since the breaker was created.
    public let callsTotal: Int
    /// Calls recorded as a failure since the breaker was created.
    public let failuresTotal: Int
    /// Calls recorded as ignored (not the provider's fault) since the breaker was created.
    public let ignoredTotal: Int
    /// Calls refused because the breaker was open or out of probes.
    public let rejectedTotal: Int
    /// When the state last changed (creation counts).
    public let lastStateChange: ContinuousClock.Instant
    /// While open: how long until it half-opens; otherwise nil.
    public let retryAfter: Duration?
    /// The description of the last recorded failure, kept across state changes and resets.
    public let lastError: String?
}
