import Crypto
import Foundation
import Logging
import OvaAuth
import OvaMariaDBServer
import OvaServices
import Testing

@testable import OvaStore

/// The original's oldest password format, made as its Python code made it:
/// `salt + ":" + sha256((salt + password).encode()).hexdigest()`.
func legacyHash(_ password: String, salt: String = "OVASecureSalt_a1b2c3d4e5f60718") -> String {
    let digest = SHA256.hash(data: Array((salt + password).utf8))
    return salt + ":" + digest.map { String(format: "%02x", $0) }.joined()
}

/// Times of the fixture rows: DATETIME text and the Unix milliseconds it means read as UTC
/// (computed independently, with Python's calendar.timegm).
enum FixtureTime {
    static let adminCreated = ("2023-04-05 06:07:08", Int64(1_680_674_828_000))
    static let adminUpdated = ("2024-01-02 03:04:05", Int64(1_704_164_645_000))
    static let readMessage = ("2024-05-01 10:20:30", Int64(1_714_558_830_000))
    static let unreadMessage = ("2024-05-02 11:00:00", Int64(1_714_647_600_000))
    static let activeSubscriber = ("2023-12-31 23:59:59", Int64(1_704_067_199_000))
    static let inactiveSubscriber = ("2024-02-29 12:00:00", Int64(1_709_208_000_000))
}

/// The fixture's passwords; the hashes are made when the fixture is.
enum FixturePassword {
    static let bcryptAdmin = "Contraseña-Segura-1"
    static let legacyAdmin = "Clave-Antigua-22 ñ"
}

/// An OVA Web database in the shared test mariadbd: the original's DDL, then rows in Spanish
/// with accents, ñ and emoji, a bcrypt and a salt:hexhash administrator, a read and an unread
/// message, an active and an inactive subscriber, and rows OVA refuses.
struct OvaWebFixture {
    let configuration: MariaDBConfiguration

