#if canImport(Glibc)
import Glibc
#endif

/// The versioned schema, one list for every backend. Migrations run in order at startup, each
/// in its own transaction, and are recorded in `schema_migrations`; a database newer than this
/// binary is refused. Each migration carries its SQL per ``SQLDialect``; a dialect that needs no
/// change for a version says why instead of leaving the list empty.
///
/// Portability rules (the repositories' queries are the same on every backend): ids are 64-bit
/// integers, booleans are 0/1 integers, times are Unix milliseconds in BIGINT columns, no column
/// is named after a reserved word of either dialect (`read` → `is_read`), and queries use only
/// `?` placeholders, LIMIT, and no RETURNING or UPSERT (but `SQLDialect.insertKeepingExisting`). Only the DDL here differs per dialect
/// (`INTEGER PRIMARY KEY AUTOINCREMENT` is MariaDB's `BIGINT AUTO_INCREMENT PRIMARY KEY`: both
/// never hand out an id again, even the largest one after it was deleted, so an id in the audit
/// log names one row forever).
///
/// MariaDB tables: InnoDB, utf8mb4 with a byte-wise collation (``SQLDialect/tableOptions``);
/// indexed text is VARCHAR (InnoDB cannot index TEXT without a prefix length), booleans are
/// TINYINT(1), foreign keys are table constraints (a column's inline REFERENCES is ignored by
/// MySQL and before MariaDB 10.5), and UNIQUE keys are named after their column, which is the
/// field a duplicate-key error reports.
public enum Migrations {
    /// How many migrations this build knows.
    public static var count: Int { all.count }

    /// What one migration does in one dialect.
    enum Steps: Sendable {
        case statements([String])
        /// Nothing to do in this dialect; `because` says why (kept so a missing translation
        /// cannot pass for a deliberate no-op).
        case noChange(because: String)

        var statements: [String] {
            switch self {
            case .statements(let statements): return statements
            case .noChange: return []
            }
        }
    }

    struct Migration: Sendable {
        let version: Int64
        let name: String
        let sqlite: Steps
        let mariadb: Steps
        /// The SQLite steps drop and recreate tables that others reference. Foreign keys are
        /// then switched off around the migration's transaction (a DROP of a parent table would
        /// otherwise cascade its deletes into the children) and checked before it commits.
        var rebuildsSQLiteTables = false

