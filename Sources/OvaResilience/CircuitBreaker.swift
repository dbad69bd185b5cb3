import Synchronization

/// Stops calling a provider that keeps failing, and probes it before trusting it again.
///
/// Semantics follow resilience4j's count-based breaker:
///
/// - **Closed**: calls go through; their outcomes (failed or not, slow or not) fill a sliding
///   window of the last ``Configuration/slidingWindowSize`` calls. Once it holds at least
///   ``Configuration/minimumCalls``, a failure rate ≥ ``Configuration/failureRateThreshold``
///   or a slow-call rate ≥ ``Configuration/slowCallRateThreshold`` opens the breaker.
/// - **Open**: every call is refused at once with ``CircuitOpen`` carrying the rest of the
///   ``Configuration/openDuration``.
/// - **Half-open** (once the open period ends; checked lazily on the next call or snapshot):
///   ``Configuration/halfOpenProbes`` calls go through, others are refused. Any probe failing
///   reopens the breaker; when all have succeeded it closes with an empty window, unless the
///   probes' slow-call rate reached the threshold, which reopens it. A probe reported as
///   ignored frees its slot for another probe.
///
/// Callers take a ``CircuitPermit`` with ``acquirePermission()`` and report the outcome on it;
/// see ``CircuitPermit`` for which failures should count. State changes are reported through
/// `onStateChange`, in order, outside the lock (so the callback may read ``snapshot``).
public final class CircuitBreaker: Sendable {
    /// When the breaker opens and how it recovers.
    public struct Configuration: Sendable, Equatable {
        /// How many of the most recent calls the failure and slow rates are computed over.
        public var slidingWindowSize: Int
        /// How many calls the window needs before it can open the breaker (capped at the
        /// window size), so two failures at startup do not make a 100% failure rate.
        public var minimumCalls: Int
        /// The failure rate (0...1) that opens the breaker.
        public var failureRateThreshold: Double
        /// Calls taking at least this long are slow, whether they succeed or fail.
        public var slowCallDuration: Duration
        /// The slow-call rate (0...1) that opens the breaker; 1.0 opens only when every call in
        /// the window is slow.
        public var slowCallRateThreshold: Double
        /// How long the breaker stays open before probing.
        public var openDuration: Duration
        /// How many trial calls a half-open breaker lets through.
        public var halfOpenProbes: Int
        /// The `retryAfter` given to calls refused while half-open with every probe in flight;
        /// there is no exact answer (it depends on the probes), so this is a hint.
        public var halfOpenRetryAfter: Duration

        public init(
            slidingWindowSize: Int = 20,
            minimumCalls: Int = 10,
            failureRateThreshold: Double = 0.5,
            slowCallDuration: Duration = .seconds(10),
            slowCallRateThreshold: Double = 1.0,
            openDuration: Duration = .seconds(30),
            halfOpenProbes: Int = 3,
            halfOpenRetryAfter: Duration = .seconds(1)
        ) {
            self.slidingWindowSize = slidingWindowSize
            self.minimumCalls = minimumCalls
            self.failureRateThreshold = failureRateThreshold
            self.slowCallDuration = slowCallDuration
            self.slowCallRateThreshold = slowCallRateThreshold
            self.openDuration = openDuration
            self.halfOpenProbes = halfOpenProbes
            self.halfOpenRetryAfter = halfOpenRetryAfter
        }

        func validate() {
            precondition(self.slidingWindowSize >= 1, "slidingWindowSize must be at least 1")
            precondition(self.minimumCalls >= 1, "minimumCalls must be at least 1")
            precondition(
                self.failureRateThreshold > 0 && self.failureRateThreshold <= 1,
                "failureRateThreshold must be in (0, 1]"
            )
            precondition(
                self.slowCallRateThreshold > 0 && self.slowCallRateThreshold <= 1,
                "slowCallRateThreshold must be in (0, 1]"
            )
            precondition(self.slowCallDuration > .zero, "slowCallDuration must be positive")
            precondition(self.openDuration > .zero, "openDuration must be positive")
            precondition(self.halfOpenProbes >= 1, "halfOpenProbes must be at least 1")
            precondition(self.halfOpenRetryAfter >= .zero, "halfOpenRetryAfter must not be negative")
        }
    }

    /// Where the breaker is in its cycle.
    public enum State: Sendable, Equatable, CustomStringConvertible {
        /// Calls go through and are counted.
        case closed
        /// Calls are refused.
        case open
        /// A few probe calls go through to test the provider.
        case halfOpen

