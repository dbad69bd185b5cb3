import Synchronization

/// Locks a key (an account or a peer address) after too many failed logins in a short time.
///
/// Callers check ``retryAfter(_:)`` before verifying a password, then report the outcome
/// with ``recordFailure(_:)`` or ``recordSuccess(_:)``. They throttle on two keys,
/// `"account:<email>"` (guessing one account's password from anywhere) and `"peer:<ip>"`
/// (one peer trying many accounts).
///
/// Failures count in a sliding window: ``maxFailures`` failures less than ``failureWindow``
/// apart lock the key for ``lockout``. Failures reported while a key is locked do not extend
/// the lock, so an attacker cannot keep an account locked for longer than by waiting and
/// trying again.
///
/// State lives in memory (it resets on restart) and is bounded by ``maxKeys``: beyond it,
/// entries that no longer matter are dropped, then the least recently active ones. An
/// attacker who makes failures on more than `maxKeys` distinct keys within one lockout can
/// therefore push out an older lock; the peer key limits how fast one peer can do that.
public final class LoginThrottle: Sendable {
    /// Failures within ``failureWindow`` that lock a key.
    public let maxFailures: Int
    /// How far apart failures may be and still add up.
    public let failureWindow: Duration
    /// How long a key stays locked.
    public let lockout: Duration
    /// The most keys tracked at once.
    public let maxKeys: Int

    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries: Mutex<[String: Entry]>

    private struct Entry {
        /// Recent failures, oldest first; never more than `maxFailures`.
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
        var lastActivity: ContinuousClock.Instant
    }

    /// - Parameters:
    ///   - maxFailures: failures that lock a key (at least 1).
    ///   - failureWindow: the window failures are counted in (positive).
    ///   - lockout: how long a locked key stays locked (positive).
    ///   - maxKeys: the most keys kept in memory (at least 1).
    ///   - now: the clock; tests inject a manual one.
    public init(
        maxFailures: Int = 5,
        failureWindow: Duration = .seconds(900),
        lockout: Duration = .seconds(900),
        maxKeys: Int = 100_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        precondition(maxFailures >= 1, "maxFailures must be at least 1")
        precondition(failureWindow > .zero && lockout > .zero, "failureWindow and lockout must be positive")
        precondition(maxKeys >= 1, "maxKeys must be at least 1")
        self.maxFailures = maxFailures
        self.failureWindow = failureWindow
        self.lockout = lockout
        self.maxKeys = maxKeys
        self.now = now
        self.entries = Mutex([:])
    }

    /// nil when `key` may try to log in; otherwise how long it remains locked.
    public func retryAfter(_ key: String) -> Duration? {
        let now = self.now()
        return self.entries.withLock { entries in
            guard let lockedUntil = entries[key]?.lockedUntil else { return nil }
            if lockedUntil > now {
                return lockedUntil - now
            }
            // The lock has run out; failures were cleared when it was set.
            entries[key] = nil
            return nil
        }
    }

    /// Counts a failed login for `key`, locking it at the ``maxFailures``-th failure within
    /// ``failureWindow``.
    public func recordFailure(_ key: String) {
        let now = self.now()
        self.entries.withLock { entries in
            var entry = entries[key] ?? Entry(lastActivity: now)
            entry.lastActivity = now
            if let lockedUntil = entry.lockedUntil {
                if lockedUntil > now {
                    entries[key] = entry
                    return
                }
                entry.lockedUntil = nil
            }
            entry.failures.removeAll { now - $0 >= self.failureWindow }
            entry.failures.append(now)
            if entry.failures.count >= self.maxFailures {
                entry.lockedUntil = now + self.lockout
                entry.failures.removeAll()
            }
            entries[key] = entry
            if entries.count > self.maxKeys {
                self.prune(&entries, now: now, keeping: key)
            }
        }
    }

    /// Forgets `key`'s failures and lock, after a successful login.
    public func recordSuccess(_ key: String) {
        _ = self.entries.withLock { $0.removeValue(forKey: key) }
    }

    /// How many keys are tracked now (for metrics and tests); never more than ``maxKeys``.
    public var trackedKeyCount: Int {
        self.entries.withLock { $0.count }
    }

    /// Drops entries that no longer affect anything, then, if still above `maxKeys`, the least
    /// recently active ones down to 90% of `maxKeys`, so the O(n) sweep runs once per
    /// `maxKeys / 10` new keys rather than on every one. `current`, the key just updated, is
    /// never evicted (with equal activity times it could otherwise lose its own failure).
    private func prune(_ entries: inout [String: Entry], now: ContinuousClock.Instant, keeping current: String) {
        entries = entries.filter { _, entry in
            if let lockedUntil = entry.lockedUntil, lockedUntil > now { return true }
            return entry.failures.contains { now - $0 < self.failureWindow }
        }
        guard entries.count > self.maxKeys else { return }
        let target = self.maxKeys - max(1, self.maxKeys / 10)
        let oldest = entries.filter { $0.key != current }.sorted { $0.value.lastActivity < $1.value.lastActivity }
        for (key, _) in oldest.prefix(entries.count - target) {
            entries[key] = nil
        }
    }
}
