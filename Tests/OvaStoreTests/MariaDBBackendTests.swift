import Foundation
import Logging
import OvaMariaDBServer
import OvaTestSupport
import Synchronization
import Testing

@testable import OvaStore

/// What only the MariaDB backend has: a server that can crash, connections that can be killed,
/// a pool that can run dry, logins that can be refused.
@Suite("MariaDB backend", .timeLimit(.minutes(3)))
struct MariaDBBackendTests {
    private static let logger = Logger(label: "test")

    @Test("a crash and restart of mariadbd under load: calls in flight fail UNAVAILABLE, the same Database recovers, no acknowledged write is lost")
    func crashUnderLoad() async throws {
        try await withDedicatedMariaDB { server in
            let database = try await server.makeDatabase()
            let store = try await Store.open(.mariadb(database.storeOptions(poolSize: 4, acquireTimeout: .seconds(30))), logger: Self.logger)
            try await withAsyncCleanup {
                let log = LoadLog()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            var sequence = 0
                            // Each writer goes on until it has had 5 writes acknowledged after the restart.
                            var afterRestart = 0
                            while afterRestart < 5 {
                                sequence += 1
                                let wasRestarted = log.restarted.load(ordering: .acquiring)
                                do {
                                    let message = try await store.messages.create(
                                        name: "Writer \(writer)", email: "w\(writer)@example.com", subject: "n\(sequence)", message: "load"
                                    )
                                    log.acknowledged.withLock { $0.append(message.id) }
                                    if wasRestarted {
                                        afterRestart += 1
                                        log.acknowledgedAfterRestart.add(1, ordering: .relaxed)
                                    }
                                } catch let error as StoreError {
                                    log.failures.withLock { $0.append(error) }
                                    // The server is down: back off a little instead of spinning.
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                            }
                        }
                    }
                    group.addTask {
                        // Crash once the load is on: at least 40 writes acknowledged.
                        while log.acknowledged.withLock({ $0.count }) < 40 {
                            try await Task.sleep(for: .milliseconds(5))
                        }
                        try await server.crashAndRestart()
                        log.restarted.store(true, ordering: .releasing)
                    }
                    try await group.waitForAll()
                }
                #expect(log.acknowledgedAfterRestart.load(ordering: .relaxed) == 8 * 5)
                // Every failure was the database being unavailable, nothing else.
                for failure in log.failures.withLock({ $0 }) {
                    guard case .unavailable = failure else {
                        Issue.record("unexpected failure \(failure)")
                        continue
                    }
                }
                // Every write acknowledged before or after the crash is there.
                let stored = try await store.database.read { connection throws(StoreError) in
                    Set(try connection.query("SELECT id FROM contact_messages").map { $0.int64(0) })
                }
                let ids = log.acknowledged.withLock { $0 }
                #expect(Set(ids).isSubset(of: stored), "lost: \(Set(ids).subtracting(stored).sorted())")
                #expect(ids.count == Set(ids).count)
            } cleanup: {
                await store.database.close()
            }
        }
    }

    @Test("a connection the server killed fails its call UNAVAILABLE and is replaced by a new one")
    func killedConnection() async throws {
        try await withMariaDB { database in
            let store = try await Store.open(.mariadb(database.storeOptions(poolSize: 1)), logger: Self.logger)
            try await withAsyncCleanup {
                let connectionID: @Sendable () async throws -> Int64 = {
                    try await store.database.read { connection throws(StoreError) in
                        try connection.query("SELECT CONNECTION_ID()").first?.int64(0) ?? 0
                    }
                }
                let first = try await connectionID()
                try await database.server.runAsRoot("KILL \(first);")
                // Used less than a second ago, the pooled connection is not pinged: the call meets
                // the closed socket and fails UNAVAILABLE. (On a loaded machine the KILL may take
                // longer than that; then the ping finds the connection dead and the call runs on
                // a new one.) Either way the killed connection is never used again.
                do {
                    _ = try await store.admins.count()
                } catch {
                    guard case StoreError.unavailable = error else {
                        Issue.record("unexpected \(error)")
                        return
                    }
                }
                let second = try await connectionID()
                #expect(second != first)
                #expect(try await store.admins.count() == 0)
                #expect(store.database.poolStatus.idle == 1)
            } cleanup: {
                await store.database.close()
            }
        }
    }

    @Test("with every connection busy a call fails UNAVAILABLE at the acquire timeout, naming OVA_DB_POOL_SIZE; the pool then serves again")
    func poolExhaustion() async throws {
        try await withMariaDB { database in
            let store = try await Store.open(.mariadb(database.storeOptions(poolSize: 1, acquireTimeout: .milliseconds(200))), logger: Self.logger)
            try await withAsyncCleanup {
                let slow = Task {
                    try await store.database.read { connection throws(StoreError) in
                        try connection.query("SELECT SLEEP(3)").count
                    }
                }
                while store.database.poolStatus.inUse < 1 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                do {
                    _ = try await store.admins.count()
                    Issue.record("expected UNAVAILABLE while the only connection sleeps")
                } catch let error as StoreError {
                    guard case .unavailable(let message) = error else {
                        Issue.record("unexpected \(error)")
                        return
                    }
                    #expect(message.contains("OVA_DB_POOL_SIZE"), "\(message)")
                }
                #expect(store.database.poolStatus == DatabasePoolStatus(size: 1, inUse: 1, idle: 0, waiting: 0))
                _ = try await slow.value
                #expect(try await store.admins.count() == 0)
                #expect(store.database.poolStatus == DatabasePoolStatus(size: 1, inUse: 0, idle: 1, waiting: 0))
            } cleanup: {
                await store.database.close()
            }
        }
    }

    @Test("wrong credentials and an unknown database fail at open, naming the settings and never the password")
    func refusedLogin() async throws {
        try await withMariaDB { database in
            var options = database.storeOptions()
            options.connection.password = "wrong-password-\(UUID().uuidString)"
            let wrong = await Self.openError(options)
            #expect(wrong?.contains("Access denied") == true, "\(wrong ?? "")")
            #expect(wrong?.contains("check DB_USER and DB_PASSWORD") == true, "\(wrong ?? "")")
            #expect(wrong?.contains(options.connection.password) == false)

            options = database.storeOptions()
            options.connection.database = "ovatest_missing"
            let missing = await Self.openError(options)
            #expect(missing?.contains("check DB_NAME") == true, "\(missing ?? "")")

            options = database.storeOptions()
            options.connection.endpoint = .tcp(host: "127.0.0.1", port: try LoopbackPort.free())
            let unreachable = await Self.openError(options)
            #expect(unreachable?.contains("check DB_HOST and DB_PORT") == true, "\(unreachable ?? "")")

            options = database.storeOptions()
            options.connection.tlsMode = .required
            let plain = await Self.openError(options)
            #expect(plain?.contains("does not offer TLS") == true, "\(plain ?? "")")
            #expect(plain?.contains("DB_SSL_MODE") == true, "\(plain ?? "")")
            // The default, preferred, falls back to plain text with this server.
            options.connection.tlsMode = .preferred
            let store = try await Store.open(.mariadb(options), logger: Self.logger)
            #expect(try await store.admins.count() == 0)
            await store.database.close()
        }
    }

    @Test("a database migrated by a newer OVA is refused naming DB_NAME, and nothing is changed")
    func newerSchema() async throws {
        try await withMariaDB { database in
            let store = try await Store.open(.mariadb(database.storeOptions()), logger: Self.logger)
            try await store.database.write { connection throws(StoreError) in
                try connection.run("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, 'from the future', 0)")
            }
            await store.database.close()
            let message = await Self.openError(database.storeOptions())
            #expect(message?.contains("newer OVA") == true, "\(message ?? "")")
            #expect(message?.contains("DB_NAME") == true, "\(message ?? "")")

            let reader = try await Database.open(.mariadb(database.storeOptions()), logger: Self.logger, migrate: false)
            let status = try await reader.migrationStatus()
            #expect(status.unknownVersions == [999])
            #expect(status.known.allSatisfy { $0.appliedAtMilliseconds != nil })
            await reader.close()
        }
    }

    @Test("servers opening one new database together apply each migration once; status reads without creating")
    func concurrentMigration() async throws {
        try await withMariaDB { database in
            let fresh = try await Database.open(.mariadb(database.storeOptions()), logger: Self.logger, migrate: false)
            let before = try await fresh.migrationStatus()
            #expect(before.known.count == Migrations.count)
            #expect(before.known.allSatisfy { $0.appliedAtMilliseconds == nil })
            let tables = try await fresh.read { connection throws(StoreError) in
                try connection.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").first?.int64(0)
            }
            #expect(tables == 0)
            await fresh.close()

            let opened = try await withThrowingTaskGroup(of: Database.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await Database.open(.mariadb(database.storeOptions()), logger: Self.logger) }
                }
                return try await group.reduce(into: [Database]()) { $0.append($1) }
            }
            let rows = try await opened[0].read { connection throws(StoreError) in
                try connection.query("SELECT version FROM schema_migrations ORDER BY version").map { $0.int64(0) }
            }
            #expect(rows == (1...Int64(Migrations.count)).map { $0 })
            #expect(opened[0].backendName == "mariadb")
            #expect(opened[0].serverVersion.contains("MariaDB"))
            for database in opened { await database.close() }
        }
    }

    private static func openError(_ options: MariaDBStoreOptions) async -> String? {
        do {
            let database = try await Database.open(.mariadb(options), logger: Self.logger)
            await database.close()
            Issue.record("expected the open to fail")
            return nil
        } catch {
            guard case .unavailable(let message) = error else { return "\(error)" }
            return message
        }
    }
}

/// What the writers of ``MariaDBBackendTests/crashUnderLoad()`` saw.
private final class LoadLog: Sendable {
    let acknowledged = Mutex<[Int64]>([])
    let failures = Mutex<[StoreError]>([])
    let restarted = Atomic<Bool>(false)
    let acknowledgedAfterRestart = Atomic<Int>(0)
}
