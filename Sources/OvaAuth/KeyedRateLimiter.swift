import Synchronization

/// A token bucket per key (a peer address) for public endpoints: each key may make ``burst``
/// requests at once and ``ratePerSecond`` on average.
///
/// Implemented as the generic cell rate algorithm: per key only the time at which its bucket
/// would be full again is stored, and all arithmetic is on `Duration`, so delays are exact
/// and there is no floating point drift.
///
/// State lives in memory and is bounded by ``maxKeys``: beyond it, keys whose bucket has
/// refilled are dropped (they are indistinguishable from new keys), then the keys closest to
/// a full bucket. Eviction can only ever give a key a full bucket early, never refuse one.
public final class KeyedRateLimiter: Sendable {
    /// Tokens added per second.
    public let ratePerSecond: Double
    /// Bucket size: requests allowed at once after a quiet period.
    public let burst: Int
    /// The most keys tracked at once.
    public let maxKeys: Int

    /// Time one token takes to refill.
    private let interval: Duration
    /// How far ahead of now a key's full-again time may be and still allow a request: the
    /// refill time of `burst - 1` tokens.
    private let tolerance: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Per key, the instant its bucket is full again (the "theoretical arrival time").
    private let fullAt: Mutex<[String: ContinuousClock.Instant]>

    /// - Parameters:
    ///   - ratePerSecond: average requests per second per key (positive, finite).
    ///   - burst: requests a key may make at once (at least 1).
    ///   - maxKeys: the most keys kept in memory (at least 1).
    ///   - now: the clock; tests inject a manual one.
    public init(
        ratePerSecond: Double,
        burst: Int,
        maxKeys: Int = 100_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        precondition(ratePerSecond > 0 && ratePerSecond.isFinite, "ratePerSecond must be positive and finite")
        precondition(burst >= 1, "burst must be at least 1")
        precondition(maxKeys >= 1, "maxKeys must be at least 1")
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.maxKeys = maxKeys
        self.interval = .seconds(1 / ratePerSecond)
        self.tolerance = self.interval * (burst - 1)
        self.now = now
        self.fullAt = Mutex([:])
    }

    /// nil when `key` had a token (which is now used); otherwise how long until it has one.
    /// A refused request uses nothing.
    public func acquire(_ key: String) -> Duration? {
        let now = self.now()
        return self.fullAt.withLock { fullAt in
            let current = max(fullAt[key] ?? now, now)
            let allowedFrom = current - self.tolerance
            if allowedFrom > now {
                return allowedFrom - now
            }
            fullAt[key] = current + self.interval
            if fullAt.count > self.maxKeys {
                self.prune(&fullAt, now: now, keeping: key)
            }
            return nil
        }
    }

    /// How many keys are tracked now (for metrics and tests); never more than ``maxKeys``.
    public var trackedKeyCount: Int {
        self.fullAt.withLock { $0.count }
    }

    /// Drops keys whose bucket is full, then, if still above `maxKeys`, the keys nearest to a
    /// full bucket down to 90% of `maxKeys`, so the O(n) sweep runs once per `maxKeys / 10`
    /// new keys rather than on every one. `current`, the key that just used a token, is never
    /// evicted (with equal times it could otherwise get its token back at once).
    private func prune(
        _ fullAt: inout [String: ContinuousClock.Instant],
        now: ContinuousClock.Instant,
        keeping current: String
    ) {
        fullAt = fullAt.filter { $0.value > now }
        guard fullAt.count > self.maxKeys else { return }
        let target = self.maxKeys - max(1, self.maxKeys / 10)
        let nearestFull = fullAt.filter { $0.key != current }.sorted { $0.value < $1.value }
        for (key, _) in nearestFull.prefix(fullAt.count - target) {
            fullAt[key] = nil
        }
    }
}
