import Foundation
import Logging
import OvaMariaDBServer
import OvaTestSupport
import Testing

@testable import OvaStore

/// A fresh store of `backend`, closed and removed afterwards.
func withStore<T>(_ backend: TestBackend, _ body: (Store) async throws -> T) async throws -> T {
    try await backend.withFreshDatabase { location in
        let store = try await Store.open(location, logger: Logger(label: "test"))
        return try await withAsyncCleanup {
            try await body(store)
        } cleanup: {
            await store.database.close()
        }
    }
}

/// A fresh SQLite database file in a temporary directory, removed afterwards, for tests of
/// SQLite's own mechanics (its file, its pragmas).
func withSQLiteStore<T>(_ body: (Store, String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("ova.sqlite3").path
    let store = try await Store.open(.file(path), logger: Logger(label: "test"))
    do {
        let result = try await body(store, path)
        await store.database.close()
        return result
    } catch {
        await store.database.close()
        throw error
    }
}

/// A database file whose schema stops at `version`, filled by `seed` through a bare connection
/// (as an older ova-server left it), then opened by ``Store/open(_:logger:)``, which migrates it.
func withMigratedStore<T>(
    from version: Int64,
    seed: (SQLiteConnection) throws -> Void,
    _ body: (Store) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("ova.sqlite3").path
    do {
        let connection = try SQLiteConnection(path: path)
        _ = try Migrations.apply(to: connection, through: version)
        try seed(connection)
    }  // The connection closes here, as the old server's would have.
    let store = try await Store.open(.file(path), logger: Logger(label: "test"))
    do {
        let result = try await body(store)
        await store.database.close()
        return result
    } catch {
        await store.database.close()
        throw error
    }
}

@Suite("Storage")
struct StoreTests {
    @Test("migrations run once, are recorded, and WAL plus foreign keys are on")
    func migrations() async throws {
        try await withSQLiteStore { store, path in
            let (version, journal, foreignKeys) = try await store.database.read { connection throws(StoreError) in
                (
                    try connection.query("SELECT MAX(version) FROM schema_migrations").first?.int64(0),
                    try connection.query("PRAGMA journal_mode").first?.string(0),
                    try connection.query("PRAGMA foreign_keys").first?.int64(0)
                )
            }
            #expect(version == Migrations.all.last?.version)
            #expect(journal == "wal")
            #expect(foreignKeys == 1)
            _ = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "$2b$12$x", superadmin: true)

            // Reopening the same file applies nothing and keeps the data.
            let again = try await Store.open(.file(path), logger: Logger(label: "test"))
            #expect(try await again.admins.count() == 1)
            let rows = try await again.database.read { connection throws(StoreError) in
                try connection.query("SELECT COUNT(*) FROM schema_migrations").first?.int64(0)
            }
            #expect(rows == Int64(Migrations.all.count))
            await again.database.close()
        }
    }

    @Test("a database written by a newer schema is refused with a clear error")
    func newerSchemaRefused() async throws {
        try await withSQLiteStore { store, path in
            try await store.database.write { connection throws(StoreError) in
                try connection.run("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, 'future', 0)")
            }
            await #expect(throws: StoreError.self) {
                _ = try await Store.open(.file(path), logger: Logger(label: "test"))
            }
            do {
                _ = try await Store.open(.file(path), logger: Logger(label: "test"))
            } catch {
                #expect("\(error)".contains("version 999"))
            }
        }
    }

    @Test("an unwritable location fails as unavailable")
    func unavailable() async throws {
        await #expect(throws: StoreError.unavailable("cannot open the database at /nonexistent-ova-dir/x.sqlite3: unable to open database file")) {
            _ = try await Store.open(.file("/nonexistent-ova-dir/x.sqlite3"), logger: Logger(label: "test"))
        }
    }

    @Test("a closed database answers unavailable instead of crashing")
    func closed() async throws {
        let store = try await Store.open(.memory, logger: Logger(label: "test"))
        await store.database.close()
        await #expect(throws: StoreError.unavailable("the database is closed")) {
            _ = try await store.admins.count()
        }
    }
}

