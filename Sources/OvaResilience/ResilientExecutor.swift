/// Runs calls to one remote provider with a bulkhead, circuit breaker, per-attempt and overall
/// timeouts, and retries with backoff. Create one per provider and share it.
///
/// A call (``run(deadline:countsAsFailure:_:)``) goes through, in order:
/// 1. the **bulkhead**: a permit for the whole call, retries included, waiting in line if the
///    queue has room, but not past the deadline;
/// 2. for each attempt, the **circuit breaker**: an open breaker fails the call at once;
/// 3. the operation, cancelled if it outlives the **attempt timeout** (or the overall
///    deadline, whichever is first);
/// 4. the outcome is **recorded** on the breaker: successes, attempt timeouts and failures
///    `countsAsFailure` blames on the provider count; anything else is ignored;
/// 5. a **retryable** failure (see ``RetryClassifiable``) waits out the backoff and tries
///    again, if retries are left and the backoff ends before the deadline.
///
/// The deadline is the sooner of now + ``ResiliencePolicy/overallTimeout`` and the caller's
/// (the RPC's) deadline, so a client that will give up in 5 s never has us working for 60.
public final class ResilientExecutor: Sendable {
    /// The provider's name; also the breaker's and bulkhead's.
    public let name: String
    public let policy: ResiliencePolicy
    public let breaker: CircuitBreaker
    public let bulkhead: Bulkhead
    public let clock: any ResilienceClock

    /// - Parameters:
    ///   - name: the provider, e.g. `"huggingface"`; shows up in errors and callbacks.
    ///   - policy: timeouts, retries, breaker and bulkhead limits.
    ///   - clock: the time source; tests pass a ``ManualResilienceClock``.
    ///   - onStateChange: the breaker's state-change callback (log it: a breaker opening means
    ///     a provider is down).
    public init(
        name: String,
        policy: ResiliencePolicy = ResiliencePolicy(),
        clock: any ResilienceClock = SystemResilienceClock(),
        onStateChange: @escaping @Sendable (_ name: String, _ from: CircuitBreaker.State, _ to: CircuitBreaker.State) -> Void = { _, _, _ in }
    ) {
        precondition(policy.overallTimeout > .zero, "overallTimeout must be positive")
        precondition(policy.attemptTimeout > .zero, "attemptTimeout must be positive")
        self.name = name
        self.policy = policy
        self.clock = clock
        self.breaker = CircuitBreaker(
            name: name,
            configuration: policy.circuitBreaker,
            clock: clock,
            onStateChange: onStateChange
        )
        self.bulkhead = Bulkhead(
            name: name,
            maxConcurrentCalls: policy.maxConcurrentCalls,
            maxWaitingCalls: policy.maxWaitingCalls
        )
    }

    /// The default `countsAsFailure`: an error is the provider's fault when it says it may be
    /// retried (connection errors, timeouts, 429, 502/503/504). Errors that may not be retried
    /// (a 400 for a bad prompt) and unclassified errors (likely our own bugs) do not count.
    public static func isProviderFault(_ error: any Error) -> Bool {
        guard let classified = error as? any RetryClassifiable else { return false }
        if case .retry = classified.retryDisposition { return true }
        return false
    }

    /// The breaker's snapshot plus the bulkhead's load.
    public var snapshot: ResilienceSnapshot {
        ResilienceSnapshot(
            name: self.name,
            breaker: self.breaker.snapshot,
            inFlight: self.bulkhead.inFlight,
            waiting: self.bulkhead.waiting
        )
    }

    /// Runs `operation` with the policy's protections; see the type's documentation for the
    /// order of steps.
    ///
    /// - Parameters:
    ///   - deadline: the caller's deadline (e.g. the RPC's); the call never runs past it.
    ///   - countsAsFailure: whether an error the operation threw is the provider's fault and
    ///     should count towards opening the breaker. Attempt timeouts always count; caller
    ///     cancellation never does.
    ///   - operation: one attempt; receives the attempt number, 1 for the first. It must honour
    ///     cancellation, which is how timeouts stop it.
    /// - Returns: the first successful attempt's value.
    /// - Throws: ``ResilienceError``; or, unchanged, an error from the operation that may not
    ///   be retried; or `CancellationError` when the calling task is cancelled.
    public func run<T: Sendable>(
        deadline callerDeadline: ContinuousClock.Instant? = nil,
        countsAsFailure: @Sendable (any Error) -> Bool = ResilientExecutor.isProviderFault,
        _ operation: @escaping @Sendable (_ attempt: Int) async throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let start = self.clock.now
        let ownDeadline = start + self.policy.overallTimeout
        let deadline: ContinuousClock.Instant
        let callerDeadlineFirst: Bool
        if let callerDeadline, callerDeadline < ownDeadline {
            deadline = callerDeadline
            callerDeadlineFirst = true
        } else {
            deadline = ownDeadline
            callerDeadlineFirst = false
        }
        // Past this point no attempt was made, so the error says whose deadline it was.
        let outOfTimeBeforeAnyAttempt: ResilienceError =
            callerDeadlineFirst ? .deadlineExceeded : .timedOut(attempts: 0)
        guard start < deadline else { throw outOfTimeBeforeAnyAttempt }

        let permit = try await self.acquireBulkhead(until: deadline, outOfTime: outOfTimeBeforeAnyAttempt)
        defer { permit.release() }
        return try await self.attempt(
            until: deadline,
            outOfTime: outOfTimeBeforeAnyAttempt,
            countsAsFailure: countsAsFailure,
            operation
        )
    }

