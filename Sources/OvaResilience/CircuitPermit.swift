import Synchronization

/// Permission for one call through a ``CircuitBreaker``; report how the call went exactly once.
///
/// Which outcome to report is the caller's decision, and the rule is: **only failures that
/// are the provider's fault count** (connection errors, timeouts, 5xx, rate limiting). Report
/// everything else with ``recordIgnored()``: the client cancelled, the request was rejected
/// as invalid (most 4xx), a local bug. Counting those would let one bad input or impatient
/// client open the breaker for every caller.
///
/// Only the first report counts. A permit released without any report counts as ignored, so
/// a forgotten permit cannot keep a half-open probe slot taken forever.
public final class CircuitPermit: Sendable {
    private let breaker: CircuitBreaker
    /// The breaker generation the permit was issued in; outcomes from an earlier generation
    /// (the breaker changed state meanwhile) update totals but not the state.
    let generation: UInt64
    /// Whether this call is one of the half-open probes.
    let isProbe: Bool
    private let reported = Atomic<Bool>(false)

    init(breaker: CircuitBreaker, generation: UInt64, isProbe: Bool) {
        self.breaker = breaker
        self.generation = generation
        self.isProbe = isProbe
    }

    deinit {
        if !self.reported.load(ordering: .acquiring) {
            self.breaker.record(.ignored, duration: nil, permit: self)
        }
    }

    /// The call succeeded after `duration` (slow if at least the configured slow duration).
    public func recordSuccess(duration: Duration) {
        guard self.claim() else { return }
        self.breaker.record(.success, duration: duration, permit: self)
    }

    /// The call failed through the provider's fault after `duration`; `errorDescription`
    /// becomes the snapshot's ``CircuitSnapshot/lastError``.
    public func recordFailure(duration: Duration, errorDescription: String) {
        guard self.claim() else { return }
        self.breaker.record(.failure(errorDescription), duration: duration, permit: self)
    }

    /// The call ended in a way that says nothing about the provider's health.
    public func recordIgnored() {
        guard self.claim() else { return }
        self.breaker.record(.ignored, duration: nil, permit: self)
    }

    /// True the first time only.
    private func claim() -> Bool {
        !self.reported.exchange(true, ordering: .acquiringAndReleasing)
    }
}