@Suite("Administrators")
struct AdminRepositoryTests {
    @Test("create, read back, duplicate email, update, delete", arguments: TestBackend.allCases)
    func lifecycle(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let root = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h1", superadmin: true)
            let ana = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "h2", superadmin: false)
            #expect(ana.id > root.id)
            #expect(try await store.admins.get(id: ana.id) == ana)
            let credentials = try await store.admins.credentials(email: "ana@example.com")
            #expect(credentials?.admin == ana)
            #expect(credentials?.passwordHash == "h2")
            #expect(try await store.admins.credentials(email: "nobody@example.com") == nil)

            await #expect(throws: StoreError.duplicate(field: "email")) {
                _ = try await store.admins.create(name: "Dup", email: "ana@example.com", passwordHash: "h", superadmin: false)
            }
            await #expect(throws: StoreError.duplicate(field: "email")) {
                _ = try await store.admins.update(id: ana.id, AdminChanges(email: "root@example.com"))
            }

            let renamed = try await store.admins.update(id: ana.id, AdminChanges(name: "Ana María", superadmin: true))
            #expect(renamed.name == "Ana María")
            #expect(renamed.superadmin)
            #expect(renamed.email == "ana@example.com")
            #expect(try await store.admins.get(id: ana.id) == renamed)

            try await store.admins.setPasswordHash(id: ana.id, "h3")
            #expect(try await store.admins.passwordHash(id: ana.id) == "h3")

            try await store.admins.delete(id: ana.id)
            await #expect(throws: StoreError.notFound) { _ = try await store.admins.get(id: ana.id) }
            await #expect(throws: StoreError.notFound) { try await store.admins.delete(id: ana.id) }
            await #expect(throws: StoreError.notFound) { _ = try await store.admins.update(id: 4242, AdminChanges(name: "x")) }
        }
    }

    @Test("the last active superadmin cannot be deleted, deactivated or demoted", arguments: TestBackend.allCases)
    func lastSuperadmin(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let root = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h", superadmin: true)
            let other = try await store.admins.create(name: "Other", email: "other@example.com", passwordHash: "h", superadmin: false)
            for changes in [AdminChanges(active: false), AdminChanges(superadmin: false)] {
                await #expect(throws: StoreError.constraintViolation("at least one active superadmin must remain")) {
                    _ = try await store.admins.update(id: root.id, changes)
                }
            }
            await #expect(throws: StoreError.constraintViolation("at least one active superadmin must remain")) {
                try await store.admins.delete(id: root.id)
            }
            // Nothing changed: the failed writes rolled back.
            #expect(try await store.admins.get(id: root.id) == root)
            _ = try await store.admins.update(id: other.id, AdminChanges(superadmin: true))
            try await store.admins.delete(id: root.id)
            #expect(try await store.admins.count() == 1)
        }
    }

    @Test("SQL-looking and unusual text is stored verbatim, never executed", arguments: TestBackend.allCases)
    func hostileText(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let names = [
                "Robert'); DROP TABLE administrators;--",
                "x' OR '1'='1",
                "nul\u{0}inside",
                "emoji 🎙️ and ñ",
                String(repeating: "é", count: 100),
            ]
            for (index, name) in names.enumerated() {
                let admin = try await store.admins.create(name: name, email: "a\(index)@example.com", passwordHash: "h", superadmin: false)
                #expect(try await store.admins.get(id: admin.id).name == name)
            }
            #expect(try await store.admins.credentials(email: "x' OR '1'='1") == nil)
            #expect(try await store.admins.count() == Int64(names.count))
        }
    }

    @Test("pages are newest first, stable under inserts, and tokens are validated", arguments: TestBackend.allCases)
    func paging(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            var ids: [Int64] = []
            for index in 0..<7 {
                ids.append(try await store.admins.create(name: "A\(index)", email: "p\(index)@example.com", passwordHash: "h", superadmin: false).id)
            }
            let first = try await store.admins.list(page: try PageQuery(pageSize: 3, pageToken: ""))
            #expect(first.items.map(\.id) == Array(ids.reversed().prefix(3)))
            #expect(first.totalSize == 7)
            #expect(!first.nextPageToken.isEmpty)
            // A row inserted between pages shows up on page one, not in the middle.
            _ = try await store.admins.create(name: "late", email: "late@example.com", passwordHash: "h", superadmin: false)
            let second = try await store.admins.list(page: try PageQuery(pageSize: 3, pageToken: first.nextPageToken))
            #expect(second.items.map(\.id) == Array(ids.reversed().dropFirst(3).prefix(3)))
            let third = try await store.admins.list(page: try PageQuery(pageSize: 3, pageToken: second.nextPageToken))
            #expect(third.items.map(\.id) == [ids[0]])
            #expect(third.nextPageToken.isEmpty)

            #expect(try PageQuery(pageSize: 0, pageToken: "").size == 50)
            #expect(try PageQuery(pageSize: 1000, pageToken: "").size == 100)
            for bad in ["garbage", "v1.", "v1.zz", "v1.-5", "v1.0", "' OR 1=1 --", "v1.ffffffffffffffffffff"] {
                #expect(throws: StoreError.invalidPageToken) { _ = try PageQuery(pageSize: 10, pageToken: bad) }
            }
        }
    }
}

