import OvaResilience
import Testing

@Suite("CircuitBreaker", .timeLimit(.minutes(1)))
struct CircuitBreakerTests {
    let clock = ManualResilienceClock()
    let transitions = Recorder<String>()

    /// Window 10, opens at 50% failures once 4 calls are in, slow at 1 s, open 30 s, 2 probes.
    func makeBreaker(
        _ configuration: CircuitBreaker.Configuration = CircuitBreaker.Configuration(
            slidingWindowSize: 10,
            minimumCalls: 4,
            failureRateThreshold: 0.5,
            slowCallDuration: .seconds(1),
            slowCallRateThreshold: 1.0,
            openDuration: .seconds(30),
            halfOpenProbes: 2
        )
    ) -> CircuitBreaker {
        CircuitBreaker(name: "provider", configuration: configuration, clock: self.clock) { [transitions] name, from, to in
            transitions.append("\(name): \(from) -> \(to)")
        }
    }

    func succeed(_ breaker: CircuitBreaker, times: Int = 1, taking duration: Duration = .milliseconds(100)) throws {
        for _ in 0..<times {
            try breaker.acquirePermission().recordSuccess(duration: duration)
        }
    }

    func fail(_ breaker: CircuitBreaker, times: Int = 1, taking duration: Duration = .milliseconds(100)) throws {
        for index in 0..<times {
            try breaker.acquirePermission().recordFailure(duration: duration, errorDescription: "HTTP 503 #\(index)")
        }
    }

    /// Opens `breaker` (made by `makeBreaker()`) with four failures.
    func open(_ breaker: CircuitBreaker) throws {
        try self.fail(breaker, times: 4)
        #expect(breaker.state == .open)
    }

    @Test("failures alone do not open the breaker before minimumCalls")
    func minimumCalls() throws {
        let breaker = self.makeBreaker()
        try self.fail(breaker, times: 3)
        #expect(breaker.snapshot.state == .closed)
        #expect(breaker.snapshot.failureRate == 1)
        try self.fail(breaker)
        #expect(breaker.snapshot.state == .open)
        #expect(self.transitions.all == ["provider: closed -> open"])
    }

    @Test("the failure rate reaching the threshold opens; below it does not")
    func failureRateThreshold() throws {
        let below = self.makeBreaker()
        try self.fail(below)
        try self.succeed(below, times: 3)
        try self.fail(below)
        #expect(below.snapshot.failureRate == 0.4)
        #expect(below.state == .closed)

        let atThreshold = self.makeBreaker()
        try self.succeed(atThreshold, times: 2)
        try self.fail(atThreshold, times: 2)
        #expect(atThreshold.state == .open)
    }

    @Test("the rate is over the sliding window: old outcomes drop out")
    func slidingWindow() throws {
        var configuration = CircuitBreaker.Configuration(slidingWindowSize: 4, minimumCalls: 4)
        configuration.failureRateThreshold = 0.75
        let breaker = self.makeBreaker(configuration)
        try self.fail(breaker, times: 2)
        try self.succeed(breaker, times: 4)  // the two failures slide out
        #expect(breaker.snapshot.failureRate == 0)
        try self.fail(breaker, times: 2)  // 2 of 4: 50%
        #expect(breaker.state == .closed)
        try self.fail(breaker)  // 3 of 4: 75%
        #expect(breaker.state == .open)
        // All seven of the earlier calls still count in the totals.
        #expect(breaker.snapshot.callsTotal == 9)
        #expect(breaker.snapshot.failuresTotal == 5)
    }

    @Test("calls that are all slow open it; one fast call keeps it closed")
    func slowCalls() throws {
        let mostlySlow = self.makeBreaker()
        try self.succeed(mostlySlow, times: 3, taking: .seconds(2))
        try self.succeed(mostlySlow, taking: .milliseconds(999))
        #expect(mostlySlow.snapshot.slowCallRate == 0.75)
        #expect(mostlySlow.state == .closed)

        let allSlow = self.makeBreaker()
        try self.succeed(allSlow, times: 3, taking: .seconds(2))
        try self.succeed(allSlow, taking: .seconds(1))  // exactly slowCallDuration is slow
        #expect(allSlow.state == .open)
        #expect(allSlow.snapshot.failuresTotal == 0)
    }

