import OvaAuth
import Testing

@Suite("LoginThrottle")
struct LoginThrottleTests {
    let clock = ManualClock()

    func makeThrottle(maxKeys: Int = 100_000) -> LoginThrottle {
        let clock = self.clock
        return LoginThrottle(maxKeys: maxKeys, now: { clock.now() })
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
        let throttle = LoginThrottle(
            maxFailures: 2, failureWindow: .seconds(10), lockout: .seconds(60), now: { clock.now() }
        )
        throttle.recordFailure("k")
        clock.advance(by: .seconds(9))
        throttle.recordFailure("k")
        #expect(throttle.retryAfter("k") == .seconds(60))
    }

    @Test func memoryStaysBounded() {
        let throttle = makeThrottle(maxKeys: 50)
        for index in 0..<1_000 {
            throttle.recordFailure("peer:10.0.\(index / 256).\(index % 256)")
            #expect(throttle.trackedKeyCount <= 50)
        }
        // The most recent keys are kept: four more failures lock the last one.
        for _ in 0..<4 { throttle.recordFailure("peer:10.0.3.231") }
        #expect(throttle.retryAfter("peer:10.0.3.231") == .seconds(900))
    }

    /// Expired entries go first, so a current lock survives a flood of keys whose failures
    /// have aged out.
    @Test func pruningDropsExpiredEntriesBeforeLocks() {
        let clock = self.clock
        let throttle = LoginThrottle(
            failureWindow: .seconds(10), lockout: .seconds(900), maxKeys: 10, now: { clock.now() }
        )
        for _ in 0..<5 { throttle.recordFailure("account:victim") }
        for round in 0..<20 {
            clock.advance(by: .seconds(20))
            for index in 0..<9 {
                throttle.recordFailure("peer:\(round)-\(index)")
                #expect(throttle.trackedKeyCount <= 10)
            }
        }
        // t = 400: the lock set at 0 has not run out and was never evicted.
        #expect(throttle.retryAfter("account:victim") == .seconds(500))
    }

    /// When nothing has expired, the least recently active keys make room, never the one
    /// being updated.
    @Test func evictsLeastRecentlyActive() {
        let throttle = makeThrottle(maxKeys: 10)
        for index in 0..<10 {
            throttle.recordFailure("k\(index)")
            clock.advance(by: .seconds(1))
        }
        throttle.recordFailure("k0")  // k0 is now the most recently active
        throttle.recordFailure("new")  // 11 keys: evicts down to 9, starting with k1
        #expect(throttle.trackedKeyCount == 9)
        // k0 kept its two failures: three more lock it.
        for _ in 0..<3 { throttle.recordFailure("k0") }
        #expect(throttle.retryAfter("k0") == .seconds(900))
        // k1 lost its failure: four more do not lock it.
        for _ in 0..<4 { throttle.recordFailure("k1") }
        #expect(throttle.retryAfter("k1") == nil)
    }
}
