import OvaAuth
import OvaStore

/// The login throttle of every ova-server on one database: ``LoginThrottlePolicy``'s rules over
/// the histories the store keeps, so 5 failures spread over three instances lock the account on
/// all of them, and a restart forgets nothing.
public struct SharedLoginThrottle: Sendable {
    public let policy: LoginThrottlePolicy
    let repository: LoginThrottleRepository
    /// Unix milliseconds; tests move it.
    let now: @Sendable () -> Int64

    public init(policy: LoginThrottlePolicy, repository: LoginThrottleRepository, now: @escaping @Sendable () -> Int64 = StoreClock.nowMilliseconds) {
        self.policy = policy
        self.repository = repository
        self.now = now
    }

    /// nil when `key` may try to log in; otherwise how long it remains locked.
    public func retryAfter(_ key: String) async throws(StoreError) -> Duration? {
        let record = try await self.repository.record(key: key)
        return self.policy.retryAfter(record.map(Self.history), now: self.now())
    }

    /// Counts a failed login for `key`.
    public func recordFailure(_ key: String) async throws(StoreError) {
        let now = self.now()
        let policy = self.policy
        try await self.repository.update(key: key, now: now) { record in
            let history = policy.recordingFailure(record.map(Self.history), now: now)
            return LoginThrottleRepository.Record(failures: history.failures, lockedUntil: history.lockedUntil ?? 0)
        }
    }

    /// Forgets `key`'s failures and lock, after a successful login.
    public func recordSuccess(_ key: String) async throws(StoreError) {
        try await self.repository.delete(key: key)
    }

    /// Deletes histories that can no longer matter (older than the window and the lockout).
    @discardableResult
    public func purge() async throws(StoreError) -> Int {
        let now = self.now()
        let retention = self.policy.retention.components.seconds * 1000
        return try await self.repository.purge(unchangedBefore: now - retention, now: now)
    }

    private static func history(_ record: LoginThrottleRepository.Record) -> LoginThrottlePolicy.History {
        LoginThrottlePolicy.History(failures: record.failures, lockedUntil: record.lockedUntil == 0 ? nil : record.lockedUntil)
    }
}
