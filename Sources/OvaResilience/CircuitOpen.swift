/// Thrown by ``CircuitBreaker/acquirePermission()`` when the breaker turns a call away.
public struct CircuitOpen: Error, Sendable, Equatable, CustomStringConvertible {
    /// The breaker that refused, i.e. the provider that is considered down.
    public let breakerName: String
    /// How long until the breaker may let a call through again: the rest of the open period,
    /// or, when half-open with every probe slot taken, the configured hint
    /// (``CircuitBreaker/Configuration/halfOpenRetryAfter``).
    public let retryAfter: Duration
    /// ``CircuitBreaker/State/open`` or ``CircuitBreaker/State/halfOpen``.
    public let state: CircuitBreaker.State

    public init(breakerName: String, retryAfter: Duration, state: CircuitBreaker.State) {
        self.breakerName = breakerName
        self.retryAfter = retryAfter
        self.state = state
    }

    public var description: String {
        "circuit breaker '\(self.breakerName)' is \(self.state); retry after \(self.retryAfter)"
    }
}
