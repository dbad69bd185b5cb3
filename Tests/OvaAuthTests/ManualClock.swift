import Synchronization

/// A clock that only moves when a test says so.
final class ManualClock: Sendable {
    private let instant = Mutex<ContinuousClock.Instant>(.now)

    func now() -> ContinuousClock.Instant {
        instant.withLock { $0 }
    }

    func advance(by duration: Duration) {
        instant.withLock { $0 = $0 + duration }
    }
}