        func steps(for dialect: SQLDialect) -> Steps {
            switch dialect {
            case .sqlite: return self.sqlite
            case .mariadb: return self.mariadb
            }
        }
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "accounts, sessions, messages, users, audit", sqlite: .statements([
            """
            CREATE TABLE administrators (
                id INTEGER PRIMARY KEY,
                name VARCHAR(100) NOT NULL,
                email VARCHAR(254) NOT NULL UNIQUE,
                password_hash VARCHAR(255) NOT NULL,
                superadmin INTEGER NOT NULL DEFAULT 0,
                active INTEGER NOT NULL DEFAULT 1,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE admin_sessions (
                id INTEGER PRIMARY KEY,
                admin_id BIGINT NOT NULL REFERENCES administrators(id) ON DELETE CASCADE,
                token_id VARCHAR(64) NOT NULL UNIQUE,
                ip_address VARCHAR(64) NOT NULL,
                user_agent VARCHAR(255) NOT NULL,
                started_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                ended_at_ms BIGINT
            )
            """,
            "CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id, active)",
            """
            CREATE TABLE contact_messages (
                id INTEGER PRIMARY KEY,
                name VARCHAR(200) NOT NULL,
                email VARCHAR(254) NOT NULL,
                subject VARCHAR(200) NOT NULL,
                message TEXT NOT NULL,
                sent_at_ms BIGINT NOT NULL,
                is_read INTEGER NOT NULL DEFAULT 0,
                is_answered INTEGER NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX contact_messages_email ON contact_messages (email)",
            "CREATE INDEX contact_messages_sent ON contact_messages (sent_at_ms)",
            """
            CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                email VARCHAR(254) NOT NULL UNIQUE,
                name VARCHAR(200) NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                registered_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE audit_events (
                id INTEGER PRIMARY KEY,
                time_ms BIGINT NOT NULL,
                actor VARCHAR(254) NOT NULL,
                actor_admin_id BIGINT,
                action VARCHAR(128) NOT NULL,
                target VARCHAR(255) NOT NULL,
                peer_address VARCHAR(64) NOT NULL,
                request_id VARCHAR(64) NOT NULL,
                outcome VARCHAR(32) NOT NULL,
                detail VARCHAR(1000) NOT NULL
            )
            """,
            "CREATE INDEX audit_events_time ON audit_events (time_ms)",
            "CREATE INDEX audit_events_actor ON audit_events (actor, id)",
            "CREATE INDEX audit_events_action ON audit_events (action, id)",
        ]), mariadb: .statements([
            """
            CREATE TABLE administrators (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(100) NOT NULL,
                email VARCHAR(254) NOT NULL,
                password_hash VARCHAR(255) NOT NULL,
                superadmin TINYINT(1) NOT NULL DEFAULT 0,
                active TINYINT(1) NOT NULL DEFAULT 1,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                UNIQUE KEY email (email)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
            """
            CREATE TABLE admin_sessions (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                admin_id BIGINT NOT NULL,
                token_id VARCHAR(64) NOT NULL,
                ip_address VARCHAR(64) NOT NULL,
                user_agent VARCHAR(255) NOT NULL,
                started_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL,
                active TINYINT(1) NOT NULL DEFAULT 1,
                ended_at_ms BIGINT NULL,
                UNIQUE KEY token_id (token_id),
                KEY admin_sessions_admin (admin_id, active),
                CONSTRAINT admin_sessions_admin_id FOREIGN KEY (admin_id) REFERENCES administrators (id) ON DELETE CASCADE
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
            // `message` is MEDIUMTEXT: 5,000 characters of 4-byte text (or longer grapheme
            // clusters) can exceed TEXT's 65,535 bytes, which SQLite's TEXT never limits.
            """
            CREATE TABLE contact_messages (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(200) NOT NULL,
                email VARCHAR(254) NOT NULL,
                subject VARCHAR(200) NOT NULL,
                message MEDIUMTEXT NOT NULL,
                sent_at_ms BIGINT NOT NULL,
                is_read TINYINT(1) NOT NULL DEFAULT 0,
                is_answered TINYINT(1) NOT NULL DEFAULT 0,
                KEY contact_messages_email (email),
                KEY contact_messages_sent (sent_at_ms)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
            """
            CREATE TABLE users (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                email VARCHAR(254) NOT NULL,
                name VARCHAR(200) NOT NULL,
                active TINYINT(1) NOT NULL DEFAULT 1,
                registered_at_ms BIGINT NOT NULL,
                UNIQUE KEY email (email)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
            """
            CREATE TABLE audit_events (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                time_ms BIGINT NOT NULL,
                actor VARCHAR(254) NOT NULL,
                actor_admin_id BIGINT NULL,
                action VARCHAR(128) NOT NULL,
                target VARCHAR(255) NOT NULL,
                peer_address VARCHAR(64) NOT NULL,
                request_id VARCHAR(64) NOT NULL,
                outcome VARCHAR(32) NOT NULL,
                detail VARCHAR(1000) NOT NULL,
                KEY audit_events_time (time_ms),
                KEY audit_events_actor (actor, id),
                KEY audit_events_action (action, id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
        ])),
        // The audit log named actions by RPC path (`ova.v1.Auth/Login`) while audit.proto
        // promised `auth.login`; old rows get the new names so one filter finds old and new.
        // The names are spelled out rather than taken from OvaServices' `AuditAction`: a
        // migration must keep doing what it did when the vocabulary moves on. Contact messages
        // were recorded with the sender's (unverified) email as actor and failed logins with the
        // email tried; both are anonymous now, the email tried moving to the target.
        Migration(version: 2, name: "audit actions named service.verb", sqlite: .statements([
            Self.auditActionRenames,
            Self.anonymousSenders,
            """
            UPDATE audit_events SET target = 'email:' || actor, actor = 'anonymous'
            WHERE action = 'auth.login' AND outcome <> 'OK' AND actor_admin_id IS NULL AND actor <> 'anonymous'
            """,
        ]), mariadb: .statements([
            Self.auditActionRenames,
            Self.anonymousSenders,
            // `||` is OR in MariaDB's default mode, so CONCAT; LEFT because strict mode refuses
            // a value longer than the column where SQLite would store it. MariaDB assigns left
            // to right with the new values, so `target` is set before `actor` changes.
            """
            UPDATE audit_events SET target = LEFT(CONCAT('email:', actor), 255), actor = 'anonymous'
            WHERE action = 'auth.login' AND outcome <> 'OK' AND actor_admin_id IS NULL AND actor <> 'anonymous'
            """,
        ])),
        // SQLite reused the largest deleted id (`INTEGER PRIMARY KEY` without AUTOINCREMENT), so
        // `session:4` in the audit log could name two sessions. Each table is rebuilt with
        // AUTOINCREMENT (SQLite cannot ALTER that): new table, copy with the ids, drop, rename,
        // indexes again. Each table's sequence then starts above its largest id and above any
        // id a successful audited call names as its target: the largest ever seen that left a
        // trace. (Only successful ones: a refused call may name an id that never existed, and
        // one near Int64.max would exhaust the sequence.)
        Migration(version: 3, name: "ids are never reused (AUTOINCREMENT)", sqlite: .statements([
            """
            CREATE TABLE administrators_autoincrement (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name VARCHAR(100) NOT NULL,
                email VARCHAR(254) NOT NULL UNIQUE,
                password_hash VARCHAR(255) NOT NULL,
                superadmin INTEGER NOT NULL DEFAULT 0,
                active INTEGER NOT NULL DEFAULT 1,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL
            )
            """,
            "INSERT INTO administrators_autoincrement (id, name, email, password_hash, superadmin, active, created_at_ms, updated_at_ms) SELECT id, name, email, password_hash, superadmin, active, created_at_ms, updated_at_ms FROM administrators",
            "DROP TABLE administrators",
            "ALTER TABLE administrators_autoincrement RENAME TO administrators",
            """
            CREATE TABLE admin_sessions_autoincrement (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                admin_id BIGINT NOT NULL REFERENCES administrators(id) ON DELETE CASCADE,
                token_id VARCHAR(64) NOT NULL UNIQUE,
                ip_address VARCHAR(64) NOT NULL,
                user_agent VARCHAR(255) NOT NULL,
                started_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                ended_at_ms BIGINT
            )
            """,
            "INSERT INTO admin_sessions_autoincrement (id, admin_id, token_id, ip_address, user_agent, started_at_ms, expires_at_ms, active, ended_at_ms) SELECT id, admin_id, token_id, ip_address, user_agent, started_at_ms, expires_at_ms, active, ended_at_ms FROM admin_sessions",
            "DROP TABLE admin_sessions",
            "ALTER TABLE admin_sessions_autoincrement RENAME TO admin_sessions",
            "CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id, active)",
            """
            CREATE TABLE contact_messages_autoincrement (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name VARCHAR(200) NOT NULL,
                email VARCHAR(254) NOT NULL,
                subject VARCHAR(200) NOT NULL,
                message TEXT NOT NULL,
                sent_at_ms BIGINT NOT NULL,
                is_read INTEGER NOT NULL DEFAULT 0,
                is_answered INTEGER NOT NULL DEFAULT 0
            )
            """,
            "INSERT INTO contact_messages_autoincrement (id, name, email, subject, message, sent_at_ms, is_read, is_answered) SELECT id, name, email, subject, message, sent_at_ms, is_read, is_answered FROM contact_messages",
            "DROP TABLE contact_messages",
            "ALTER TABLE contact_messages_autoincrement RENAME TO contact_messages",
            "CREATE INDEX contact_messages_email ON contact_messages (email)",
            "CREATE INDEX contact_messages_sent ON contact_messages (sent_at_ms)",
            """
            CREATE TABLE users_autoincrement (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email VARCHAR(254) NOT NULL UNIQUE,
                name VARCHAR(200) NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                registered_at_ms BIGINT NOT NULL
            )
            """,
            "INSERT INTO users_autoincrement (id, email, name, active, registered_at_ms) SELECT id, email, name, active, registered_at_ms FROM users",
            "DROP TABLE users",
            "ALTER TABLE users_autoincrement RENAME TO users",
            """
            CREATE TABLE audit_events_autoincrement (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time_ms BIGINT NOT NULL,
                actor VARCHAR(254) NOT NULL,
                actor_admin_id BIGINT,
                action VARCHAR(128) NOT NULL,
                target VARCHAR(255) NOT NULL,
                peer_address VARCHAR(64) NOT NULL,
                request_id VARCHAR(64) NOT NULL,
                outcome VARCHAR(32) NOT NULL,
                detail VARCHAR(1000) NOT NULL
            )
            """,
            "INSERT INTO audit_events_autoincrement (id, time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail) SELECT id, time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail FROM audit_events",
            "DROP TABLE audit_events",
            "ALTER TABLE audit_events_autoincrement RENAME TO audit_events",
            "CREATE INDEX audit_events_time ON audit_events (time_ms)",
            "CREATE INDEX audit_events_actor ON audit_events (actor, id)",
            "CREATE INDEX audit_events_action ON audit_events (action, id)",
            // The copies left each sequence at its table's largest id; replace them with the
            // larger of that and the audit log's.
            "DELETE FROM sqlite_sequence",
            """
            INSERT INTO sqlite_sequence (name, seq) SELECT 'administrators', MAX(
                COALESCE((SELECT MAX(id) FROM administrators), 0),
                COALESCE((SELECT MAX(CAST(SUBSTR(target, 7) AS INTEGER)) FROM audit_events WHERE target LIKE 'admin:%' AND outcome = 'OK'), 0)
            )
            """,
            """
            INSERT INTO sqlite_sequence (name, seq) SELECT 'admin_sessions', MAX(
                COALESCE((SELECT MAX(id) FROM admin_sessions), 0),
                COALESCE((SELECT MAX(CAST(SUBSTR(target, 9) AS INTEGER)) FROM audit_events WHERE target LIKE 'session:%' AND outcome = 'OK'), 0)
            )
            """,
            """
            INSERT INTO sqlite_sequence (name, seq) SELECT 'contact_messages', MAX(
                COALESCE((SELECT MAX(id) FROM contact_messages), 0),
                COALESCE((SELECT MAX(CAST(SUBSTR(target, 9) AS INTEGER)) FROM audit_events WHERE target LIKE 'message:%' AND outcome = 'OK'), 0)
            )
            """,
            """
            INSERT INTO sqlite_sequence (name, seq) SELECT 'users', MAX(
                COALESCE((SELECT MAX(id) FROM users), 0),
                COALESCE((SELECT MAX(CAST(SUBSTR(target, 6) AS INTEGER)) FROM audit_events WHERE target LIKE 'user:%' AND outcome = 'OK'), 0)
            )
            """,
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_events', COALESCE((SELECT MAX(id) FROM audit_events), 0)",
        ]), mariadb: .noChange(because: """
            AUTO_INCREMENT never hands out an id again, even after the row with the largest was \
            deleted (InnoDB keeps the counter across restarts since MariaDB 10.2.4), and version 1 \
            already creates every table with it
            """), rebuildsSQLiteTables: true),
        // `ova-server import ova-web` records each source row it has handled (imported, or
        // matched to an existing account by email), so a second run imports nothing again,
        // also after an imported message was deleted or an account's email changed in OVA.
        Migration(version: 4, name: "rows imported from OVA Web", sqlite: .statements([
            """
            CREATE TABLE imported_rows (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                source_table VARCHAR(64) NOT NULL,
                source_id BIGINT NOT NULL,
                target_id BIGINT NOT NULL,
                imported_at_ms BIGINT NOT NULL,
                UNIQUE (source_table, source_id)
            )
            """,
        ]), mariadb: .statements([
            """
            CREATE TABLE imported_rows (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                source_table VARCHAR(64) NOT NULL,
                source_id BIGINT NOT NULL,
                target_id BIGINT NOT NULL,
                imported_at_ms BIGINT NOT NULL,
                UNIQUE KEY source_row (source_table, source_id)
            )\(SQLDialect.mariadb.tableOptions)
            """,
        ])),
        // Failed logins per throttle key ("account:<email>", "peer:<address>"), in the database
        // so that every ova-server sharing it counts the same failures: one row per key,
        // updated under its row lock (never a gap lock on an absent key).
        Migration(version: 5, name: "login throttle shared by every instance", sqlite: .statements([
            """
            CREATE TABLE login_throttle (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                throttle_key VARCHAR(320) NOT NULL UNIQUE,
                failures_ms VARCHAR(1000) NOT NULL,
                locked_until_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX login_throttle_updated ON login_throttle (updated_at_ms)",
        ]), mariadb: .statements([
            """
            CREATE TABLE login_throttle (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                throttle_key VARCHAR(320) NOT NULL,
                failures_ms VARCHAR(1000) NOT NULL,
                locked_until_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                UNIQUE KEY throttle_key (throttle_key),
                KEY login_throttle_updated (updated_at_ms)
            )\(SQLDialect.mariadb.tableOptions)
            """,
        ])),
    ]

    /// Version 2's statements that both dialects run as they are.
    private static let auditActionRenames = """
        UPDATE audit_events SET action = CASE action
                WHEN 'ova.v1.Auth/Login' THEN 'auth.login'
                WHEN 'ova.v1.Auth/Logout' THEN 'auth.logout'
                WHEN 'ova.v1.Auth/Refresh' THEN 'auth.refresh'
                WHEN 'ova.v1.Auth/RevokeSession' THEN 'auth.revoke_session'
                WHEN 'ova.v1.Auth/RevokeAllSessions' THEN 'auth.revoke_all_sessions'
                WHEN 'ova.v1.Auth/ChangePassword' THEN 'auth.change_password'
                WHEN 'ova.v1.Auth/ListSessions' THEN 'auth.list_sessions'
                WHEN 'ova.v1.Admins/CreateAdmin' THEN 'admins.create'
                WHEN 'ova.v1.Admins/UpdateAdmin' THEN 'admins.update'
                WHEN 'ova.v1.Admins/SetAdminActive' THEN 'admins.set_active'
                WHEN 'ova.v1.Admins/DeleteAdmin' THEN 'admins.delete'
                WHEN 'ova.v1.Admins/GetAdmin' THEN 'admins.get'
                WHEN 'ova.v1.Admins/ListAdmins' THEN 'admins.list'
                WHEN 'ova.v1.Users/RegisterUser' THEN 'users.register'
                WHEN 'ova.v1.Users/UpdateUser' THEN 'users.update'
                WHEN 'ova.v1.Users/DeactivateUser' THEN 'users.deactivate'
                WHEN 'ova.v1.Users/DeleteUser' THEN 'users.delete'
                WHEN 'ova.v1.Messages/SendMessage' THEN 'messages.send'
                WHEN 'ova.v1.Messages/MarkMessage' THEN 'messages.mark'
                WHEN 'ova.v1.Messages/DeleteMessage' THEN 'messages.delete'
                WHEN 'ova.v1.Messages/ExportMessages' THEN 'messages.export'
                WHEN 'ova.v1.Contacts/DeleteContact' THEN 'contacts.delete'
                WHEN 'ova.v1.Audit/ListAuditEvents' THEN 'audit.list'
                ELSE action
            END
        WHERE action LIKE 'ova.v1.%'
        """

    private static let anonymousSenders = """
        UPDATE audit_events SET actor = 'anonymous'
        WHERE action = 'messages.send' AND actor_admin_id IS NULL
        """

    /// Applies every migration newer than the database's version (up to `last`, which tests use
    /// to build a database of an older schema); returns those applied.
    static func apply(to connection: any SQLConnection, through last: Int64? = nil) throws(StoreError) -> [Migration] {
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name VARCHAR(200) NOT NULL,
                applied_at_ms BIGINT NOT NULL
            )\(connection.dialect.tableOptions)
            """)
        let current = try connection.query("SELECT MAX(version) FROM schema_migrations").first?.optionalInt64(0) ?? 0
        let newest = self.all.last?.version ?? 0
        guard current <= newest else {
            let elsewhere = connection.dialect == .mariadb ? "DB_NAME" : "OVA_DATA_DIR"
            throw .unavailable(
                "the database schema is version \(current) but this server knows only up to \(newest): "
                    + "it was written by a newer OVA; upgrade ova-server or point \(elsewhere) elsewhere"
            )
        }
        var applied: [Migration] = []
        for migration in self.all where migration.version > current && migration.version <= (last ?? newest) {
            if migration.rebuildsSQLiteTables, connection.dialect == .sqlite {
                try self.withoutSQLiteForeignKeys(connection) { () throws(StoreError) in
                    try self.run(migration, on: connection)
                }
            } else {
                try self.run(migration, on: connection)
            }
            applied.append(migration)
        }
        return applied
    }

    /// One migration in one transaction, recorded in `schema_migrations`.
    /// What ``Database/migrationStatus()`` reports; see there.
    static func status(of connection: any SQLConnection) throws(StoreError) -> (known: [MigrationState], unknownVersions: [Int64]) {
        let exists: String
        switch connection.dialect {
        case .sqlite: exists = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        case .mariadb: exists = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'"
        }
        var applied: [Int64: Int64] = [:]
        if try connection.query(exists).first?.int64(0) ?? 0 > 0 {
            for row in try connection.query("SELECT version, applied_at_ms FROM schema_migrations ORDER BY version") {
                applied[row.int64(0)] = row.int64(1)
            }
        }
        let known = self.all.map { MigrationState(version: $0.version, name: $0.name, appliedAtMilliseconds: applied[$0.version]) }
        let knownVersions = Set(self.all.map(\.version))
        return (known, applied.keys.filter { !knownVersions.contains($0) }.sorted())
    }

    /// Runs `body` (which migrates) while holding the database's migration lock, so that servers
    /// started together against one MariaDB migrate one after the other: the first applies, the
    /// others find nothing to do. SQLite's `BEGIN IMMEDIATE` already serializes them.
    static func withMigrationLock<T>(on connection: any SQLConnection, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        guard connection.dialect == .mariadb else { return try body() }
        let lock = "ova.schema_migrations"
        let acquired = try connection.query("SELECT GET_LOCK(?, ?)", [.text(lock), .integer(Self.lockWaitSeconds)]).first?.optionalInt64(0)
        guard acquired == 1 else {
            throw .unavailable("another server held the migration lock for \(Self.lockWaitSeconds) s; retry when it has finished migrating")
        }
        defer { _ = try? connection.query("SELECT RELEASE_LOCK(?)", [.text(lock)]) }
        return try body()
    }

    /// How long a server waits for another one's migrations.
    static let lockWaitSeconds: Int64 = 120

    private static func run(_ migration: Migration, on connection: any SQLConnection) throws(StoreError) {
        try connection.transaction { () throws(StoreError) in
            for statement in migration.steps(for: connection.dialect).statements {
                try connection.execute(statement)
            }
            if migration.rebuildsSQLiteTables, connection.dialect == .sqlite {
                // Enforcement is off, so a copy that broke a reference would go unnoticed:
                // check every one before committing.
                let violations = try connection.query("PRAGMA foreign_key_check")
                guard violations.isEmpty else {
                    let first = violations[0]
                    throw .internalError(
                        "migration \(migration.version) would leave \(violations.count) broken references "
                            + "(first: \(first.string(0)) row \(first.string(1)) → \(first.string(2)))"
                    )
                }
            }
            try connection.run(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                [.integer(migration.version), .text(migration.name), .integer(StoreClock.nowMilliseconds())]
            )
        }
    }

    /// Runs `body` with foreign keys off, turning them on again however it ends. The pragma is
    /// a no-op inside a transaction, which is why it wraps the migration's transaction rather
    /// than being one of its statements.
    private static func withoutSQLiteForeignKeys(_ connection: any SQLConnection, _ body: () throws(StoreError) -> Void) throws(StoreError) {
        try connection.execute("PRAGMA foreign_keys = OFF")
        let failure: StoreError?
        do {
            try body()
            failure = nil
        } catch {
            failure = error
        }
        try connection.execute("PRAGMA foreign_keys = ON")
        guard try connection.query("PRAGMA foreign_keys").first?.int64(0) == 1 else {
            throw .unavailable("could not turn foreign keys back on after migrating \(Self.describe(connection))")
        }
        if let failure { throw failure }
    }
}

extension Migrations {
    /// Names the database in an error message (the file, for SQLite).
    fileprivate static func describe(_ connection: any SQLConnection) -> String {
        (connection as? SQLiteConnection)?.path ?? "the database"
    }
}

/// Wall-clock time for rows, in Unix milliseconds.
public enum StoreClock {
    public static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// One migration of the schema and, in a database, when it was applied.
public struct MigrationState: Sendable, Equatable {
    public let version: Int64
    public let name: String
    /// Unix milliseconds; nil when the database does not have it yet.
    public let appliedAtMilliseconds: Int64?
}