        public var description: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
    }

    enum Outcome {
        case success
        case failure(String)
        case ignored
    }

    private struct Transition {
        let from: State
        let to: State
    }

    private struct Core {
        var state: State = .closed
        /// Bumped on every state change; see ``CircuitPermit/generation``.
        var generation: UInt64 = 0
        var window: OutcomeWindow
        var latencies: LatencyWindow
        var openUntil: ContinuousClock.Instant?
        var probesIssued = 0
        var probesSucceeded = 0
        var probesSlow = 0
        var lastStateChange: ContinuousClock.Instant
        var lastError: String?
        var callsTotal = 0
        var failuresTotal = 0
        var ignoredTotal = 0
        var rejectedTotal = 0
        /// State changes not yet passed to `onStateChange`, oldest first.
        var pendingTransitions: [Transition] = []
        /// Whether some thread is running `onStateChange` now; it delivers whatever queues up
        /// meanwhile, which keeps callbacks in order without holding the lock during them.
        var delivering = false
    }

    /// The breaker's name, passed to `onStateChange` and put in ``CircuitOpen``.
    public let name: String
    public let configuration: Configuration
    private let clock: any ResilienceClock
    private let onStateChange: @Sendable (_ name: String, _ from: State, _ to: State) -> Void
    private let core: Mutex<Core>

    /// - Parameters:
    ///   - name: identifies the breaker (usually the provider) in errors and callbacks.
    ///   - configuration: thresholds and durations.
    ///   - clock: the time source; tests pass a ``ManualResilienceClock``.
    ///   - onStateChange: called with the name and the old and new state after each change,
    ///     in order, never concurrently with itself; use it for logging and metrics.
    public init(
        name: String,
        configuration: Configuration = Configuration(),
        clock: any ResilienceClock = SystemResilienceClock(),
        onStateChange: @escaping @Sendable (_ name: String, _ from: State, _ to: State) -> Void = { _, _, _ in }
    ) {
        configuration.validate()
        self.name = name
        self.configuration = configuration
        self.clock = clock
        self.onStateChange = onStateChange
        self.core = Mutex(
            Core(
                window: OutcomeWindow(capacity: configuration.slidingWindowSize),
                latencies: LatencyWindow(capacity: configuration.slidingWindowSize),
                lastStateChange: clock.now
            )
        )
    }

    /// Asks to make one call. Closed: always granted. Open: refused with the rest of the open
    /// period. Half-open: granted while probe slots remain.
    public func acquirePermission() throws(CircuitOpen) -> CircuitPermit {
        let now = self.clock.now
        let decision = self.core.withLock { core -> Result<(UInt64, Bool), CircuitOpen> in
            self.halfOpenIfDue(&core, now: now)
            switch core.state {
            case .closed:
                return .success((core.generation, false))
            case .open:
                core.rejectedTotal += 1
                let retryAfter = max((core.openUntil ?? now) - now, .zero)
                return .failure(CircuitOpen(breakerName: self.name, retryAfter: retryAfter, state: .open))
            case .halfOpen:
                guard core.probesIssued < self.configuration.halfOpenProbes else {
                    core.rejectedTotal += 1
                    return .failure(
                        CircuitOpen(
                            breakerName: self.name,
                            retryAfter: self.configuration.halfOpenRetryAfter,
                            state: .halfOpen
                        )
                    )
                }
                core.probesIssued += 1
                return .success((core.generation, true))
            }
        }
        self.deliverTransitions()
        switch decision {
        case .success(let (generation, isProbe)):
            return CircuitPermit(breaker: self, generation: generation, isProbe: isProbe)
        case .failure(let error):
            throw error
        }
    }

    /// The current state and statistics.
    public var snapshot: CircuitSnapshot {
        let now = self.clock.now
        let snapshot = self.core.withLock { core in
            self.halfOpenIfDue(&core, now: now)
            return CircuitSnapshot(
                name: self.name,
                state: core.state,
                failureRate: core.window.failureRate,
                slowCallRate: core.window.slowCallRate,
                bufferedCalls: core.window.count,
                p50Latency: core.latencies.percentile(0.5),
                p99Latency: core.latencies.percentile(0.99),
                callsTotal: core.callsTotal,
                failuresTotal: core.failuresTotal,
                ignoredTotal: core.ignoredTotal,
                rejectedTotal: core.rejectedTotal,
                lastStateChange: core.lastStateChange,
                retryAfter: core.state == .open ? max((core.openUntil ?? now) - now, .zero) : nil,
                lastError: core.lastError
            )
        }
        self.deliverTransitions()
        return snapshot
    }