    @Test("open rejects at once with the rest of the open period")
    func openRejects() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(10))
        let error = #expect(throws: CircuitOpen.self) { try breaker.acquirePermission() }
        #expect(error == CircuitOpen(breakerName: "provider", retryAfter: .seconds(20), state: .open))
        let snapshot = breaker.snapshot
        #expect(snapshot.retryAfter == .seconds(20))
        #expect(snapshot.rejectedTotal == 1)
        #expect(snapshot.lastError == "HTTP 503 #3")
        #expect(snapshot.callsTotal == 4)
    }

    @Test("after the open period it half-opens and lets only the probes through")
    func halfOpenProbeLimit() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .milliseconds(29_999))
        #expect(throws: CircuitOpen.self) { try breaker.acquirePermission() }
        self.clock.advance(by: .milliseconds(1))

        let first = try breaker.acquirePermission()
        let second = try breaker.acquirePermission()
        #expect(breaker.state == .halfOpen)
        #expect(breaker.snapshot.retryAfter == nil)
        let error = #expect(throws: CircuitOpen.self) { try breaker.acquirePermission() }
        #expect(error?.state == .halfOpen)
        #expect(error?.retryAfter == .seconds(1))
        first.recordSuccess(duration: .milliseconds(10))
        second.recordSuccess(duration: .milliseconds(10))
    }

    @Test("all probes succeeding closes it with an empty window")
    func probesClose() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        let probes = [try breaker.acquirePermission(), try breaker.acquirePermission()]
        probes[0].recordSuccess(duration: .milliseconds(10))
        #expect(breaker.state == .halfOpen)
        probes[1].recordSuccess(duration: .milliseconds(10))
        let snapshot = breaker.snapshot
        #expect(snapshot.state == .closed)
        #expect(snapshot.bufferedCalls == 0)
        #expect(snapshot.failureRate == 0)
        #expect(snapshot.lastStateChange == self.clock.now)
        // A fresh window: three failures are below minimumCalls again.
        try self.fail(breaker, times: 3)
        #expect(breaker.state == .closed)
    }

    @Test("a failing probe reopens it for a full open period")
    func probeFailureReopens() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        let probe = try breaker.acquirePermission()
        let other = try breaker.acquirePermission()
        self.clock.advance(by: .seconds(2))
        probe.recordFailure(duration: .seconds(2), errorDescription: "connection refused")
        #expect(breaker.state == .open)
        #expect(breaker.snapshot.retryAfter == .seconds(30))
        #expect(breaker.snapshot.lastError == "connection refused")
        // The other probe's late success belongs to the half-open period that ended.
        other.recordSuccess(duration: .seconds(2))
        #expect(breaker.state == .open)
    }

    @Test("probes that are all slow reopen it")
    func slowProbesReopen() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        try self.succeed(breaker, times: 2, taking: .seconds(5))
        #expect(breaker.state == .open)
    }

    @Test("an ignored probe frees its slot and decides nothing")
    func ignoredProbe() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        let probe = try breaker.acquirePermission()
        let other = try breaker.acquirePermission()
        #expect(throws: CircuitOpen.self) { try breaker.acquirePermission() }
        probe.recordIgnored()
        #expect(breaker.state == .halfOpen)
        let replacement = try breaker.acquirePermission()
        other.recordSuccess(duration: .milliseconds(1))
        #expect(breaker.state == .halfOpen)
        replacement.recordSuccess(duration: .milliseconds(1))
        #expect(breaker.state == .closed)
    }

    @Test("a permit dropped without an outcome counts as ignored")
    func droppedPermit() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        _ = try breaker.acquirePermission()
        _ = try breaker.acquirePermission()
        // Both probe slots are free again.
        try self.succeed(breaker, times: 2)
        #expect(breaker.state == .closed)
        #expect(breaker.snapshot.ignoredTotal == 2)
    }

    @Test("ignored outcomes never open the breaker nor count as calls")
    func ignoredOutcomes() throws {
        let breaker = self.makeBreaker()
        for _ in 0..<20 {
            try breaker.acquirePermission().recordIgnored()
        }
        try self.fail(breaker, times: 3)
        let snapshot = breaker.snapshot
        #expect(snapshot.state == .closed)
        #expect(snapshot.callsTotal == 3)
        #expect(snapshot.bufferedCalls == 3)
        #expect(snapshot.ignoredTotal == 20)
    }

    @Test("only the first outcome reported on a permit counts")
    func firstOutcomeWins() throws {
        let breaker = self.makeBreaker()
        let permit = try breaker.acquirePermission()
        permit.recordSuccess(duration: .milliseconds(5))
        permit.recordFailure(duration: .milliseconds(5), errorDescription: "late")
        permit.recordIgnored()
        let snapshot = breaker.snapshot
        #expect(snapshot.callsTotal == 1)
        #expect(snapshot.failuresTotal == 0)
        #expect(snapshot.ignoredTotal == 0)
        #expect(snapshot.lastError == nil)
    }

    @Test("reset closes it at once; permits from before do not count")
    func reset() throws {
        let breaker = self.makeBreaker()
        let stale = try breaker.acquirePermission()
        try self.open(breaker)
        breaker.reset()
        #expect(breaker.state == .closed)
        #expect(breaker.snapshot.retryAfter == nil)
        try self.succeed(breaker)
        stale.recordFailure(duration: .zero, errorDescription: "stale")
        #expect(breaker.snapshot.bufferedCalls == 1)
        #expect(breaker.snapshot.failuresTotal == 5)
        // Resetting a closed breaker changes nothing anyone is told about.
        breaker.reset()
        #expect(self.transitions.all == ["provider: closed -> open", "provider: open -> closed"])
    }

    @Test("state changes are reported in order")
    func callbackOrder() throws {
        let breaker = self.makeBreaker()
        try self.open(breaker)
        self.clock.advance(by: .seconds(30))
        try self.fail(breaker)
        self.clock.advance(by: .seconds(30))
        try self.succeed(breaker, times: 2)
        #expect(
            self.transitions.all == [
                "provider: closed -> open",
                "provider: open -> half-open",
                "provider: half-open -> open",
                "provider: open -> half-open",
                "provider: half-open -> closed",
            ]
        )
    }

    @Test("the callback may read the breaker without deadlocking")
    func reentrantCallback() throws {
        let seen = Recorder<CircuitBreaker.State>()
        let holder = Recorder<CircuitBreaker>()
        let breaker = CircuitBreaker(
            name: "provider",
            configuration: CircuitBreaker.Configuration(slidingWindowSize: 2, minimumCalls: 2),
            clock: self.clock
        ) { _, _, _ in
            if let breaker = holder.all.first {
                seen.append(breaker.snapshot.state)
            }
        }
        holder.append(breaker)
        try self.fail(breaker, times: 2)
        #expect(seen.all == [.open])
    }

    @Test("the snapshot reports latency percentiles over the window")
    func latency() throws {
        let breaker = self.makeBreaker(CircuitBreaker.Configuration(slidingWindowSize: 100, minimumCalls: 100))
        #expect(breaker.snapshot.p50Latency == nil)
        for milliseconds in 1...100 {
            try breaker.acquirePermission().recordSuccess(duration: .milliseconds(milliseconds))
        }
        #expect(breaker.snapshot.p50Latency == .milliseconds(50))
        #expect(breaker.snapshot.p99Latency == .milliseconds(99))
    }
}
