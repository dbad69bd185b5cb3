import OvaAuth
import Testing

@Suite("LoginThrottlePolicy")
struct LoginThrottleTests {
    let clock = ManualClock()

    func makeThrottle() -> Harness {
        Harness(policy: LoginThrottlePolicy(), clock: self.clock)
    }

    /// The policy applied to histories kept in a dictionary, as the store keeps them in rows.
    final class Harness {
        let policy: LoginThrottlePolicy
        let clock: ManualClock
        let start: ContinuousClock.Instant
        var histories: [String: LoginThrottlePolicy.History] = [:]

        init(policy: LoginThrottlePolicy, clock: ManualClock) {
            self.policy = policy
            self.clock = clock
            self.start = clock.now()
        }

        var now: Int64 {
            let (seconds, attoseconds) = (self.clock.now() - self.start).components
            return 1_700_000_000_000 + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }

        func retryAfter(_ key: String) -> Duration? { self.policy.retryAfter(self.histories[key], now: self.now) }
        func recordFailure(_ key: String) { self.histories[key] = self.policy.recordingFailure(self.histories[key], now: self.now) }
        func recordSuccess(_ key: String) { self.histories[key] = nil }
        var trackedKeyCount: Int { self.histories.count }
    }

    @Test func fourFailuresAllowedFifthLocks() {
        let throttle = makeThrottle()
        for _ in 0..<4 {
            #expect(throttle.retryAfter("account:a@example.com") == nil)
            throttle.recordFailure("account:a@example.com")
        }
        #expect(throttle.retryAfter("account:a@example.com") == nil)
        throttle.recordFailure("account:a@example.com")
        #expect(throttle.retryAfter("account:a@example.com") == .seconds(900))
    }

    @Test func lockExpires() {
        let throttle = makeThrottle()
        for _ in 0..<5 { throttle.recordFailure("peer:192.0.2.1") }
        clock.advance(by: .seconds(899))
        #expect(throttle.retryAfter("peer:192.0.2.1") == .seconds(1))
        clock.advance(by: .milliseconds(999))
        #expect(throttle.retryAfter("peer:192.0.2.1") == .milliseconds(1))
        clock.advance(by: .milliseconds(1))
        #expect(throttle.retryAfter("peer:192.0.2.1") == nil)
        // Counting starts over after a lock: one failure does not lock again.
        throttle.recordFailure("peer:192.0.2.1")
        #expect(throttle.retryAfter("peer:192.0.2.1") == nil)
    }

    @Test func failuresWhileLockedDoNotExtendTheLock() {
        let throttle = makeThrottle()
        for _ in 0..<5 { throttle.recordFailure("k") }
        clock.advance(by: .seconds(100))
        for _ in 0..<10 { throttle.recordFailure("k") }
        #expect(throttle.retryAfter("k") == .seconds(800))
        clock.advance(by: .seconds(800))
        #expect(throttle.retryAfter("k") == nil)
    }

    @Test func successResets() {
        let throttle = makeThrottle()
        for _ in 0..<4 { throttle.recordFailure("k") }
        throttle.recordSuccess("k")
        for _ in 0..<4 { throttle.recordFailure("k") }
        #expect(throttle.retryAfter("k") == nil)
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == .seconds(900))
        throttle.recordSuccess("k")
        #expect(throttle.retryAfter("k") == nil)
        #expect(throttle.trackedKeyCount == 0)
    }

    @Test func windowExpiryResetsCounts() {
        let throttle = makeThrottle()
        for _ in 0..<4 { throttle.recordFailure("k") }
        clock.advance(by: .seconds(900))
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == nil)
    }

    /// The window slides: only failures less than `failureWindow` old count.
    @Test func windowSlides() {
        let throttle = makeThrottle()
        for _ in 0..<4 {
            throttle.recordFailure("k")
            clock.advance(by: .seconds(300))
        }
        // Now t = 1200: the failures at 0 and 300 are out of the window, 600 and 900 count.
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == nil)
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == nil)
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == .seconds(900))
    }

    @Test func keysAreIndependent() {
        let throttle = makeThrottle()
        for _ in 0..<5 { throttle.recordFailure("account:a@example.com") }
        #expect(throttle.retryAfter("account:a@example.com") != nil)
        #expect(throttle.retryAfter("account:b@example.com") == nil)
        #expect(throttle.retryAfter("peer:192.0.2.1") == nil)
    }

    @Test func customLimits() {
        let clock = self.clock
        let throttle = Harness(policy: LoginThrottlePolicy(maxFailures: 2, failureWindow: .seconds(10), lockout: .seconds(60)), clock: clock)
        throttle.recordFailure("k")
        clock.advance(by: .seconds(9))
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == .seconds(60))
    }
}

extension LoginThrottleTests {
    @Test func spentHistoriesCanBePurged() {
        let policy = LoginThrottlePolicy(failureWindow: .seconds(10), lockout: .seconds(60))
        let locked = LoginThrottlePolicy.History(failures: [], lockedUntil: 61_000)
        #expect(!locked.isSpent(at: 60_000, policy: policy))
        #expect(locked.isSpent(at: 61_000, policy: policy))
        let failing = LoginThrottlePolicy.History(failures: [1_000])
        #expect(!failing.isSpent(at: 10_999, policy: policy))
        #expect(failing.isSpent(at: 11_000, policy: policy))
        #expect(policy.retention == .seconds(60))
    }
}