    /// How the last attempt failed, for the error thrown when no more attempts are made.
    private enum LastFailure {
        case timedOut
        case failed(any Error)

        func exhausted(after attempts: Int) -> ResilienceError {
            switch self {
            case .timedOut: .timedOut(attempts: attempts)
            case .failed(let error): .retriesExhausted(attempts: attempts, last: error)
            }
        }
    }

    private func acquireBulkhead(
        until deadline: ContinuousClock.Instant,
        outOfTime: ResilienceError
    ) async throws -> BulkheadPermit {
        // The common case takes no task group.
        if let permit = self.bulkhead.tryAcquire() {
            return permit
        }
        let bulkhead = self.bulkhead
        let outcome = await raceDeadline({ try await bulkhead.acquire() }, until: deadline, clock: self.clock)
        switch outcome {
        case .finished(.success(let permit)):
            return permit
        case .finished(.failure(let error as BulkheadFull)) where error.reason == .queueFull:
            throw ResilienceError.bulkheadFull
        case .finished(.failure):
            // Only cancellation is left.
            throw CancellationError()
        case .deadlinePassed:
            // A permit granted just as the deadline won is released when dropped.
            if Task.isCancelled { throw CancellationError() }
            throw outOfTime
        }
    }

    private func attempt<T: Sendable>(
        until deadline: ContinuousClock.Instant,
        outOfTime: ResilienceError,
        countsAsFailure: @Sendable (any Error) -> Bool,
        _ operation: @escaping @Sendable (_ attempt: Int) async throws -> T
    ) async throws -> T {
        var attempts = 0
        var lastFailure: LastFailure?
        while true {
            try Task.checkCancellation()
            let now = self.clock.now
            guard now < deadline else {
                // Only reachable when a clock wakes a sleeper late: backoff ends before the
                // deadline.
                throw lastFailure?.exhausted(after: attempts) ?? outOfTime
            }
            let circuit: CircuitPermit
            do {
                circuit = try self.breaker.acquirePermission()
            } catch {
                // Also mid-retries: once the breaker has opened, more attempts only add load.
                throw ResilienceError.circuitOpen(retryAfter: error.retryAfter)
            }
            attempts += 1
            let attempt = attempts
            let attemptDeadline = min(now + self.policy.attemptTimeout, deadline)
            let started = self.clock.now
            let outcome = await raceDeadline({ try await operation(attempt) }, until: attemptDeadline, clock: self.clock)
            let elapsed = self.clock.now - started

            let retryAfter: Duration?
            switch outcome {
            case .finished(.success(let value)):
                circuit.recordSuccess(duration: elapsed)
                return value
            case .finished(.failure(let error)):
                if Task.isCancelled {
                    // The caller gave up; whatever the operation threw says nothing about the
                    // provider.
                    circuit.recordIgnored()
                    throw CancellationError()
                }
                if error is CancellationError {
                    circuit.recordIgnored()
                    throw error
                }
                if countsAsFailure(error) {
                    circuit.recordFailure(duration: elapsed, errorDescription: String(describing: error))
                } else {
                    circuit.recordIgnored()
                }
                guard let classified = error as? any RetryClassifiable,
                    case .retry(let after) = classified.retryDisposition
                else {
                    throw error
                }
                lastFailure = .failed(error)
                retryAfter = after
            case .deadlinePassed:
                if Task.isCancelled {
                    circuit.recordIgnored()
                    throw CancellationError()
                }
                circuit.recordFailure(
                    duration: elapsed,
                    errorDescription: String(describing: AttemptTimedOut(attempt: attempt, after: elapsed))
                )
                if attemptDeadline >= deadline {
                    throw ResilienceError.timedOut(attempts: attempt)
                }
                lastFailure = .timedOut
                retryAfter = nil
            }

            let failure = lastFailure!
            guard attempt <= self.policy.retry.maxRetries,
                let delay = self.policy.retry.delay(forRetry: attempt - 1, retryAfter: retryAfter)
            else {
                throw failure.exhausted(after: attempt)
            }
            let wakeAt = self.clock.now + delay
            // A retry needs time to run after the backoff, so the backoff must end before the
            // deadline, not at it.
            guard wakeAt < deadline else {
                throw failure.exhausted(after: attempt)
            }
            if delay > .zero {
                try await self.clock.sleep(until: wakeAt)
            }
        }
    }
}