    static let schemaSQL: [String] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ova-web-schema.sql")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let withoutComments = text.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
        return withoutComments.components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .map { $0.hasSuffix(";") ? String($0.dropLast()) : $0 }
            .filter { !$0.isEmpty }
    }()

    /// The hasher the fixture's bcrypt hashes and the test logins use (cost 4: fast).
    static let hasher = PasswordHasher(insecureTestingCost: 4)

    static func make(_ database: MariaDBTestDatabase, rows: Bool = true) async throws -> OvaWebFixture {
        let configuration = MariaDBConfiguration(
            endpoint: .tcp(host: database.server.host, port: database.server.port),
            user: database.server.user, password: database.server.password, database: database.name
        )
        let fixture = OvaWebFixture(configuration: configuration)
        #expect(Self.schemaSQL.count == 4)
        try await fixture.run(Self.schemaSQL.map { ($0, []) })
        if rows {
            try await fixture.run(try Self.rows())
        }
        return fixture
    }

    static func rows() throws -> [(String, [SQLValue])] {
        let bcrypt = try Self.hasher.hash(FixturePassword.bcryptAdmin)
        let admin = "INSERT INTO administradores (id, nombre, email, hashed_password, es_superadmin, activo, fecha_creacion, fecha_actualizacion) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        let contact = "INSERT INTO contactos (id, nombre, email, asunto, mensaje, fecha_envio, leido, respondido) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        let user = "INSERT INTO usuarios (id, email, nombre, activo, fecha_registro) VALUES (?, ?, ?, ?, ?)"
        return [
            (admin, [.integer(1), .text("Ana Muñoz"), .text(" Ana.Munoz@Example.COM "), .text(bcrypt), .integer(1), .integer(1),
                     .text(FixtureTime.adminCreated.0), .text(FixtureTime.adminUpdated.0)]),
            (admin, [.integer(2), .text("José Peña 🚀"), .text("jose@example.com"), .text(legacyHash(FixturePassword.legacyAdmin)), .integer(0), .integer(1),
                     .text(FixtureTime.adminCreated.0), .text(FixtureTime.adminCreated.0)]),
            (admin, [.integer(3), .text("Íñigo Inactivo"), .text("inigo@example.com"), .text(bcrypt), .integer(0), .integer(0),
                     .text(FixtureTime.adminCreated.0), .null]),
            (admin, [.integer(4), .text("Correo Roto"), .text("no-es-un-correo"), .text(bcrypt), .integer(0), .integer(1), .null, .null]),
            (admin, [.integer(5), .text("Sin Hash"), .text("sinhash@example.com"), .text("texto-plano"), .integer(0), .integer(1), .null, .null]),
            ("INSERT INTO sesiones_admin (admin_id, token, fecha_expiracion, ip_address, navegador, activa) VALUES (1, 'eyJ.a.b', '2024-05-01 10:50:30', '10.0.0.1', 'Firefox', 1)", []),
            ("INSERT INTO sesiones_admin (admin_id, token, fecha_expiracion, ip_address, navegador, activa) VALUES (1, 'eyJ.c.d', '2024-05-02 10:50:30', '10.0.0.1', 'Firefox', 0)", []),
            (contact, [.integer(1), .text("María Núñez"), .text("maria@example.com"), .text("Información 😀"),
                       .text("Hola, quisiera saber más sobre OVA y el ñandú 🐦."), .text(FixtureTime.readMessage.0), .integer(1), .integer(1)]),
            (contact, [.integer(2), .text("Pedro Gómez"), .text("Pedro@Example.com"), .text("Consulta"),
                       .text("Un mensaje que nadie leyó todavía."), .text(FixtureTime.unreadMessage.0), .integer(0), .integer(0)]),
            (contact, [.integer(3), .text("X"), .text("x@"), .text("Hola"), .text("Demasiado corto?"), .text(FixtureTime.unreadMessage.0), .integer(0), .integer(0)]),
            (user, [.integer(1), .text("lucia@example.com"), .text("Lucía Ñandú"), .integer(1), .text(FixtureTime.activeSubscriber.0)]),
            (user, [.integer(2), .text("tomas@example.com"), .text("Tomás Ibáñez"), .integer(0), .text(FixtureTime.inactiveSubscriber.0)]),
            (user, [.integer(3), .text("roto@@example.com"), .text("Roto"), .integer(1), .text(FixtureTime.activeSubscriber.0)]),
        ]
    }

    /// Runs statements on a connection of its own, on a thread of its own (the calls block).
    func run(_ statements: [(String, [SQLValue])]) async throws {
        let configuration = self.configuration
        let sendable = statements.map { SendableStatement(sql: $0.0, parameters: $0.1) }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    let connection = try MariaDBConnection(configuration)
                    for statement in sendable {
                        try connection.run(statement.sql, statement.parameters)
                    }
                })
            }
        }
    }
}

private struct SendableStatement: Sendable {
    let sql: String
    let parameters: [SQLValue]
}

/// A fresh SQLite store in a temporary directory, removed afterwards.
func withStore<T>(_ body: (Store) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-import-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try await Store.open(.file(directory.appendingPathComponent("ova.sqlite3").path), logger: Logger(label: "test"))
    do {
        let result = try await body(store)
        await store.database.close()
        return result
    } catch {
        await store.database.close()
        throw error
    }
}

/// One import as the command runs it.
func runImport(_ fixture: OvaWebFixture, into store: Store, dryRun: Bool = false) async throws -> OvaWebImport.Report {
    let snapshot = try await OvaWebSource.read(fixture.configuration)
    return try await OvaWebImport.run(
        snapshot, into: store, dryRun: dryRun, source: fixture.configuration.description,
        audit: CommandLineAudit(repository: store.audit, logger: Logger(label: "test"))
    )
}

