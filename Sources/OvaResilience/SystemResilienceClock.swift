/// The real clock: `ContinuousClock`, which keeps counting while the machine sleeps, so an
/// open breaker does not stay open longer after a suspend.
public struct SystemResilienceClock: ResilienceClock {
    public init() {}

    public var now: ContinuousClock.Instant {
        ContinuousClock.now
    }

    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        // No tolerance: backoff delays are already jittered, and attempt timeouts should fire
        // when asked.
        try await ContinuousClock().sleep(until: deadline, tolerance: nil)
    }
}