@Suite("Sessions")
struct SessionRepositoryTests {
    @Test("a session is valid only while active, unexpired, and its admin active", arguments: TestBackend.allCases)
    func validity(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let root = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h", superadmin: true)
            let ana = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "h", superadmin: false)
            let now: Int64 = 1_800_000_000_000
            let session = try await store.sessions.create(
                adminID: ana.id, tokenID: "jti-1", ipAddress: "127.0.0.1", userAgent: "test/1",
                startedAtMilliseconds: now, expiresAtMilliseconds: now + 60_000
            )
            #expect(session.admin == ana)
            #expect(try await store.sessions.findValid(tokenID: "jti-1", adminID: ana.id, nowMilliseconds: now + 1) == session)
            // Wrong admin for the token, unknown token, expired.
            #expect(try await store.sessions.findValid(tokenID: "jti-1", adminID: root.id, nowMilliseconds: now + 1) == nil)
            #expect(try await store.sessions.findValid(tokenID: "jti-x", adminID: ana.id, nowMilliseconds: now + 1) == nil)
            #expect(try await store.sessions.findValid(tokenID: "jti-1", adminID: ana.id, nowMilliseconds: now + 60_000) == nil)

            // Deactivating the admin revokes its sessions.
            _ = try await store.admins.update(id: ana.id, AdminChanges(active: false))
            #expect(try await store.sessions.findValid(tokenID: "jti-1", adminID: ana.id, nowMilliseconds: now + 1) == nil)
            _ = try await store.admins.update(id: ana.id, AdminChanges(active: true))
            #expect(try await store.sessions.findValid(tokenID: "jti-1", adminID: ana.id, nowMilliseconds: now + 1) == nil)