/// The first page of any list, large enough for every fixture row.
var firstPage: PageQuery {
    get throws { try PageQuery(pageSize: 100, pageToken: "") }
}

@Suite("Import from OVA Web", .timeLimit(.minutes(3)))
struct OvaWebImportTests {
    @Test("every mapped field arrives: names, normalized emails, flags, UTC times, hashes as they were")
    func importsEveryField() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await withStore { store in
                let report = try await runImport(fixture, into: store)
                #expect(report.counts.administrators.new == 3)
                #expect(report.counts.messages.new == 2)
                #expect(report.counts.subscribers.new == 2)
                #expect(report.sessionCount == 2)
                #expect(report.skipped.map { "\($0.table) \($0.id)" } == ["administradores 4", "administradores 5", "contactos 3", "usuarios 3"])
                #expect(report.summaryLines.first == "administradores: 3 new, 0 already imported, 2 skipped")
                // Reasons name the column and the rule, never the value.
                let reasons = report.skipped.map(\.description).joined(separator: "\n")
                #expect(reasons.contains("administradores id 4: email must be a valid email address"))
                #expect(reasons.contains("administradores id 5: hashed_password is not a password hash OVA can verify"))
                #expect(reasons.contains("contactos id 3: nombre must be at least 2 characters"))
                for value in ["no-es-un-correo", "texto-plano", "x@", "roto@@example.com", "Roto"] {
                    #expect(!reasons.contains(value))
                }

                let admins = try await store.admins.list(page: firstPage).items.sorted { $0.email < $1.email }
                #expect(admins.map(\.email) == ["ana.munoz@example.com", "inigo@example.com", "jose@example.com"])
                let ana = try #require(try await store.admins.credentials(email: "ana.munoz@example.com"))
                #expect(ana.admin.name == "Ana Muñoz")
                #expect(ana.admin.superadmin && ana.admin.active)
                #expect(ana.admin.createdAtMilliseconds == FixtureTime.adminCreated.1)
                #expect(ana.admin.updatedAtMilliseconds == FixtureTime.adminUpdated.1)
                #expect(ana.passwordHash.hasPrefix("$2b$04$"))
                let jose = try #require(try await store.admins.credentials(email: "jose@example.com"))
                #expect(jose.admin.name == "José Peña 🚀")
                #expect(!jose.admin.superadmin && jose.admin.active)
                #expect(jose.passwordHash == legacyHash(FixturePassword.legacyAdmin))
                let inigo = try #require(try await store.admins.credentials(email: "inigo@example.com"))
                #expect(!inigo.admin.active)
                // A NULL fecha_actualizacion is the creation time.
                #expect(inigo.admin.updatedAtMilliseconds == FixtureTime.adminCreated.1)

                let messages = try await store.messages.list(ContactMessageFilter(), page: firstPage).items.sorted { $0.sentAtMilliseconds < $1.sentAtMilliseconds }
                #expect(messages.count == 2)
                #expect(messages[0].name == "María Núñez")
                #expect(messages[0].email == "maria@example.com")
                #expect(messages[0].subject == "Información 😀")
                #expect(messages[0].message == "Hola, quisiera saber más sobre OVA y el ñandú 🐦.")
                #expect(messages[0].sentAtMilliseconds == FixtureTime.readMessage.1)
                #expect(messages[0].read && messages[0].answered)
                #expect(messages[1].email == "pedro@example.com")
                #expect(messages[1].sentAtMilliseconds == FixtureTime.unreadMessage.1)
                #expect(!messages[1].read && !messages[1].answered)
                #expect(try await store.messages.list(ContactMessageFilter(unreadOnly: true), page: firstPage).items.map(\.email) == ["pedro@example.com"])

                let users = try await store.users.list(includeInactive: true, page: firstPage).items.sorted { $0.email < $1.email }
                #expect(users.map(\.email) == ["lucia@example.com", "tomas@example.com"])
                #expect(users[0].name == "Lucía Ñandú" && users[0].active && users[0].registeredAtMilliseconds == FixtureTime.activeSubscriber.1)
                #expect(users[1].name == "Tomás Ibáñez" && !users[1].active && users[1].registeredAtMilliseconds == FixtureTime.inactiveSubscriber.1)

                let audit = try await store.audit.list(AuditFilter(action: "import.ova_web"), page: firstPage).items
                #expect(audit.count == 1)
                #expect(audit.first?.actor == "cli")
                #expect(audit.first?.outcome == "OK")
                #expect(audit.first?.target == "ova_web:\(fixture.configuration)")
                #expect(audit.first?.detail.contains("administradores: 3 new, 0 already imported, 2 skipped; contactos: 2 new") == true)
                #expect(audit.first?.detail.contains(database.server.password) == false)
            }
        }
    }

    @Test("a second run imports nothing and says so, even after an imported row was deleted")
    func secondRunImportsNothing() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await withStore { store in
                _ = try await runImport(fixture, into: store)
                let deleted = try #require(try await store.messages.list(ContactMessageFilter(), page: firstPage).items.first)
                try await store.messages.delete(id: deleted.id)

                let again = try await runImport(fixture, into: store)
                #expect(again.newRows == 0)
                #expect(again.counts.administrators.new == 0 && again.counts.administrators.alreadyImported == 3)
                #expect(again.counts.messages.new == 0 && again.counts.messages.alreadyImported == 2)
                #expect(again.counts.subscribers.new == 0 && again.counts.subscribers.alreadyImported == 2)
                #expect(again.summaryLines.contains("contactos: 0 new, 2 already imported, 1 skipped"))
                #expect(try await store.admins.count() == 3)
                #expect(try await store.messages.list(ContactMessageFilter(), page: firstPage).totalSize == 1)
                // One audit record per run.
                #expect(try await store.audit.list(AuditFilter(action: "import.ova_web"), page: firstPage).items.count == 2)

                // A row new in the source since the first run is imported by the next.
                try await fixture.run([(
                    "INSERT INTO contactos (nombre, email, asunto, mensaje) VALUES ('Nueva Persona', 'nueva@example.com', 'Otra consulta', 'Llegó después de la primera importación.')", []
                )])
                let third = try await runImport(fixture, into: store)
                #expect(third.counts.messages.new == 1 && third.counts.messages.alreadyImported == 2)
            }
        }
    }

    @Test("a dry run prints the counts of a real run and writes nothing, not even an audit record")
    func dryRunWritesNothing() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await withStore { store in
                let dry = try await runImport(fixture, into: store, dryRun: true)
                #expect(dry.dryRun)
                #expect(dry.newRows == 7)
                #expect(try await store.admins.count() == 0)
                #expect(try await store.messages.list(ContactMessageFilter(), page: firstPage).totalSize == 0)
                #expect(try await store.users.list(includeInactive: true, page: firstPage).totalSize == 0)
                #expect(try await store.audit.list(AuditFilter(), page: firstPage).totalSize == 0)
                let imported = try await store.database.read { connection throws(StoreError) in
                    try connection.query("SELECT COUNT(*) FROM imported_rows").first?.int64(0) ?? -1
                }
                #expect(imported == 0)

                let real = try await runImport(fixture, into: store)
                #expect(real.counts == dry.counts)
                #expect(real.skipped == dry.skipped)
            }
        }
    }

    @Test("old passwords log in through the real authenticator; salt:hexhash is rehashed to bcrypt")
    func oldPasswordsLogIn() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await withStore { store in
                _ = try await runImport(fixture, into: store)
                let authenticator = AdminAuthenticator(
                    store: store, secret: Array(repeating: 7, count: 32), tokenLifetimeSeconds: 600,
                    hasher: OvaWebFixture.hasher, logger: Logger(label: "test")
                )
                let peer = "127.0.0.1:40000"
                let ana = try await authenticator.login(email: "ana.munoz@example.com", password: FixturePassword.bcryptAdmin, peerAddress: peer, userAgent: "test")
                #expect(try await authenticator.authenticate(token: ana.token).admin.email == "ana.munoz@example.com")

                await #expect(throws: (any Error).self) {
                    _ = try await authenticator.login(email: "jose@example.com", password: "Clave-Antigua-22", peerAddress: peer, userAgent: "test")
                }
                #expect(try await store.admins.credentials(email: "jose@example.com")?.passwordHash == legacyHash(FixturePassword.legacyAdmin))

                let jose = try await authenticator.login(email: "jose@example.com", password: FixturePassword.legacyAdmin, peerAddress: peer, userAgent: "test")
                #expect(jose.session.adminID > 0)
                let rehashed = try #require(try await store.admins.credentials(email: "jose@example.com")?.passwordHash)
                #expect(rehashed.hasPrefix("$2b$04$"))
                #expect(OvaWebFixture.hasher.verify(FixturePassword.legacyAdmin, against: rehashed))
                // And the new hash logs in as well.
                _ = try await authenticator.login(email: "jose@example.com", password: FixturePassword.legacyAdmin, peerAddress: peer, userAgent: "test")

                // An account inactive in OVA Web stays locked out.
                await #expect(throws: (any Error).self) {
                    _ = try await authenticator.login(email: "inigo@example.com", password: FixturePassword.bcryptAdmin, peerAddress: peer, userAgent: "test")
                }
            }
        }
    }

    @Test("an email OVA already has is matched and left as it is, and not imported twice")
    func existingEmailIsMatched() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await withStore { store in
                let existing = try await store.admins.create(name: "José en OVA", email: "jose@example.com", passwordHash: "$2b$04$existing", superadmin: true)
                _ = try await store.users.register(email: "lucia@example.com", name: "Lucía en OVA")
                let report = try await runImport(fixture, into: store)
                #expect(report.counts.administrators.new == 2)
                #expect(report.counts.administrators.matchedByEmail == [2])
                #expect(report.counts.subscribers.matchedByEmail == [1])
                #expect(report.summaryLines.first == "administradores: 2 new, 0 already imported, 1 matched by email, 2 skipped")
                #expect(report.matchLines.first?.hasPrefix("administradores id 2: OVA already has an administrator") == true)
                let jose = try #require(try await store.admins.credentials(email: "jose@example.com"))
                #expect(jose.admin.id == existing.id && jose.admin.name == "José en OVA" && jose.passwordHash == "$2b$04$existing")

                let again = try await runImport(fixture, into: store)
                #expect(again.counts.administrators.alreadyImported == 3 && again.counts.administrators.matchedByEmail.isEmpty)
                #expect(again.counts.subscribers.alreadyImported == 2)
            }
        }
    }

    @Test("the original's variants: contactos.nombre_completo, usuarios without fecha_registro, no usuarios table")
    func toleratesTheOriginalsVariants() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database)
            try await fixture.run([
                ("ALTER TABLE contactos CHANGE nombre nombre_completo VARCHAR(100) NOT NULL", []),
                ("ALTER TABLE usuarios DROP COLUMN fecha_registro", []),
            ])
            try await withStore { store in
                let before = StoreClock.nowMilliseconds()
                let report = try await runImport(fixture, into: store)
                #expect(report.counts.messages.new == 2)
                let names = try await store.messages.list(ContactMessageFilter(), page: firstPage).items.map(\.name)
                #expect(Set(names) == ["María Núñez", "Pedro Gómez"])
                let users = try await store.users.list(includeInactive: true, page: firstPage).items
                #expect(users.count == 2)
                // No registration time in the source: the time of the import.
                #expect(users.allSatisfy { $0.registeredAtMilliseconds >= before })
            }
            try await fixture.run([("DROP TABLE usuarios", []), ("DROP TABLE sesiones_admin", [])])
            let snapshot = try await OvaWebSource.read(fixture.configuration)
            #expect(snapshot.absentTables == ["usuarios", "sesiones_admin"])
            #expect(snapshot.sessionCount == nil)
            #expect(snapshot.administrators.count == 5)
        }
    }

    @Test("a database without OVA Web's tables, a wrong password and an unknown database are named")
    func sourceFailuresAreNamed() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database, rows: false)
            try await fixture.run([("DROP TABLE contactos", [])])
            let missingTable = await #expect(throws: OvaWebSourceError.self) {
                _ = try await OvaWebSource.read(fixture.configuration)
            }
            guard case .missingTable("contactos") = missingTable else {
                Issue.record("not a missing table: \(String(describing: missingTable))")
                return
            }
            #expect("\(missingTable.map { "\($0)" } ?? "")".contains("no table `contactos`"))

            var wrongPassword = fixture.configuration
            wrongPassword.password = "not-the-password"
            let denied = await #expect(throws: OvaWebSourceError.self) {
                _ = try await OvaWebSource.read(wrongPassword)
            }
            guard case .connection(let cause) = denied else {
                Issue.record("not a connection error: \(String(describing: denied))")
                return
            }
            #expect(cause.code == 1045)
            #expect(!"\(cause)".contains("not-the-password"))

            var unknownDatabase = fixture.configuration
            unknownDatabase.database = "ovatest_missing"
            let unknown = await #expect(throws: OvaWebSourceError.self) {
                _ = try await OvaWebSource.read(unknownDatabase)
            }
            guard case .connection(let unknownCause) = unknown else {
                Issue.record("not a connection error: \(String(describing: unknown))")
                return
            }
            // The test account may see only its own databases: 1044 (access denied to it), or
            // 1049 where it may see every name.
            #expect([1044, 1049].contains(unknownCause.code))
        }
    }

    @Test("a missing required column is named with its table")
    func missingColumnIsNamed() async throws {
        try await withMariaDB { database in
            let fixture = try await OvaWebFixture.make(database, rows: false)
            try await fixture.run([("ALTER TABLE administradores DROP COLUMN hashed_password", [])])
            let error = await #expect(throws: OvaWebSourceError.self) {
                _ = try await OvaWebSource.read(fixture.configuration)
            }
            guard case .missingColumn(table: "administradores", column: "hashed_password") = error else {
                Issue.record("not the missing column: \(String(describing: error))")
                return
            }
        }
    }
}