    /// The current state (an expired open period reads as half-open).
    public var state: State {
        self.snapshot.state
    }

    /// Forces the breaker closed with an empty window, e.g. from an admin action after the
    /// provider was fixed. Permits issued before the reset no longer affect the state.
    public func reset() {
        let now = self.clock.now
        self.core.withLock { core in
            self.transition(&core, to: .closed, now: now)
        }
        self.deliverTransitions()
    }

    /// Applies a permit's outcome; called by ``CircuitPermit`` only, at most once per permit.
    func record(_ outcome: Outcome, duration: Duration?, permit: CircuitPermit) {
        let now = self.clock.now
        self.core.withLock { core in
            let slow = duration.map { $0 >= self.configuration.slowCallDuration } ?? false
            let failed: Bool
            switch outcome {
            case .ignored:
                core.ignoredTotal += 1
                // A probe that says nothing about the provider gives its slot to another call.
                if permit.isProbe, permit.generation == core.generation, core.state == .halfOpen {
                    core.probesIssued -= 1
                }
                return
            case .success:
                failed = false
            case .failure(let description):
                failed = true
                core.failuresTotal += 1
                core.lastError = description
            }
            core.callsTotal += 1
            if let duration { core.latencies.add(duration) }

            // A call that started before the last state change tells us about a provider
            // state that has since been acted on; it must not close or reopen the breaker.
            guard permit.generation == core.generation else { return }
            switch core.state {
            case .closed:
                core.window.add(failed: failed, slow: slow)
                let minimumCalls = min(self.configuration.minimumCalls, self.configuration.slidingWindowSize)
                if core.window.count >= minimumCalls,
                    core.window.failureRate >= self.configuration.failureRateThreshold
                        || core.window.slowCallRate >= self.configuration.slowCallRateThreshold
                {
                    self.transition(&core, to: .open, now: now)
                }
            case .halfOpen:
                if failed {
                    self.transition(&core, to: .open, now: now)
                    return
                }
                core.probesSucceeded += 1
                if slow { core.probesSlow += 1 }
                let probes = self.configuration.halfOpenProbes
                if core.probesSucceeded >= probes {
                    let slowRate = Double(core.probesSlow) / Double(probes)
                    let next: State = slowRate >= self.configuration.slowCallRateThreshold ? .open : .closed
                    self.transition(&core, to: next, now: now)
                }
            case .open:
                // No permits are issued while open, so none can belong to this generation.
                break
            }
        }
        self.deliverTransitions()
    }

    private func halfOpenIfDue(_ core: inout Core, now: ContinuousClock.Instant) {
        if core.state == .open, let openUntil = core.openUntil, now >= openUntil {
            self.transition(&core, to: .halfOpen, now: now)
        }
    }

    /// Enters `state` and starts its bookkeeping afresh. Entering the current state (only
    /// `reset()` does that) still starts a new generation and empties the window. Opening keeps
    /// the window (no call is recorded while open), so the snapshot shows the failure rate that
    /// opened the breaker; half-open starts from an empty one.
    private func transition(_ core: inout Core, to state: State, now: ContinuousClock.Instant) {
        let from = core.state
        core.state = state
        core.generation += 1
        core.lastStateChange = now
        if state != .open {
            core.window.removeAll()
        }
        core.probesIssued = 0
        core.probesSucceeded = 0
        core.probesSlow = 0
        core.openUntil = state == .open ? now + self.configuration.openDuration : nil
        if from != state {
            core.pendingTransitions.append(Transition(from: from, to: state))
        }
    }

    /// Runs `onStateChange` for queued transitions unless another thread already is (it will
    /// pick these up too). Called after every locked section that may have queued one.
    private func deliverTransitions() {
        while true {
            let batch = self.core.withLock { core -> [Transition] in
                guard !core.delivering, !core.pendingTransitions.isEmpty else { return [] }
                core.delivering = true
                defer { core.pendingTransitions.removeAll() }
                return core.pendingTransitions
            }
            guard !batch.isEmpty else { return }
            for transition in batch {
                self.onStateChange(self.name, transition.from, transition.to)
            }
            self.core.withLock { $0.delivering = false }
        }
    }
}