            // The token id is unique.
            await #expect(throws: StoreError.duplicate(field: "token_id")) {
                _ = try await store.sessions.create(
                    adminID: ana.id, tokenID: "jti-1", ipAddress: "", userAgent: "",
                    startedAtMilliseconds: now, expiresAtMilliseconds: now + 1
                )
            }
        }
    }

    @Test("revoke one, revoke all but the current, replace on refresh, cascade on delete", arguments: TestBackend.allCases)
    func revocation(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            _ = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h", superadmin: true)
            let ana = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "h", superadmin: false)
            let now = StoreClock.nowMilliseconds()
            var sessions: [SessionRecord] = []
            for index in 0..<4 {
                sessions.append(try await store.sessions.create(
                    adminID: ana.id, tokenID: "t\(index)", ipAddress: "10.0.0.\(index)", userAgent: "ua",
                    startedAtMilliseconds: now, expiresAtMilliseconds: now + 600_000
                ))
            }
            try await store.sessions.revoke(id: sessions[0].id)
            await #expect(throws: StoreError.notFound) { try await store.sessions.revoke(id: sessions[0].id) }
            let active = try await store.sessions.listActive(adminID: ana.id, nowMilliseconds: now, page: .first)
            #expect(active.items.map(\.id) == [sessions[3].id, sessions[2].id, sessions[1].id])

            let replacement = try await store.sessions.create(
                adminID: ana.id, tokenID: "t-new", ipAddress: "", userAgent: "",
                startedAtMilliseconds: now, expiresAtMilliseconds: now + 600_000, replacing: sessions[1].id
            )
            #expect(try await store.sessions.get(id: sessions[1].id).active == false)

            #expect(try await store.sessions.revokeAll(adminID: ana.id, except: replacement.id) == 2)
            let remaining = try await store.sessions.listActive(adminID: nil, nowMilliseconds: now, page: .first)
            #expect(remaining.items.map(\.id) == [replacement.id])

            try await store.admins.delete(id: ana.id)
            await #expect(throws: StoreError.notFound) { _ = try await store.sessions.get(id: replacement.id) }
        }
    }
}

@Suite("Contact messages")
struct ContactMessageRepositoryTests {
    @Test("lists count and page alike with no filter, one filter or both", arguments: TestBackend.allCases)
    func filters(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let m1 = try await store.messages.create(name: "Ana", email: "ana@example.com", subject: "Hola", message: "Primer mensaje")
            let m2 = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "Hi", message: "Second message")
            let m3 = try await store.messages.create(name: "Ana", email: "ana@example.com", subject: "Otra", message: "Segundo mensaje")
            _ = try await store.messages.mark(id: m3.id, read: true, answered: nil)

            let first = try await store.messages.list(ContactMessageFilter(), page: try PageQuery(pageSize: 2, pageToken: ""))
            #expect(first.items.map(\.id) == [m3.id, m2.id])
            #expect(first.totalSize == 3)
            let second = try await store.messages.list(ContactMessageFilter(), page: try PageQuery(pageSize: 2, pageToken: first.nextPageToken))
            #expect(second.items.map(\.id) == [m1.id])
            #expect(second.totalSize == 3)
            #expect(second.nextPageToken.isEmpty)