@Suite("OVA Web DATETIME")
struct NaiveDateTimeTests {
    @Test("DATETIME text is read as UTC, with or without a fraction; zero dates and junk are nil")
    func parsesDateTimes() {
        #expect(NaiveDateTime.utcMilliseconds("1970-01-01 00:00:00") == 0)
        #expect(NaiveDateTime.utcMilliseconds(FixtureTime.adminCreated.0) == FixtureTime.adminCreated.1)
        #expect(NaiveDateTime.utcMilliseconds(FixtureTime.inactiveSubscriber.0) == FixtureTime.inactiveSubscriber.1)
        #expect(NaiveDateTime.utcMilliseconds("2024-05-01 10:20:30.5") == FixtureTime.readMessage.1 + 500)
        #expect(NaiveDateTime.utcMilliseconds("2024-05-01 10:20:30.123456") == FixtureTime.readMessage.1 + 123)
        #expect(NaiveDateTime.utcMilliseconds("1969-12-31 23:59:59") == -1000)
        for junk in ["0000-00-00 00:00:00", "", "2024-05-01", "2024-13-01 00:00:00", "2024-05-01 24:00:00", "2024-05-01 10:20:30.", "hoy"] {
            #expect(NaiveDateTime.utcMilliseconds(junk) == nil, "\(junk)")
        }
    }
}
