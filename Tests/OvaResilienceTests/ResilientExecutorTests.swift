import OvaResilience
import Testing

@Suite("ResilientExecutor", .timeLimit(.minutes(1)))
struct ResilientExecutorTests {
    let clock = ManualResilienceClock()
    let hanger = Hanger()
    /// The attempt numbers the operation was called with.
    let attempts = Recorder<Int>()

    /// 60 s overall, 20 s per attempt, 3 retries, the breaker and bulkhead defaults, and
    /// jitter fixed at `jitter` (1: each backoff is its ceiling, 0.5 s, 1 s, 2 s).
    func makeExecutor(jitter: Double = 1, _ customize: (inout ResiliencePolicy) -> Void = { _ in }) -> ResilientExecutor {
        var policy = ResiliencePolicy(retry: RetryPolicy(randomUnit: { jitter }))
        customize(&policy)
        return ResilientExecutor(name: "provider", policy: policy, clock: self.clock)
    }

    /// Runs `operation` through `executor` in a new task; `attempts` records each call.
    func launch(
        _ executor: ResilientExecutor,
        deadline: ContinuousClock.Instant? = nil,
        countsAsFailure: @escaping @Sendable (any Error) -> Bool = ResilientExecutor.isProviderFault,
        _ operation: @escaping @Sendable (Int) async throws -> String
    ) -> Task<String, any Error> {
        let attempts = self.attempts
        return Task {
            try await executor.run(deadline: deadline, countsAsFailure: countsAsFailure) { attempt in
                attempts.append(attempt)
                return try await operation(attempt)
            }
        }
    }

    /// Waits until the run sleeps until `instant` (a timeout or backoff), then moves there.
    func expectSleep(until instant: ContinuousClock.Instant) async {
        await self.clock.waitForSleeper(until: instant)
        self.clock.advance(to: instant)
    }

    @Test("the first success is returned; its outcome reaches the breaker")
    func success() async throws {
        let executor = self.makeExecutor()
        let task = self.launch(executor) { attempt in "ok \(attempt)" }
        #expect(Outcome(await task.result) == .value("ok 1"))
        let snapshot = executor.snapshot
        #expect(snapshot.breaker.callsTotal == 1)
        #expect(snapshot.breaker.failuresTotal == 0)
        #expect(snapshot.inFlight == 0)
    }

