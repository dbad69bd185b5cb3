import OvaAuth
import Testing

@Suite("KeyedRateLimiter")
struct KeyedRateLimiterTests {
    let clock = ManualClock()

    func makeLimiter(ratePerSecond: Double = 2, burst: Int = 3, maxKeys: Int = 100_000) -> KeyedRateLimiter {
        let clock = self.clock
        return KeyedRateLimiter(ratePerSecond: ratePerSecond, burst: burst, maxKeys: maxKeys, now: { clock.now() })
    }

    @Test func burstThenRefusalWithRetryDelay() {
        let limiter = makeLimiter()
        for _ in 0..<3 {
            #expect(limiter.acquire("peer:192.0.2.1") == nil)
        }
        #expect(limiter.acquire("peer:192.0.2.1") == .milliseconds(500))
        // A refused request uses nothing: the delay stays the same.
        #expect(limiter.acquire("peer:192.0.2.1") == .milliseconds(500))
        clock.advance(by: .milliseconds(200))
        #expect(limiter.acquire("peer:192.0.2.1") == .milliseconds(300))
    }

    @Test func refillsOverTime() {
        let limiter = makeLimiter()
        for _ in 0..<3 { _ = limiter.acquire("k") }
        clock.advance(by: .milliseconds(500))
        #expect(limiter.acquire("k") == nil)
        #expect(limiter.acquire("k") == .milliseconds(500))
        clock.advance(by: .seconds(1))
        #expect(limiter.acquire("k") == nil)
        #expect(limiter.acquire("k") == nil)
        #expect(limiter.acquire("k") == .milliseconds(500))
    }

    /// A token becomes available exactly when the returned delay has passed, not before.
    @Test func retryDelayIsExact() {
        let limiter = makeLimiter()
        for _ in 0..<3 { _ = limiter.acquire("k") }
        let delay = limiter.acquire("k")
        #expect(delay == .milliseconds(500))
        clock.advance(by: .milliseconds(499))
        #expect(limiter.acquire("k") == .milliseconds(1))
        clock.advance(by: .milliseconds(1))
        #expect(limiter.acquire("k") == nil)
    }

    @Test func refillStopsAtBurst() {
        let limiter = makeLimiter()
        clock.advance(by: .seconds(3600))
        _ = limiter.acquire("k")
        clock.advance(by: .seconds(3600))
        for _ in 0..<3 {
            #expect(limiter.acquire("k") == nil)
        }
        #expect(limiter.acquire("k") == .milliseconds(500))
    }

    @Test func steadyRateIsAllowed() {
        let limiter = makeLimiter(ratePerSecond: 4, burst: 1)
        for _ in 0..<20 {
            #expect(limiter.acquire("k") == nil)
            #expect(limiter.acquire("k") == .milliseconds(250))
            clock.advance(by: .milliseconds(250))
        }
    }

    @Test func keysAreIndependent() {
        let limiter = makeLimiter(burst: 1)
        #expect(limiter.acquire("peer:192.0.2.1") == nil)
        #expect(limiter.acquire("peer:192.0.2.1") != nil)
        #expect(limiter.acquire("peer:192.0.2.2") == nil)
        #expect(limiter.acquire("peer:2001:db8::1") == nil)
    }

    @Test func memoryStaysBounded() {
        let limiter = makeLimiter(ratePerSecond: 1, burst: 2, maxKeys: 40)
        for index in 0..<1_000 {
            #expect(limiter.acquire("peer:10.0.\(index / 256).\(index % 256)") == nil)
            #expect(limiter.trackedKeyCount <= 40)
        }
        // The most recent key is still tracked: one token left of two, then refused.
        #expect(limiter.acquire("peer:10.0.3.231") == nil)
        #expect(limiter.acquire("peer:10.0.3.231") == .seconds(1))
    }

    @Test func refilledKeysArePrunedFirst() {
        let limiter = makeLimiter(ratePerSecond: 1, burst: 5, maxKeys: 10)
        for _ in 0..<5 { _ = limiter.acquire("busy") }
        clock.advance(by: .seconds(1))
        for index in 0..<9 { _ = limiter.acquire("quiet-\(index)") }
        // Every quiet key is full again after a second; "busy" is not.
        clock.advance(by: .seconds(1))
        for index in 0..<9 { _ = limiter.acquire("new-\(index)") }
        #expect(limiter.trackedKeyCount <= 10)
        #expect(limiter.acquire("busy") == nil)
        #expect(limiter.acquire("busy") == nil)
        #expect(limiter.acquire("busy") == .seconds(1))
    }
}