            let unreadFromAna = try await store.messages.list(ContactMessageFilter(unreadOnly: true, email: "ana@example.com"), page: .first)
            #expect(unreadFromAna.items.map(\.id) == [m1.id])
            #expect(unreadFromAna.totalSize == 1)
            let unread = try await store.messages.list(ContactMessageFilter(unreadOnly: true), page: try PageQuery(pageSize: 1, pageToken: ""))
            #expect(unread.items.map(\.id) == [m2.id])
            #expect(unread.totalSize == 2)
            let olderUnread = try await store.messages.list(ContactMessageFilter(unreadOnly: true), page: try PageQuery(pageSize: 1, pageToken: unread.nextPageToken))
            #expect(olderUnread.items.map(\.id) == [m1.id])
        }
    }

    @Test("send, filter unread and by sender, mark, group by sender, export batches, delete", arguments: TestBackend.allCases)
    func lifecycle(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let m1 = try await store.messages.create(name: "Ana", email: "ana@example.com", subject: "Hola", message: "Primer mensaje")
            let m2 = try await store.messages.create(name: "Luis", email: "luis@example.com", subject: "Hi", message: "Second message")
            let m3 = try await store.messages.create(name: "Ana G.", email: "ana@example.com", subject: "Otra", message: "Segundo mensaje")
            #expect(try await store.messages.get(id: m2.id) == m2)

            let marked = try await store.messages.mark(id: m1.id, read: true, answered: nil)
            #expect(marked.read && !marked.answered)
            let answered = try await store.messages.mark(id: m1.id, read: nil, answered: true)
            #expect(answered.read && answered.answered)
            await #expect(throws: StoreError.notFound) { _ = try await store.messages.mark(id: 999, read: true, answered: nil) }

            let unread = try await store.messages.list(ContactMessageFilter(unreadOnly: true), page: .first)
            #expect(unread.items.map(\.id) == [m3.id, m2.id])
            #expect(unread.totalSize == 2)
            let ana = try await store.messages.list(ContactMessageFilter(email: "ana@example.com"), page: .first)
            #expect(ana.items.map(\.id) == [m3.id, m1.id])

            let senders = try await store.messages.senders(page: .first)
            #expect(senders.items.map(\.email) == ["ana@example.com", "luis@example.com"])
            #expect(senders.items.first?.name == "Ana G.")
            #expect(senders.items.first?.messageCount == 2)
            #expect(senders.items.first?.unreadCount == 1)
            #expect(senders.totalSize == 2)
            #expect(try await store.messages.sender(email: "ana@example.com") == senders.items.first)
            #expect(try await store.messages.sender(email: "nobody@example.com") == nil)
            let firstSender = try await store.messages.senders(page: try PageQuery(pageSize: 1, pageToken: ""))
            let secondSender = try await store.messages.senders(page: try PageQuery(pageSize: 1, pageToken: firstSender.nextPageToken))
            #expect(secondSender.items.map(\.email) == ["luis@example.com"])
            #expect(secondSender.nextPageToken.isEmpty)

            let batch1 = try await store.messages.batch(afterID: 0, unreadOnly: false, limit: 2)
            #expect(batch1.map(\.id) == [m1.id, m2.id])
            let batch2 = try await store.messages.batch(afterID: m2.id, unreadOnly: false, limit: 2)
            #expect(batch2.map(\.id) == [m3.id])
            #expect(try await store.messages.batch(afterID: 0, unreadOnly: true, limit: 10).map(\.id) == [m2.id, m3.id])

            try await store.messages.delete(id: m2.id)
            await #expect(throws: StoreError.notFound) { try await store.messages.delete(id: m2.id) }
            #expect(try await store.messages.deleteAll(email: "ana@example.com") == 2)
            #expect(try await store.messages.list(ContactMessageFilter(), page: .first).items.isEmpty)
        }
    }
}

@Suite("Users")
struct UserRepositoryTests {
    @Test("register, duplicate active email, reactivation like the original, update, delete", arguments: TestBackend.allCases)
    func lifecycle(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            guard case .created(let ana) = try await store.users.register(email: "ana@example.com", name: "Ana") else {
                Issue.record("expected a new user")
                return
            }
            await #expect(throws: StoreError.duplicate(field: "email")) {
                _ = try await store.users.register(email: "ana@example.com", name: "Ana")
            }
            let inactive = try await store.users.update(id: ana.id, email: nil, name: nil, active: false)
            #expect(!inactive.active)
            #expect(try await store.users.list(includeInactive: false, page: .first).items.isEmpty)
            #expect(try await store.users.list(includeInactive: false, page: .first).totalSize == 0)
            #expect(try await store.users.list(includeInactive: true, page: .first).items.map(\.id) == [ana.id])
            #expect(try await store.users.list(includeInactive: true, page: .first).totalSize == 1)

            let again = try await store.users.register(email: "ana@example.com", name: "Ana B")
            #expect(again == .reactivated(UserRecord(
                id: ana.id, email: "ana@example.com", name: "Ana B", active: true, registeredAtMilliseconds: ana.registeredAtMilliseconds
            )))

            let luis = try await store.users.register(email: "luis@example.com", name: "Luis").user
            await #expect(throws: StoreError.duplicate(field: "email")) {
                _ = try await store.users.update(id: luis.id, email: "ana@example.com", name: nil, active: nil)
            }
            try await store.users.delete(id: luis.id)
            await #expect(throws: StoreError.notFound) { _ = try await store.users.get(id: luis.id) }
        }
    }
}

