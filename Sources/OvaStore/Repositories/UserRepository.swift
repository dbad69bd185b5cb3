/// A subscriber: an email address with a name, no credentials.
public struct UserRecord: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var name: String
    public var active: Bool
    public var registeredAtMilliseconds: Int64
}

/// Reads and writes `users`.
public struct UserRepository: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let columns = "id, email, name, active, registered_at_ms"

    private static func record(_ row: SQLRow) -> UserRecord {
        UserRecord(id: row.int64(0), email: row.string(1), name: row.string(2), active: row.bool(3), registeredAtMilliseconds: row.int64(4))
    }

    /// What ``register(email:name:)`` did.
    public enum Registration: Sendable, Equatable {
        case created(UserRecord)
        /// The address was registered but inactive: reactivated with the new name, as the
        /// original did.
        case reactivated(UserRecord)

        public var user: UserRecord {
            switch self {
            case .created(let user), .reactivated(let user): return user
            }
        }
    }

    /// Registers a subscriber, reactivating an inactive one.
    ///
    /// - Throws: ``StoreError/duplicate(field:)`` (`email`) when the address is active.
    public func register(email: String, name: String) async throws(StoreError) -> Registration {
        try await self.database.write { connection throws(StoreError) in
            // The INSERT first: among registrations of a new address the UNIQUE key picks one
            // winner. Reading first with a lock would, on InnoDB, take a gap lock on the absent
            // row, and two registrations holding gap locks deadlock at their INSERTs.
            let now = StoreClock.nowMilliseconds()
            do throws(StoreError) {
                try connection.run(
                    "INSERT INTO users (email, name, active, registered_at_ms) VALUES (?, ?, 1, ?)",
                    [.text(email), .text(name), .integer(now)]
                )
                return .created(UserRecord(id: connection.lastInsertedID, email: email, name: name, active: true, registeredAtMilliseconds: now))
            } catch .duplicate(field: "email") {
                // Only the failed statement was undone. The row exists, so the locking read takes
                // a record lock: two reactivations of one inactive address run one after the other.
                let lock = connection.dialect.lockingRead
                guard let row = try connection.query("SELECT \(Self.columns) FROM users WHERE email = ?\(lock)", [.text(email)]).first else {
                    throw .duplicate(field: "email")
                }
                var existing = Self.record(row)
                guard !existing.active else { throw .duplicate(field: "email") }
                existing.active = true
                existing.name = name
                try connection.run("UPDATE users SET active = 1, name = ? WHERE id = ?", [.text(name), .integer(existing.id)])
                return .reactivated(existing)
            }
        }
    }

    public func get(id: Int64) async throws(StoreError) -> UserRecord {
        try await self.database.read { connection throws(StoreError) in
            try Self.get(id: id, connection)
        }
    }

    /// - Parameter locking: see ``AdminRepository/get(id:_:locking:)``.
    private static func get(id: Int64, _ connection: any SQLConnection, locking: Bool = false) throws(StoreError) -> UserRecord {
        let lock = locking ? connection.dialect.lockingRead : ""
        guard let row = try connection.query("SELECT \(columns) FROM users WHERE id = ?\(lock)", [.integer(id)]).first else {
            throw .notFound
        }
        return record(row)
    }

    /// Newest first (the original ordered by id DESC).
    public func list(includeInactive: Bool, page: PageQuery) async throws(StoreError) -> Page<UserRecord> {
        try await self.database.read { connection throws(StoreError) in
            var conditions = SQLConditions()
            if !includeInactive { conditions.add("active = 1") }
            let total = try connection.query("SELECT COUNT(*) FROM users\(conditions.whereClause)").first?.int64(0) ?? 0
            let rows = try connection.query(
                "SELECT \(Self.columns) FROM users\(conditions.whereClause(and: "id < ?")) ORDER BY id DESC LIMIT ?",
                [page.idBound, page.limit]
            )
            return Page(fetched: rows.map(Self.record), query: page, totalSize: total, id: \.id)
        }
    }

    /// Changes the given fields (nil leaves one unchanged).
    ///
    /// - Throws: ``StoreError/notFound``; ``StoreError/duplicate(field:)`` for a taken email.
    public func update(id: Int64, email: String?, name: String?, active: Bool?) async throws(StoreError) -> UserRecord {
        try await self.database.write { connection throws(StoreError) in
            var current = try Self.get(id: id, connection, locking: true)
            if let email { current.email = email }
            if let name { current.name = name }
            if let active { current.active = active }
            try connection.run(
                "UPDATE users SET email = ?, name = ?, active = ? WHERE id = ?",
                [.text(current.email), .text(current.name), .bool(current.active), .integer(id)]
            )
            return current
        }
    }

    public func delete(id: Int64) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            guard try connection.run("DELETE FROM users WHERE id = ?", [.integer(id)]) == 1 else {
                throw .notFound
            }
        }
    }
}
