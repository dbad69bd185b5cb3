import Foundation
import Logging
import OvaAuth
import OvaProto
import OvaRPC
import OvaServices
import OvaStore
import OvaTestServer
import OvaTestSupport
import Synchronization
import Testing

/// The login throttle's histories in the database: what several instances share.
@Suite("Shared login throttle")
struct SharedLoginThrottleTests {
    /// A store of `backend` and a throttle whose clock the test moves (Unix milliseconds).
    private func withThrottle(
        _ backend: TestBackend, policy: LoginThrottlePolicy = LoginThrottlePolicy(),
        _ body: (SharedLoginThrottle, Store, TestClock) async throws -> Void
    ) async throws {
        try await backend.withFreshDatabase { location in
            let store = try await Store.open(location, logger: Logger(label: "test"))
            try await withAsyncCleanup {
                let clock = TestClock()
                let throttle = SharedLoginThrottle(policy: policy, repository: store.loginThrottle, now: { clock.now.load(ordering: .relaxed) })
                try await body(throttle, store, clock)
            } cleanup: {
                await store.database.close()
            }
        }
    }

    /// Unix milliseconds that the test moves.
    final class TestClock: Sendable {
        let now = Atomic<Int64>(1_700_000_000_000)

        func advance(_ milliseconds: Int64) {
            self.now.add(milliseconds, ordering: .relaxed)
        }
    }

    @Test("failures add up in the database; the fifth locks; success forgets; purge keeps running locks", arguments: TestBackend.allCases)
    func rules(backend: TestBackend) async throws {
        try await self.withThrottle(backend) { throttle, store, now in
            for _ in 0..<4 { try await throttle.recordFailure("account:a@example.com") }
            #expect(try await throttle.retryAfter("account:a@example.com") == nil)
            try await throttle.recordFailure("account:a@example.com")
            #expect(try await throttle.retryAfter("account:a@example.com") == .seconds(900))
            #expect(try await throttle.retryAfter("account:b@example.com") == nil)
            // Failures while locked do not extend the lock.
            now.advance(100_000)
            try await throttle.recordFailure("account:a@example.com")
            #expect(try await throttle.retryAfter("account:a@example.com") == .seconds(800))

            for _ in 0..<3 { try await throttle.recordFailure("peer:192.0.2.1") }
            try await throttle.recordSuccess("peer:192.0.2.1")
            #expect(try await store.loginThrottle.record(key: "peer:192.0.2.1") == nil)

            try await throttle.recordFailure("peer:192.0.2.2")
            // 16 minutes on: the single failure is spent, the lock (until 15 min after t=0) too.
            now.advance(16 * 60_000 - 100_000 + 1)
            #expect(try await throttle.purge() == 0)  // changed less than 15 minutes ago: kept
            now.advance(15 * 60_000)
            #expect(try await throttle.purge() == 2)
            #expect(try await store.loginThrottle.record(key: "account:a@example.com") == nil)
        }
    }

    @Test("50 failures at once on one key all count: the row lock serializes them", arguments: TestBackend.allCases)
    func concurrentFailures(backend: TestBackend) async throws {
        try await self.withThrottle(backend, policy: LoginThrottlePolicy(maxFailures: 60)) { throttle, store, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await throttle.recordFailure("account:busy@example.com") }
                }
                try await group.waitForAll()
            }
            #expect(try await store.loginThrottle.record(key: "account:busy@example.com")?.failures.count == 50)
        }
    }

    @Test("five failed logins spread over three ova-server instances on one MariaDB lock the account on every instance")
    func lockoutAcrossInstances() async throws {
        let secret = ["JWT_SECRET_KEY": String(repeating: "k", count: 48)]
        let first = try await AccountsServer.start(secret, backend: .mariadb)
        try await withAsyncCleanup {
            let second = try await AccountsServer.sibling(of: first, secret)
            let third = try await AccountsServer.sibling(of: first, secret)
            try await withAsyncCleanup {
                let channels = try [first.makeChannel(), second.makeChannel(), third.makeChannel()]
                try await withAsyncCleanup {
                    for attempt in 0..<5 {
                        let error = await rpcError { try await login(channels[attempt % 3], AccountsServer.rootEmail, "wrong-password-\(attempt)") }
                        #expect(error?.code == .unauthenticated)
                    }
                    for channel in channels {
                        let locked = await rpcError { try await login(channel, AccountsServer.rootEmail, AccountsServer.rootPassword) }
                        #expect(locked?.code == .resourceExhausted, "\(String(describing: locked))")
                    }
                } cleanup: {
                    for channel in channels { await channel.close() }
                }
            } cleanup: {
                await third.stop(keepData: true)
                await second.stop(keepData: true)
            }
        } cleanup: {
            await first.stop()
        }
    }
}