@Suite("Audit log")
struct AuditRepositoryTests {
    @Test("append, then filter by actor, action and time range", arguments: TestBackend.allCases)
    func filters(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let base: Int64 = 1_800_000_000_000
            let events = [
                ("root@example.com", "auth.login", base),
                ("root@example.com", "admins.create", base + 1000),
                ("ana@example.com", "auth.login", base + 2000),
                ("anonymous", "messages.send", base + 3000),
            ]
            for (actor, action, time) in events {
                try await store.audit.append(AuditEventRecord(
                    timeMilliseconds: time, actor: actor, actorAdminID: actor == "anonymous" ? nil : 1, action: action,
                    target: "", peerAddress: "127.0.0.1:5000", requestID: "r", outcome: "OK", detail: String(repeating: "d", count: 5000)
                ))
            }
            let all = try await store.audit.list(AuditFilter(), page: .first)
            #expect(all.items.map(\.actor) == ["anonymous", "ana@example.com", "root@example.com", "root@example.com"])
            #expect(all.totalSize == 4)
            #expect(all.items.first?.actorAdminID == nil)
            #expect(all.items.first?.detail.count == 1000)
            #expect(try await store.audit.list(AuditFilter(actor: "root@example.com"), page: .first).totalSize == 2)
            #expect(try await store.audit.list(AuditFilter(action: "auth.login"), page: .first).items.map(\.actor)
                == ["ana@example.com", "root@example.com"])
            let range = try await store.audit.list(AuditFilter(fromMilliseconds: base + 1000, toMilliseconds: base + 3000), page: .first)
            #expect(range.items.map(\.timeMilliseconds) == [base + 2000, base + 1000])
        }
    }

    @Test("migration 2 gives rows written with RPC paths the documented names, anonymous failed logins and contact messages")
    func oldActionNamesAreRewritten() async throws {
        let rows: [(actor: String, adminID: Int64?, action: String, target: String, outcome: String)] = [
            ("root@example.com", nil, "ova.v1.Auth/Login", "", "UNAUTHENTICATED"),
            ("root@example.com", 1, "ova.v1.Auth/Login", "session:1", "OK"),
            ("root@example.com", 1, "ova.v1.Admins/CreateAdmin", "admin:2", "OK"),
            ("writer@example.com", nil, "ova.v1.Messages/SendMessage", "message:1", "OK"),
            ("staff@example.com", 2, "ova.v1.Audit/ListAuditEvents", "", "PERMISSION_DENIED"),
            ("staff@example.com", 2, "ova.v1.Auth/Logout", "session:2", "OK"),
            ("anonymous", nil, "ova.v1.Users/RegisterUser", "user:1", "OK"),
        ]
        try await withMigratedStore(from: 1) { connection in
            for (index, row) in rows.enumerated() {
                try connection.run(
                    """
                    INSERT INTO audit_events (time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail)
                    VALUES (?, ?, ?, ?, ?, '127.0.0.1:5000', 'r', ?, '')
                    """,
                    [.integer(Int64(index)), .text(row.actor), row.adminID.map(SQLValue.integer) ?? .null, .text(row.action), .text(row.target),
                     .text(row.outcome)]
                )
            }
        } _: { store in
            let all = try await store.audit.list(AuditFilter(), page: .first).items.reversed()
            #expect(all.map { "\($0.action) \($0.actor) \($0.target) \($0.outcome)" } == [
                "auth.login anonymous email:root@example.com UNAUTHENTICATED",
                "auth.login root@example.com session:1 OK",
                "admins.create root@example.com admin:2 OK",
                "messages.send anonymous message:1 OK",
                "audit.list staff@example.com  PERMISSION_DENIED",
                "auth.logout staff@example.com session:2 OK",
                "users.register anonymous user:1 OK",
            ])
            #expect(try await store.audit.list(AuditFilter(action: "auth.login"), page: .first).totalSize == 2)
            #expect(try await store.audit.list(AuditFilter(action: "ova.v1.Auth/Login"), page: .first).totalSize == 0)
        }
    }
}

