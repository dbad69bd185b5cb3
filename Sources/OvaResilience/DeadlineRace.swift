/// How ``raceDeadline(_:until:clock:)`` ended.
enum DeadlineRaceOutcome<T: Sendable>: Sendable {
    /// The operation finished first, with this result.
    case finished(Result<T, any Error>)
    /// The deadline came first; the operation was cancelled and has ended.
    case deadlinePassed
}

/// What each child task of the race reports.
private enum DeadlineRacer<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case timerFired
    case timerFailed
}

/// Runs `operation` in a child task, cancelling it if `deadline` (on `clock`) comes first.
///
/// Returns only once the operation has ended, so a timeout cannot leave work running in the
/// background; the flip side is that an operation that ignores cancellation holds the caller
/// until it ends on its own. Every operation run through OvaResilience must therefore honour
/// cancellation (URLSession, AsyncHTTPClient and NIO-based clients do).
///
/// When the calling task is cancelled, both children are cancelled and the operation's own
/// result (usually a `CancellationError`) is returned, not a timeout.
func raceDeadline<T: Sendable>(
    _ operation: @escaping @Sendable () async throws -> T,
    until deadline: ContinuousClock.Instant,
    clock: any ResilienceClock
) async -> DeadlineRaceOutcome<T> {
    await withTaskGroup(of: DeadlineRacer<T>.self) { group in
        group.addTask {
            do {
                return .finished(.success(try await operation()))
            } catch {
                return .finished(.failure(error))
            }
        }
        group.addTask {
            do {
                try await clock.sleep(until: deadline)
                return .timerFired
            } catch {
                return .timerFailed
            }
        }
        defer { group.cancelAll() }
        while let racer = await group.next() {
            switch racer {
            case .finished(let result):
                return .finished(result)
            case .timerFired:
                return .deadlinePassed
            case .timerFailed:
                // The timer only fails when cancelled, i.e. the caller was: the operation is
                // being cancelled too, and its result says how it ended. A clock that fails
                // for another reason must not leave the operation without a bound.
                if Task.isCancelled { continue }
                return .deadlinePassed
            }
        }
        // Unreachable: the operation's child always reports.
        return .deadlinePassed
    }
}
