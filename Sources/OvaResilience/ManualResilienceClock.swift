import Synchronization

/// A clock that only moves when told to, for deterministic tests of anything built on
/// ``ResilienceClock`` (here and in other modules).
///
/// Sleepers suspend until ``advance(by:)`` or ``advance(to:)`` moves time to or past their
/// deadline; a sleeper whose task is cancelled throws `CancellationError` at once. Because
/// the code under test usually sleeps from another task, tests first wait for the sleep to
/// be registered (``waitForSleepers(count:)``, ``waitForSleeper(until:)``) and only then
/// advance: advancing earlier would let the sleeper register against the new time.
public final class ManualResilienceClock: ResilienceClock {
    private struct Sleeper {
        let id: UInt64
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        let id: UInt64
        let condition: @Sendable ([ContinuousClock.Instant]) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: ContinuousClock.Instant
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        var watchers: [Watcher] = []

        var pendingDeadlines: [ContinuousClock.Instant] {
            self.sleepers.map(\.deadline).sorted()
        }

        mutating func allocateID() -> UInt64 {
            self.nextID += 1
            return self.nextID
        }

        /// Removes and returns the watchers whose condition now holds; called after every
        /// change to the sleepers so no watcher misses the state it waits for.
        mutating func takeSatisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            guard !self.watchers.isEmpty else { return [] }
            let deadlines = self.pendingDeadlines
            var satisfied: [CheckedContinuation<Void, Never>] = []
            self.watchers.removeAll { watcher in
                guard watcher.condition(deadlines) else { return false }
                satisfied.append(watcher.continuation)
                return true
            }
            return satisfied
        }
    }

    private let state: Mutex<State>

    /// - Parameter now: the starting instant; any value works, the default is the real now.
    public init(now: ContinuousClock.Instant = .now) {
        self.state = Mutex(State(now: now))
    }

    public var now: ContinuousClock.Instant {
        self.state.withLock { $0.now }
    }

    /// The deadlines of the tasks sleeping now, earliest first.
    public var pendingDeadlines: [ContinuousClock.Instant] {
        self.state.withLock { $0.pendingDeadlines }
    }

    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        let id = self.state.withLock { $0.allocateID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Action { case wait, resume, cancel }
                // Checking cancellation under the same lock the handler takes closes the race
                // where the handler runs before the sleeper is registered and finds nothing.
                let (action, woken) = self.state.withLock { state -> (Action, [CheckedContinuation<Void, Never>]) in
                    if Task.isCancelled { return (.cancel, []) }
                    if deadline <= state.now { return (.resume, []) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return (.wait, state.takeSatisfiedWatchers())
                }
                for watcher in woken { watcher.resume() }
                switch action {
                case .wait: break
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let (sleeper, woken) = self.state.withLock { state -> (Sleeper?, [CheckedContinuation<Void, Never>]) in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return (nil, []) }
                let sleeper = state.sleepers.remove(at: index)
                return (sleeper, state.takeSatisfiedWatchers())
            }
            for watcher in woken { watcher.resume() }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline has come,
    /// earliest deadline first.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock cannot go back")
        self.move { now, _ in now + duration }
    }

    /// Moves time forward to `instant` (which must not be in the past) and wakes every sleeper
    /// whose deadline has come, earliest deadline first.
    public func advance(to instant: ContinuousClock.Instant) {
        self.move { now, _ in
            precondition(instant >= now, "a clock cannot go back")
            return instant
        }
    }

    /// Moves time to the earliest pending deadline and wakes the sleepers due then.
    /// - Returns: the new time, or nil (and time unchanged) when nothing is sleeping.
    @discardableResult
    public func advanceToNextDeadline() -> ContinuousClock.Instant? {
        self.move { _, deadlines in deadlines.first }
    }

    /// Suspends until the pending deadlines satisfy `condition` (checked at once and after
    /// every change), or the calling task is cancelled.
    ///
    /// `condition` runs under the clock's lock and must not call back into the clock.
    public func waitForSleepers(where condition: @escaping @Sendable (_ deadlines: [ContinuousClock.Instant]) -> Bool) async {
        let id = self.state.withLock { $0.allocateID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = self.state.withLock { state -> Bool in
                    if Task.isCancelled || condition(state.pendingDeadlines) { return true }
                    state.watchers.append(Watcher(id: id, condition: condition, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let watcher = self.state.withLock { state -> Watcher? in
                guard let index = state.watchers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.watchers.remove(at: index)
            }
            watcher?.continuation.resume()
        }
    }

    /// Suspends until at least `count` tasks are sleeping on this clock.
    public func waitForSleepers(count: Int = 1) async {
        await self.waitForSleepers { $0.count >= count }
    }

    /// Suspends until some task sleeps until exactly `deadline`.
    public func waitForSleeper(until deadline: ContinuousClock.Instant) async {
        await self.waitForSleepers { $0.contains(deadline) }
    }

    /// Sets the time to what `target` returns for the current time and pending deadlines (nil:
    /// leave it) and resumes the sleepers now due, outside the lock (resuming can run code that
    /// calls back into the clock).
    @discardableResult
    private func move(
        _ target: (_ now: ContinuousClock.Instant, _ deadlines: [ContinuousClock.Instant]) -> ContinuousClock.Instant?
    ) -> ContinuousClock.Instant? {
        let (moved, due, woken) = self.state.withLock { state -> (ContinuousClock.Instant?, [Sleeper], [CheckedContinuation<Void, Never>]) in
            guard let newNow = target(state.now, state.pendingDeadlines) else { return (nil, [], []) }
            state.now = newNow
            let now = newNow
            let due = state.sleepers.filter { $0.deadline <= now }
                .sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            guard !due.isEmpty else { return (now, [], []) }
            state.sleepers.removeAll { $0.deadline <= now }
            return (now, due, state.takeSatisfiedWatchers())
        }
        for watcher in woken { watcher.resume() }
        for sleeper in due { sleeper.continuation.resume() }
        return moved
    }
}