@Suite("Ids are never reused")
struct IdentityTests {
    @Test("deleting the newest row and inserting again gives a new id, in every table", arguments: TestBackend.allCases)
    func newIdAfterDelete(backend: TestBackend) async throws {
        try await withStore(backend) { store in
            let now = StoreClock.nowMilliseconds()
            let root = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h", superadmin: true)
            let ana = try await store.admins.create(name: "Ana", email: "ana@example.com", passwordHash: "h", superadmin: false)
            try await store.admins.delete(id: ana.id)
            let bea = try await store.admins.create(name: "Bea", email: "bea@example.com", passwordHash: "h", superadmin: false)
            #expect(bea.id > ana.id)

            let ended = try await store.sessions.create(
                adminID: root.id, tokenID: "old", ipAddress: "", userAgent: "", startedAtMilliseconds: now - 10, expiresAtMilliseconds: now - 5
            )
            #expect(try await store.sessions.deleteEnded(before: now) == 1)
            let session = try await store.sessions.create(
                adminID: root.id, tokenID: "new", ipAddress: "", userAgent: "", startedAtMilliseconds: now, expiresAtMilliseconds: now + 60_000
            )
            #expect(session.id > ended.id)

            let first = try await store.messages.create(name: "A", email: "a@example.com", subject: "s", message: "m")
            try await store.messages.delete(id: first.id)
            // Contacts have no table of their own: they are the senders of these messages.
            #expect(try await store.messages.create(name: "A", email: "a@example.com", subject: "s", message: "m").id > first.id)

            let user = try await store.users.register(email: "u@example.com", name: "U").user
            try await store.users.delete(id: user.id)
            #expect(try await store.users.register(email: "u@example.com", name: "U").user.id > user.id)

            let event = AuditEventRecord(
                timeMilliseconds: now, actor: "root@example.com", actorAdminID: root.id, action: "admins.create", target: "",
                peerAddress: "", requestID: "", outcome: "OK", detail: ""
            )
            try await store.audit.append(event)
            let appended = try #require(try await store.audit.list(AuditFilter(), page: .first).items.first)
            // The log is append-only; only SQL run by hand can delete from it.
            try await store.database.write { connection throws(StoreError) in
                try connection.run("DELETE FROM audit_events WHERE id = ?", [.integer(appended.id)])
            }
            try await store.audit.append(event)
            #expect(try #require(try await store.audit.list(AuditFilter(), page: .first).items.first).id > appended.id)
        }
    }

    @Test("a database of the previous schema migrates with its rows, ids and foreign keys intact")
    func migrationKeepsRowsIdsAndForeignKeys() async throws {
        try await withMigratedStore(from: 2) { connection in
            for statement in [
                "INSERT INTO administrators VALUES (1, 'Root', 'root@example.com', 'h', 1, 1, 0, 0)",
                "INSERT INTO administrators VALUES (5, 'Ana', 'ana@example.com', 'h', 0, 1, 0, 0)",
                "INSERT INTO admin_sessions VALUES (3, 5, 'jti-3', '', '', 0, 9999999999999, 1, NULL)",
                "INSERT INTO admin_sessions VALUES (4, 1, 'jti-4', '', '', 0, 9999999999999, 1, NULL)",
                "INSERT INTO contact_messages VALUES (2, 'A', 'a@example.com', 's', 'm', 0, 0, 0)",
                "INSERT INTO contact_messages VALUES (7, 'B', 'b@example.com', 's', 'm', 0, 1, 0)",
                "INSERT INTO users VALUES (1, 'u1@example.com', 'U1', 1, 0)",
                "INSERT INTO users VALUES (3, 'u3@example.com', 'U3', 1, 0)",
                // Session 9 was purged, but the log still names it: it must not come back.
                "INSERT INTO audit_events VALUES (1, 0, 'root@example.com', 1, 'auth.revoke_session', 'session:9', '', '', 'OK', '')",
                // A refused call may name an id that never existed: it moves nothing.
                "INSERT INTO audit_events VALUES (2, 0, 'root@example.com', 1, 'users.delete', 'user:9223372036854775807', '', '', 'NOT_FOUND', '')",
                "INSERT INTO audit_events VALUES (3, 0, 'root@example.com', 1, 'messages.delete', 'message:6', '', '', 'OK', '')",
            ] {
                try connection.execute(statement)
            }
        } _: { store in
            let schema = try await store.database.read { connection throws(StoreError) in
                try connection.query("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
                    .map { (type: $0.string(0), name: $0.string(1), sql: $0.string(2)) }
            }
            #expect(schema.filter { $0.type == "table" && $0.name != "schema_migrations" && $0.name != "sqlite_sequence" }
                .map { "\($0.name) \($0.sql.contains("id INTEGER PRIMARY KEY AUTOINCREMENT"))" }
                == ["admin_sessions true", "administrators true", "audit_events true", "contact_messages true", "imported_rows true", "login_throttle true", "users true"])
            #expect(schema.filter { $0.type == "index" }.map(\.name) == [
                "admin_sessions_admin", "audit_events_action", "audit_events_actor", "audit_events_time",
                "contact_messages_email", "contact_messages_sent", "login_throttle_updated",
            ])
            #expect(!schema.contains { $0.name.hasSuffix("_autoincrement") || $0.sql.contains("_autoincrement") })

