import OvaResilience
import Testing

@Suite("ManualResilienceClock", .timeLimit(.minutes(1)))
struct ManualResilienceClockTests {
    @Test("a deadline already passed returns without waiting for an advance")
    func pastDeadline() async throws {
        let clock = ManualResilienceClock()
        try await clock.sleep(until: clock.now)
        try await clock.sleep(until: clock.now - .seconds(1))
        #expect(clock.pendingDeadlines.isEmpty)
    }

    @Test("advancing wakes the sleepers that are due and only those")
    func advanceWakesDueSleepers() async throws {
        let clock = ManualResilienceClock()
        let start = clock.now
        let woke = Recorder<Int>()
        let first = Task {
            try await clock.sleep(until: start + .seconds(5))
            woke.append(5)
        }
        let second = Task {
            try await clock.sleep(until: start + .seconds(10))
            woke.append(10)
        }
        await clock.waitForSleepers(count: 2)
        #expect(clock.pendingDeadlines == [start + .seconds(5), start + .seconds(10)])

        clock.advance(by: .seconds(4))
        #expect(clock.pendingDeadlines.count == 2)
        clock.advance(by: .seconds(1))
        try await first.value
        #expect(woke.all == [5])
        #expect(clock.pendingDeadlines == [start + .seconds(10)])

        #expect(clock.advanceToNextDeadline() == start + .seconds(10))
        try await second.value
        #expect(woke.all == [5, 10])
        #expect(clock.now == start + .seconds(10))
        #expect(clock.advanceToNextDeadline() == nil)
        #expect(clock.now == start + .seconds(10))
    }

    @Test("a cancelled sleeper throws CancellationError and is forgotten")
    func cancellation() async {
        let clock = ManualResilienceClock()
        let sleeper = Task { try await clock.sleep(until: clock.now + .seconds(60)) }
        await clock.waitForSleepers(count: 1)
        sleeper.cancel()
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.pendingDeadlines.isEmpty)
    }

    @Test("a task cancelled before sleeping throws at once")
    func cancelledBeforeSleeping() async {
        let clock = ManualResilienceClock()
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: clock.now + .seconds(60))
        }
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.pendingDeadlines.isEmpty)
    }
}
