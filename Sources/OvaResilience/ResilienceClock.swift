/// The time source behind breakers, timeouts and backoff.
///
/// Everything in OvaResilience reads time through this protocol rather than `ContinuousClock`
/// directly, so tests can drive open durations, attempt timeouts and backoff sleeps with a
/// ``ManualResilienceClock`` instead of waiting in real time.
public protocol ResilienceClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }

    /// Suspends until `deadline` (returning at once if it has passed).
    ///
    /// Implementations must throw `CancellationError` promptly when the calling task is
    /// cancelled: timeouts are implemented by racing an operation against this sleep, and a
    /// sleep that ignores cancellation would hold the attempt open after the operation ended.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}