            // The rows, with their ids.
            #expect(try await store.admins.get(id: 5).email == "ana@example.com")
            #expect(try await store.sessions.get(id: 3).adminID == 5)
            #expect(try await store.sessions.get(id: 4).admin.email == "root@example.com")
            #expect(try await store.messages.get(id: 7).read)
            #expect(try await store.users.get(id: 3).email == "u3@example.com")
            #expect(try await store.audit.list(AuditFilter(), page: .first).items.map(\.id) == [3, 2, 1])

            // Foreign keys: on, consistent, enforced, and still cascading.
            let (enabled, violations) = try await store.database.read { connection throws(StoreError) in
                (try connection.query("PRAGMA foreign_keys").first?.int64(0), try connection.query("PRAGMA foreign_key_check").count)
            }
            #expect(enabled == 1)
            #expect(violations == 0)
            await #expect(throws: StoreError.self) {
                _ = try await store.sessions.create(
                    adminID: 99, tokenID: "orphan", ipAddress: "", userAgent: "", startedAtMilliseconds: 0, expiresAtMilliseconds: 1
                )
            }
            try await store.admins.delete(id: 5)
            await #expect(throws: StoreError.notFound) { _ = try await store.sessions.get(id: 3) }
            #expect(try await store.sessions.get(id: 4).adminID == 1)

            // New ids start above the largest row and above what successful audited calls named.
            #expect(try await store.admins.create(name: "Cy", email: "cy@example.com", passwordHash: "h", superadmin: false).id == 6)
            let session = try await store.sessions.create(
                adminID: 1, tokenID: "jti-new", ipAddress: "", userAgent: "", startedAtMilliseconds: 0, expiresAtMilliseconds: 1
            )
            #expect(session.id == 10)
            #expect(try await store.messages.create(name: "C", email: "c@example.com", subject: "s", message: "m").id == 8)
            #expect(try await store.users.register(email: "u4@example.com", name: "U4").user.id == 4)
            try await store.audit.append(AuditEventRecord(
                timeMilliseconds: 0, actor: "cli", actorAdminID: nil, action: "admins.create", target: "admin:6",
                peerAddress: "local", requestID: "", outcome: "OK", detail: ""
            ))
            #expect(try await store.audit.list(AuditFilter(), page: .first).items.first?.id == 4)
        }
    }

    @Test("a fresh database is at the newest schema with AUTOINCREMENT ids and foreign keys on")
    func freshDatabase() async throws {
        try await withSQLiteStore { store, _ in
            let (tables, foreignKeys) = try await store.database.read { connection throws(StoreError) in
                (
                    try connection.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'").first?.int64(0),
                    try connection.query("PRAGMA foreign_keys").first?.int64(0)
                )
            }
            // The five of version 1, and version 4's imported_rows.
            #expect(tables == 7)
            #expect(foreignKeys == 1)
            let root = try await store.admins.create(name: "Root", email: "root@example.com", passwordHash: "h", superadmin: true)
            #expect(root.id == 1)
        }
    }
}
