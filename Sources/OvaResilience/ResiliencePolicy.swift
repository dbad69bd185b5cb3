/// Everything that shapes how a ``ResilientExecutor`` calls one provider.
///
/// The defaults follow the Python backend this replaces (60 s overall, 3 retries), with a
/// per-attempt timeout so one hung connection cannot use up the whole budget.
public struct ResiliencePolicy: Sendable {
    /// The most a call may take, waiting, attempts and backoff included. A caller's deadline
    /// that comes sooner wins.
    public var overallTimeout: Duration
    /// The most one attempt may take (less when the overall deadline comes sooner).
    public var attemptTimeout: Duration
    /// How failed attempts are retried.
    public var retry: RetryPolicy
    /// When the provider's breaker opens and how it recovers.
    public var circuitBreaker: CircuitBreaker.Configuration
    /// Calls to the provider in flight at once.
    public var maxConcurrentCalls: Int
    /// Calls waiting for one of those slots; more are rejected at once.
    public var maxWaitingCalls: Int

    public init(
        overallTimeout: Duration = .seconds(60),
        attemptTimeout: Duration = .seconds(20),
        retry: RetryPolicy = RetryPolicy(),
        circuitBreaker: CircuitBreaker.Configuration = CircuitBreaker.Configuration(),
        maxConcurrentCalls: Int = 16,
        maxWaitingCalls: Int = 64
    ) {
        self.overallTimeout = overallTimeout
        self.attemptTimeout = attemptTimeout
        self.retry = retry
        self.circuitBreaker = circuitBreaker
        self.maxConcurrentCalls = maxConcurrentCalls
        self.maxWaitingCalls = maxWaitingCalls
    }
}
