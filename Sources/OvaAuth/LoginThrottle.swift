/// When failed logins lock a key (an account or a peer address), as pure rules over a key's
/// recent history, so every ova-server sharing one database applies them to the same history.
///
/// Callers throttle on two keys, `"account:<email>"` (guessing one account's password from
/// anywhere) and `"peer:<ip>"` (one peer trying many accounts). Failures count in a sliding
/// window: ``maxFailures`` failures less than ``failureWindow`` apart lock the key for
/// ``lockout``. Failures while a key is locked do not extend the lock, so an attacker cannot
/// keep an account locked for longer than by waiting and trying again. The history itself is
/// stored by the caller (OvaServices keeps it in the database: 5 failures spread over three
/// instances lock the account on all of them).
public struct LoginThrottlePolicy: Sendable, Equatable {
    /// Failures within ``failureWindow`` that lock a key.
    public let maxFailures: Int
    /// How far apart failures may be and still add up.
    public let failureWindow: Duration
    /// How long a key stays locked.
    public let lockout: Duration

    /// - Parameters:
    ///   - maxFailures: failures that lock a key (at least 1).
    ///   - failureWindow: the window failures are counted in (positive).
    ///   - lockout: how long a locked key stays locked (positive).
    public init(maxFailures: Int = 5, failureWindow: Duration = .seconds(900), lockout: Duration = .seconds(900)) {
        precondition(maxFailures >= 1, "maxFailures must be at least 1")
        precondition(failureWindow > .zero && lockout > .zero, "failureWindow and lockout must be positive")
        self.maxFailures = maxFailures
        self.failureWindow = failureWindow
        self.lockout = lockout
    }

    /// One key's recent history; times are Unix milliseconds.
    public struct History: Sendable, Equatable {
        /// Recent failures, oldest first; never more than ``LoginThrottlePolicy/maxFailures``.
        public var failures: [Int64]
        /// When the lock ends; nil when not locked.
        public var lockedUntil: Int64?

        public init(failures: [Int64] = [], lockedUntil: Int64? = nil) {
            self.failures = failures
            self.lockedUntil = lockedUntil
        }

        /// Nothing worth keeping at `now`: no lock running, no failure in the window.
        public func isSpent(at now: Int64, policy: LoginThrottlePolicy) -> Bool {
            if let lockedUntil = self.lockedUntil, lockedUntil > now { return false }
            return !self.failures.contains { now - $0 < policy.failureWindowMilliseconds }
        }
    }

    /// nil when the key may try to log in at `now`; otherwise how long it remains locked.
    public func retryAfter(_ history: History?, now: Int64) -> Duration? {
        guard let lockedUntil = history?.lockedUntil, lockedUntil > now else { return nil }
        return .milliseconds(lockedUntil - now)
    }

    /// The history after a failed login at `now`: locked at the ``maxFailures``-th failure
    /// within ``failureWindow``; unchanged while a lock runs.
    public func recordingFailure(_ history: History?, now: Int64) -> History {
        var history = history ?? History()
        if let lockedUntil = history.lockedUntil {
            if lockedUntil > now { return history }
            history.lockedUntil = nil
        }
        history.failures.removeAll { now - $0 >= self.failureWindowMilliseconds }
        history.failures.append(now)
        if history.failures.count >= self.maxFailures {
            history.lockedUntil = now + Self.milliseconds(self.lockout)
            history.failures.removeAll()
        }
        return history
    }

    var failureWindowMilliseconds: Int64 { Self.milliseconds(self.failureWindow) }

    /// How long after its last change a history can matter: kept that long, then purged.
    public var retention: Duration { max(self.failureWindow, self.lockout) }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
