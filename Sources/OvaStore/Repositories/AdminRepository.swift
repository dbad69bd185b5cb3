/// An administrator as stored (without the password hash, which only ``AdminRepository``
/// hands out, to the login path).
public struct AdminRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var email: String
    public var superadmin: Bool
    public var active: Bool
    public var createdAtMilliseconds: Int64
    public var updatedAtMilliseconds: Int64
}

/// The fields of an administrator that an update may change; nil leaves a field as it is.
public struct AdminChanges: Sendable, Equatable {
    public var name: String?
    public var email: String?
    public var superadmin: Bool?
    public var active: Bool?

    public init(name: String? = nil, email: String? = nil, superadmin: Bool? = nil, active: Bool? = nil) {
        self.name = name
        self.email = email
        self.superadmin = superadmin
        self.active = active
    }

    public var isEmpty: Bool { name == nil && email == nil && superadmin == nil && active == nil }
}

/// Reads and writes `administrators`. Emails are stored as given; callers normalize them
/// (trimmed, lowercased) so the UNIQUE constraint means "one account per address".
public struct AdminRepository: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = "id, name, email, superadmin, active, created_at_ms, updated_at_ms"

    static func record(_ row: SQLRow, from offset: Int = 0) -> AdminRecord {
        AdminRecord(
            id: row.int64(offset),
            name: row.string(offset + 1),
            email: row.string(offset + 2),
            superadmin: row.bool(offset + 3),
            active: row.bool(offset + 4),
            createdAtMilliseconds: row.int64(offset + 5),
            updatedAtMilliseconds: row.int64(offset + 6)
        )
    }

    /// - Throws: ``StoreError/duplicate(field:)`` (`email`) when the address is taken.
    public func create(name: String, email: String, passwordHash: String, superadmin: Bool) async throws(StoreError) -> AdminRecord {
        try await self.database.write { connection throws(StoreError) in
            let now = StoreClock.nowMilliseconds()
            try connection.run(
                """
                INSERT INTO administrators (name, email, password_hash, superadmin, active, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, 1, ?, ?)
                """,
                [.text(name), .text(email), .text(passwordHash), .bool(superadmin), .integer(now), .integer(now)]
            )
            return AdminRecord(
                id: connection.lastInsertedID, name: name, email: email, superadmin: superadmin, active: true,
                createdAtMilliseconds: now, updatedAtMilliseconds: now
            )
        }
    }

    /// - Throws: ``StoreError/notFound``.
    public func get(id: Int64) async throws(StoreError) -> AdminRecord {
        try await self.database.read { connection throws(StoreError) in
            try Self.get(id: id, connection)
        }
    }

    /// - Parameter locking: in a write transaction that rewrites the row from what it reads, so a
    ///   concurrent writer on a backend without SQLite's single writer waits instead of losing
    ///   its change.
    static func get(id: Int64, _ connection: any SQLConnection, locking: Bool = false) throws(StoreError) -> AdminRecord {
        let lock = locking ? connection.dialect.lockingRead : ""
        guard let row = try connection.query("SELECT \(columns) FROM administrators WHERE id = ?\(lock)", [.integer(id)]).first else {
            throw .notFound
        }
        return record(row)
    }

    /// The account and its password hash, for login; nil when no account has this email.
    public func credentials(email: String) async throws(StoreError) -> (admin: AdminRecord, passwordHash: String)? {
        try await self.database.read { connection throws(StoreError) in
            guard let row = try connection.query(
                "SELECT \(Self.columns), password_hash FROM administrators WHERE email = ?", [.text(email)]
            ).first else {
                return nil
            }
            return (Self.record(row), row.string(7))
        }
    }

    /// The password hash of an account, for re-authentication (ChangePassword).
    public func passwordHash(id: Int64) async throws(StoreError) -> String {
        try await self.database.read { connection throws(StoreError) in
            guard let row = try connection.query("SELECT password_hash FROM administrators WHERE id = ?", [.integer(id)]).first else {
                throw .notFound
            }
            return row.string(0)
        }
    }

    /// Newest first.
    public func list(page: PageQuery) async throws(StoreError) -> Page<AdminRecord> {
        try await self.database.read { connection throws(StoreError) in
            let rows = try connection.query(
                "SELECT \(Self.columns) FROM administrators WHERE id < ? ORDER BY id DESC LIMIT ?",
                [page.idBound, page.limit]
            )
            let total = try connection.query("SELECT COUNT(*) FROM administrators").first?.int64(0) ?? 0
            return Page(fetched: rows.map { Self.record($0) }, query: page, totalSize: total, id: \.id)
        }
    }

    /// Applies `changes` and returns the updated account.
    ///
    /// - Throws: ``StoreError/notFound``; ``StoreError/duplicate(field:)`` for a taken email;
    ///   ``StoreError/constraintViolation(_:)`` when the change would leave no active superadmin.
    public func update(id: Int64, _ changes: AdminChanges) async throws(StoreError) -> AdminRecord {
        try await self.database.write { connection throws(StoreError) in
            var current = try Self.get(id: id, connection, locking: true)
            guard !changes.isEmpty else { return current }
            if let name = changes.name { current.name = name }
            if let email = changes.email { current.email = email }
            if let superadmin = changes.superadmin { current.superadmin = superadmin }
            if let active = changes.active { current.active = active }
            current.updatedAtMilliseconds = StoreClock.nowMilliseconds()
            try connection.run(
                "UPDATE administrators SET name = ?, email = ?, superadmin = ?, active = ?, updated_at_ms = ? WHERE id = ?",
                [.text(current.name), .text(current.email), .bool(current.superadmin), .bool(current.active),
                 .integer(current.updatedAtMilliseconds), .integer(id)]
            )
            try Self.requireActiveSuperadmin(connection)
            if !current.active {
                // A deactivated account's tokens stop working at once, not at their expiry.
                try SessionRepository.revokeAll(adminID: id, connection)
            }
            return current
        }
    }

    public func setPasswordHash(id: Int64, _ passwordHash: String) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            let changed = try connection.run(
                "UPDATE administrators SET password_hash = ?, updated_at_ms = ? WHERE id = ?",
                [.text(passwordHash), .integer(StoreClock.nowMilliseconds()), .integer(id)]
            )
            guard changed == 1 else { throw .notFound }
        }
    }

    /// Hard delete, as the original; the account's sessions go with it (ON DELETE CASCADE).
    ///
    /// - Throws: ``StoreError/notFound``; ``StoreError/constraintViolation(_:)`` for the last
    ///   active superadmin.
    public func delete(id: Int64) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            let changed = try connection.run("DELETE FROM administrators WHERE id = ?", [.integer(id)])
            guard changed == 1 else { throw .notFound }
            try Self.requireActiveSuperadmin(connection)
        }
    }

    public func count() async throws(StoreError) -> Int64 {
        try await self.database.read { connection throws(StoreError) in
            try connection.query("SELECT COUNT(*) FROM administrators").first?.int64(0) ?? 0
        }
    }

    /// Refuses (and so rolls back) a change that leaves accounts but no active superadmin:
    /// nobody could manage administrators any more.
    ///
    /// The read locks (``SQLDialect/lockingRead``): two transactions demoting the last two
    /// superadmins would otherwise each see the other's superadmin in its snapshot and both
    /// commit. COUNT of a CASE rather than SUM: MariaDB's SUM is a DECIMAL, not an integer.
    static func requireActiveSuperadmin(_ connection: any SQLConnection) throws(StoreError) {
        let counts = try connection.query(
            "SELECT COUNT(*), COUNT(CASE WHEN superadmin = 1 AND active = 1 THEN 1 END) FROM administrators\(connection.dialect.lockingRead)"
        ).first
        let total = counts?.int64(0) ?? 0
        let superadmins = counts?.optionalInt64(1) ?? 0
        if total > 0, superadmins == 0 {
            throw .constraintViolation("at least one active superadmin must remain")
        }
    }
}