    @Test("retryable failures are retried maxRetries times with the backoff between")
    func retriesExhausted() async {
        let executor = self.makeExecutor()
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in throw ProviderError(503) }
        await self.expectSleep(until: t0 + .milliseconds(500))
        await self.expectSleep(until: t0 + .milliseconds(1500))
        await self.expectSleep(until: t0 + .milliseconds(3500))
        #expect(Outcome(await task.result) == .retriesExhausted(attempts: 4, last: ProviderError(503)))
        #expect(self.attempts.all == [1, 2, 3, 4])
        #expect(self.clock.now == t0 + .milliseconds(3500))
        let breaker = executor.snapshot.breaker
        #expect(breaker.failuresTotal == 4)
        #expect(breaker.lastError == "HTTP 503")
        #expect(breaker.state == .closed)  // 4 calls are below minimumCalls
    }

    @Test("a retry that succeeds ends the call")
    func retryThenSuccess() async {
        let executor = self.makeExecutor(jitter: 0)
        let task = self.launch(executor) { attempt in
            if attempt < 3 { throw ProviderError(502) }
            return "ok \(attempt)"
        }
        // Zero backoff: no sleeps at all.
        #expect(Outcome(await task.result) == .value("ok 3"))
        #expect(executor.snapshot.breaker.callsTotal == 3)
        #expect(executor.snapshot.breaker.failuresTotal == 2)
    }

    @Test("a server's Retry-After longer than the backoff is waited out")
    func retryAfterHonored() async {
        let executor = self.makeExecutor()
        let t0 = self.clock.now
        let task = self.launch(executor) { attempt in
            if attempt == 1 { throw ProviderError(429, retryAfter: .seconds(5)) }
            return "ok"
        }
        await self.expectSleep(until: t0 + .seconds(5))
        #expect(Outcome(await task.result) == .value("ok"))
        #expect(self.attempts.all == [1, 2])
    }

    @Test("a Retry-After beyond maxRetryAfter stops at once")
    func retryAfterTooLong() async {
        let executor = self.makeExecutor()
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in throw ProviderError(429, retryAfter: .seconds(45)) }
        #expect(
            Outcome(await task.result) == .retriesExhausted(attempts: 1, last: ProviderError(429, retryAfter: .seconds(45)))
        )
        #expect(self.attempts.all == [1])
        #expect(self.clock.now == t0)
    }

    @Test("a non-retryable error is thrown unchanged after one attempt and not held against the provider")
    func nonRetryable() async {
        let executor = self.makeExecutor()
        let task = self.launch(executor) { _ in throw ProviderError(400) }
        #expect(Outcome(await task.result) == .provider(ProviderError(400)))
        #expect(self.attempts.all == [1])
        #expect(executor.snapshot.breaker.failuresTotal == 0)
        #expect(executor.snapshot.breaker.ignoredTotal == 1)
    }

    @Test("an unclassified error is not retried")
    func unclassified() async {
        let executor = self.makeExecutor()
        let task = self.launch(executor) { _ in throw Unclassified() }
        #expect(Outcome(await task.result) == .unclassified)
        #expect(self.attempts.all == [1])
        #expect(executor.snapshot.breaker.ignoredTotal == 1)
    }

    @Test("countsAsFailure decides what the breaker counts")
    func customCountsAsFailure() async {
        let executor = self.makeExecutor()
        let task = self.launch(executor, countsAsFailure: { ($0 as? ProviderError)?.status == 401 }) { _ in
            throw ProviderError(401)
        }
        #expect(Outcome(await task.result) == .provider(ProviderError(401)))
        #expect(executor.snapshot.breaker.failuresTotal == 1)
    }

    @Test("an attempt that outlives the attempt timeout is cancelled and retried")
    func attemptTimeout() async {
        let executor = self.makeExecutor()
        let hanger = self.hanger
        let cancelledAttempts = Recorder<Int>()
        let t0 = self.clock.now
        let task = self.launch(executor) { attempt in
            if attempt == 1 {
                do {
                    try await hanger.hang()
                } catch {
                    cancelledAttempts.append(attempt)
                    throw error
                }
            }
            return "ok \(attempt)"
        }
        await self.expectSleep(until: t0 + .seconds(20))
        await self.expectSleep(until: t0 + .milliseconds(20_500))
        #expect(Outcome(await task.result) == .value("ok 2"))
        #expect(cancelledAttempts.all == [1])
        let breaker = executor.snapshot.breaker
        #expect(breaker.callsTotal == 2)
        #expect(breaker.failuresTotal == 1)
        #expect(breaker.lastError == "attempt 1 timed out after 20.0 seconds")
        #expect(breaker.p99Latency == .seconds(20))
    }

    @Test("the overall timeout cuts the last attempt short and stops")
    func overallTimeout() async {
        let executor = self.makeExecutor(jitter: 0) { $0.overallTimeout = .seconds(30) }
        let hanger = self.hanger
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in try await hanger.hang() }
        await self.expectSleep(until: t0 + .seconds(20))
        // The second attempt gets the 10 s left, not 20.
        await self.expectSleep(until: t0 + .seconds(30))
        #expect(Outcome(await task.result) == .timedOut(attempts: 2))
        #expect(self.attempts.all == [1, 2])
        #expect(executor.snapshot.breaker.failuresTotal == 2)
    }

    @Test("attempt timeouts on every attempt end in timedOut")
    func everyAttemptTimesOut() async {
        let executor = self.makeExecutor(jitter: 0) {
            $0.attemptTimeout = .seconds(1)
            $0.retry.maxRetries = 1
        }
        let hanger = self.hanger
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in try await hanger.hang() }
        await self.expectSleep(until: t0 + .seconds(1))
        await self.expectSleep(until: t0 + .seconds(2))
        #expect(Outcome(await task.result) == .timedOut(attempts: 2))
    }

    @Test("hung attempts are cut at the attempt timeout and retried; the last gets what remains of the budget")
    func attemptsFitTheBudget() async {
        let executor = self.makeExecutor(jitter: 0) {
            $0.overallTimeout = .seconds(25)
            $0.attemptTimeout = .seconds(10)
            $0.retry.maxRetries = 10
        }
        let hanger = self.hanger
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in try await hanger.hang() }
        await self.expectSleep(until: t0 + .seconds(10))
        await self.expectSleep(until: t0 + .seconds(20))
        // 5 s remain: the third attempt gets those, not 10, and no fourth starts.
        await self.expectSleep(until: t0 + .seconds(25))
        let result = await task.result
        #expect(Outcome(result) == .timedOut(attempts: 3))
        #expect(self.attempts.all == [1, 2, 3])
        #expect(self.clock.now == t0 + .seconds(25))
        #expect(executor.snapshot.breaker.failuresTotal == 3)
        guard case .failure(let error as ResilienceError) = result else {
            Issue.record("expected a ResilienceError, got \(result)")
            return
        }
        #expect(error.description == "the provider did not answer in time (3 attempts)")
    }

    @Test("one wording for running out of time, singular and plural right")
    func timeoutWording() {
        #expect(ResilienceError.timedOut(attempts: 1).description == "the provider did not answer in time (1 attempt)")
        #expect(ResilienceError.timedOut(attempts: 2).description == "the provider did not answer in time (2 attempts)")
        #expect(ResilienceError.notAnsweredInTime("the chat provider", attempts: 3) == "the chat provider did not answer in time (3 attempts)")
        #expect(ResilienceError.timedOut(attempts: 0).description.hasPrefix("the provider did not answer in time (no attempt could start"))
        #expect(ResilienceError.retriesExhausted(attempts: 1, last: ProviderError(503)).description == "failed after 1 attempt: HTTP 503")
    }

    @Test("a caller's deadline sooner than the overall timeout wins")
    func callerDeadlineBoundsAttempt() async {
        let executor = self.makeExecutor()
        let hanger = self.hanger
        let t0 = self.clock.now
        let task = self.launch(executor, deadline: t0 + .seconds(5)) { _ in try await hanger.hang() }
        await self.expectSleep(until: t0 + .seconds(5))
        #expect(Outcome(await task.result) == .timedOut(attempts: 1))
        #expect(self.clock.now == t0 + .seconds(5))
    }

    @Test("a caller's deadline already passed fails without calling the provider")
    func callerDeadlinePassed() async {
        let executor = self.makeExecutor()
        let task = self.launch(executor, deadline: self.clock.now) { _ in "unreachable" }
        #expect(Outcome(await task.result) == .deadlineExceeded)
        #expect(self.attempts.all.isEmpty)
        #expect(executor.snapshot.breaker.callsTotal == 0)
    }

    @Test("a backoff that would end past the caller's deadline is not slept")
    func backoffPastDeadline() async {
        let executor = self.makeExecutor()
        let t0 = self.clock.now
        let task = self.launch(executor, deadline: t0 + .seconds(1)) { _ in throw ProviderError(503) }
        await self.expectSleep(until: t0 + .milliseconds(500))
        // The next backoff (1 s) would end at 1.5 s, past the deadline.
        #expect(Outcome(await task.result) == .retriesExhausted(attempts: 2, last: ProviderError(503)))
        #expect(self.clock.now == t0 + .milliseconds(500))
    }

    @Test("an open breaker fails the call without calling the provider")
    func breakerOpenFailsFast() async throws {
        let executor = self.makeExecutor {
            $0.circuitBreaker = CircuitBreaker.Configuration(slidingWindowSize: 2, minimumCalls: 2)
        }
        for _ in 0..<2 {
            try executor.breaker.acquirePermission().recordFailure(duration: .zero, errorDescription: "HTTP 503")
        }
        self.clock.advance(by: .seconds(10))
        let task = self.launch(executor) { _ in "unreachable" }
        #expect(Outcome(await task.result) == .circuitOpen(retryAfter: .seconds(20)))
        #expect(self.attempts.all.isEmpty)
    }

    @Test("a breaker that opens during the retries stops them")
    func breakerOpensMidRetries() async {
        let executor = self.makeExecutor(jitter: 0) {
            $0.circuitBreaker = CircuitBreaker.Configuration(slidingWindowSize: 2, minimumCalls: 2)
        }
        let task = self.launch(executor) { _ in throw ProviderError(503) }
        #expect(Outcome(await task.result) == .circuitOpen(retryAfter: .seconds(30)))
        #expect(self.attempts.all == [1, 2])
        #expect(executor.snapshot.breaker.state == .open)
    }

    @Test("a full bulkhead rejects at once; the call holding it shows as in flight")
    func bulkheadFull() async {
        let executor = self.makeExecutor {
            $0.maxConcurrentCalls = 1
            $0.maxWaitingCalls = 0
        }
        let hanger = self.hanger
        let running = self.launch(executor) { _ in try await hanger.hang() }
        await hanger.waitForHanging()
        #expect(executor.snapshot.inFlight == 1)

        let rejected = self.launch(executor) { _ in "unreachable" }
        #expect(Outcome(await rejected.result) == .bulkheadFull)
        #expect(self.attempts.all == [1])

        running.cancel()
        #expect(Outcome(await running.result) == .cancelled)
        #expect(executor.snapshot.inFlight == 0)
    }

    @Test("waiting for the bulkhead stops at the caller's deadline")
    func bulkheadWaitBoundedByDeadline() async {
        let executor = self.makeExecutor {
            $0.maxConcurrentCalls = 1
            $0.maxWaitingCalls = 1
        }
        let hanger = self.hanger
        let t0 = self.clock.now
        let running = self.launch(executor) { _ in try await hanger.hang() }
        await hanger.waitForHanging()
        let waiting = self.launch(executor, deadline: t0 + .seconds(5)) { _ in "unreachable" }
        await self.expectSleep(until: t0 + .seconds(5))
        #expect(Outcome(await waiting.result) == .deadlineExceeded)
        #expect(executor.snapshot.waiting == 0)
        #expect(self.attempts.all == [1])

        running.cancel()
        _ = await running.result
        #expect(executor.snapshot.inFlight == 0)
    }

    @Test("a queued call runs once the bulkhead frees up")
    func bulkheadQueue() async {
        let executor = self.makeExecutor {
            $0.maxConcurrentCalls = 1
            $0.maxWaitingCalls = 1
        }
        let hanger = self.hanger
        let running = self.launch(executor) { _ in try await hanger.hang() }
        await hanger.waitForHanging()
        let queued = self.launch(executor) { attempt in "queued \(attempt)" }
        #expect(await eventually { executor.snapshot.waiting == 1 })
        running.cancel()
        #expect(Outcome(await running.result) == .cancelled)
        #expect(Outcome(await queued.result) == .value("queued 1"))
        #expect(executor.snapshot.inFlight == 0)
    }

    @Test("cancelling the caller cancels the operation and is not a provider failure")
    func callerCancellation() async {
        let executor = self.makeExecutor()
        let hanger = self.hanger
        let sawCancellation = Recorder<Bool>()
        let task = self.launch(executor) { _ in
            do {
                try await hanger.hang()
            } catch {
                sawCancellation.append(error is CancellationError)
                throw ProviderError(503)  // what a client might turn cancellation into
            }
        }
        await hanger.waitForHanging()
        task.cancel()
        #expect(Outcome(await task.result) == .cancelled)
        #expect(sawCancellation.all == [true])
        #expect(self.attempts.all == [1])
        let snapshot = executor.snapshot
        #expect(snapshot.breaker.callsTotal == 0)
        #expect(snapshot.breaker.failuresTotal == 0)
        #expect(snapshot.breaker.ignoredTotal == 1)
        #expect(snapshot.inFlight == 0)
        #expect(self.clock.pendingDeadlines.isEmpty)
    }

    @Test("cancelling the caller during a backoff stops the retries")
    func cancellationDuringBackoff() async {
        let executor = self.makeExecutor()
        let t0 = self.clock.now
        let task = self.launch(executor) { _ in throw ProviderError(503) }
        await self.clock.waitForSleeper(until: t0 + .milliseconds(500))
        task.cancel()
        #expect(Outcome(await task.result) == .cancelled)
        #expect(self.attempts.all == [1])
        #expect(executor.snapshot.breaker.failuresTotal == 1)
    }

    @Test("an already cancelled caller never reaches the provider")
    func cancelledBeforeStart() async {
        let executor = self.makeExecutor()
        let attempts = self.attempts
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await executor.run { attempt in
                attempts.append(attempt)
                return "unreachable"
            }
        }
        #expect(Outcome(await task.result) == .cancelled)
        #expect(self.attempts.all.isEmpty)
    }

    @Test("a CancellationError the operation throws by itself comes out unchanged, uncounted")
    func operationThrowsCancellation() async {
        let executor = self.makeExecutor()
        let task = self.launch(executor) { _ in throw CancellationError() }
        #expect(Outcome(await task.result) == .cancelled)
        #expect(self.attempts.all == [1])
        #expect(executor.snapshot.breaker.ignoredTotal == 1)
    }
}
