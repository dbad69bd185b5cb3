/// How often and how far apart failed calls are retried: capped exponential backoff with
/// full jitter, deferring to the server's `Retry-After` within a bound.
///
/// Before retry `n` (0 for the first retry) the delay is a uniformly random point in
/// `0...min(maxBackoff, initialBackoff * multiplier^n)` ("full jitter": clients that failed
/// together do not retry together). A `Retry-After` from the error replaces that delay when it
/// is longer; one longer than ``maxRetryAfter`` ends the retries, since holding a request that
/// long helps neither the caller nor the provider.
public struct RetryPolicy: Sendable {
    /// Retries after the first attempt; a call makes at most `1 + maxRetries` attempts.
    public var maxRetries: Int
    /// The backoff ceiling before the first retry.
    public var initialBackoff: Duration
    /// The largest backoff ceiling.
    public var maxBackoff: Duration
    /// How much the ceiling grows per retry.
    public var multiplier: Double
    /// The longest `Retry-After` that is waited out; a longer one stops retrying.
    public var maxRetryAfter: Duration
    /// A random number in `0...1` (values outside are clamped); tests inject a constant.
    public var randomUnit: @Sendable () -> Double

    public init(
        maxRetries: Int = 3,
        initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(10),
        multiplier: Double = 2,
        maxRetryAfter: Duration = .seconds(30),
        randomUnit: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        precondition(maxRetries >= 0, "maxRetries must not be negative")
        precondition(initialBackoff >= .zero && maxBackoff >= initialBackoff, "need 0 <= initialBackoff <= maxBackoff")
        precondition(multiplier >= 1, "multiplier must be at least 1")
        precondition(maxRetryAfter >= .zero, "maxRetryAfter must not be negative")
        self.maxRetries = maxRetries
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.maxRetryAfter = maxRetryAfter
        self.randomUnit = randomUnit
    }

    /// A policy that never retries.
    public static var disabled: RetryPolicy {
        RetryPolicy(maxRetries: 0)
    }

    /// The upper bound of the jittered delay before retry `retry` (0 for the first retry):
    /// `min(maxBackoff, initialBackoff * multiplier^retry)`.
    public func backoffCeiling(forRetry retry: Int) -> Duration {
        precondition(retry >= 0, "retry numbers start at 0")
        // Multiply step by step and stop at the cap, so large retry numbers cannot overflow.
        var ceiling = self.initialBackoff
        for _ in 0..<retry {
            guard ceiling < self.maxBackoff else { break }
            ceiling = ceiling * self.multiplier
        }
        return min(ceiling, self.maxBackoff)
    }

    /// The delay before retry `retry` (0 for the first retry), given the `Retry-After` the
    /// failed call's error asked for, or nil when that exceeds ``maxRetryAfter`` and the call
    /// should not be retried at all.
    public func delay(forRetry retry: Int, retryAfter: Duration?) -> Duration? {
        if let retryAfter, retryAfter > self.maxRetryAfter {
            return nil
        }
        let unit = self.randomUnit()
        // `!(unit >= 0)` also catches NaN from a broken random source.
        let clamped = !(unit >= 0) ? 0 : min(unit, 1)
        let jittered = self.backoffCeiling(forRetry: retry) * clamped
        if let retryAfter, retryAfter > jittered {
            return retryAfter
        }
        return jittered
    }
}
