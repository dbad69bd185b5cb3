/// A login session. The token itself is never stored: `tokenID` is the JWT's `jti`, which a
/// token carries and the session row must match.
public struct SessionRecord: Sendable, Equatable {
    public var id: Int64
    public var adminID: Int64
    public var tokenID: String
    public var ipAddress: String
    public var userAgent: String
    public var startedAtMilliseconds: Int64
    public var expiresAtMilliseconds: Int64
    public var active: Bool
    /// The session's administrator (joined), so one query authenticates a call.
    public var admin: AdminRecord
}

/// Reads and writes `admin_sessions`.
public struct SessionRepository: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let selectJoined = """
        SELECT s.id, s.admin_id, s.token_id, s.ip_address, s.user_agent, s.started_at_ms, s.expires_at_ms, s.active,
               a.id, a.name, a.email, a.superadmin, a.active, a.created_at_ms, a.updated_at_ms
        FROM admin_sessions s JOIN administrators a ON a.id = s.admin_id
        """

    private static func record(_ row: SQLRow) -> SessionRecord {
        SessionRecord(
            id: row.int64(0), adminID: row.int64(1), tokenID: row.string(2), ipAddress: row.string(3),
            userAgent: row.string(4), startedAtMilliseconds: row.int64(5), expiresAtMilliseconds: row.int64(6),
            active: row.bool(7), admin: AdminRepository.record(row, from: 8)
        )
    }

    /// Starts a session; with `replacing`, ends that one in the same transaction (token refresh).
    public func create(
        adminID: Int64,
        tokenID: String,
        ipAddress: String,
        userAgent: String,
        startedAtMilliseconds: Int64,
        expiresAtMilliseconds: Int64,
        replacing previousSessionID: Int64? = nil
    ) async throws(StoreError) -> SessionRecord {
        try await self.database.write { connection throws(StoreError) in
            if let previousSessionID {
                try Self.revoke(id: previousSessionID, connection)
            }
            try connection.run(
                """
                INSERT INTO admin_sessions (admin_id, token_id, ip_address, user_agent, started_at_ms, expires_at_ms, active)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                """,
                // Cut to the columns (a client chooses its user agent); the record returned
                // below reads back what was stored.
                [.integer(adminID), .text(tokenID), .text(ipAddress.prefix(codePoints: 64)), .text(userAgent.prefix(codePoints: 255)),
                 .integer(startedAtMilliseconds), .integer(expiresAtMilliseconds)]
            )
            let id = connection.lastInsertedID
            guard let row = try connection.query("\(Self.selectJoined) WHERE s.id = ?", [.integer(id)]).first else {
                throw .internalError("inserted session \(id) is missing")
            }
            return Self.record(row)
        }
    }

    /// The session a token names, if it is active, unexpired at `now`, and its administrator
    /// is active: the check every authenticated call makes.
    public func findValid(tokenID: String, adminID: Int64, nowMilliseconds: Int64) async throws(StoreError) -> SessionRecord? {
        try await self.database.read { connection throws(StoreError) in
            try connection.query(
                "\(Self.selectJoined) WHERE s.token_id = ? AND s.admin_id = ? AND s.active = 1 AND s.expires_at_ms > ? AND a.active = 1",
                [.text(tokenID), .integer(adminID), .integer(nowMilliseconds)]
            ).first.map(Self.record)
        }
    }

    public func get(id: Int64) async throws(StoreError) -> SessionRecord {
        try await self.database.read { connection throws(StoreError) in
            guard let row = try connection.query("\(Self.selectJoined) WHERE s.id = ?", [.integer(id)]).first else {
                throw .notFound
            }
            return Self.record(row)
        }
    }

    /// Active, unexpired sessions, newest first; of one administrator, or of all when nil.
    public func listActive(adminID: Int64?, nowMilliseconds: Int64, page: PageQuery) async throws(StoreError) -> Page<SessionRecord> {
        try await self.database.read { connection throws(StoreError) in
            var filter = "s.active = 1 AND s.expires_at_ms > ?"
            var parameters: [SQLValue] = [.integer(nowMilliseconds)]
            if let adminID {
                filter += " AND s.admin_id = ?"
                parameters.append(.integer(adminID))
            }
            let total = try connection.query(
                "SELECT COUNT(*) FROM admin_sessions s WHERE \(filter)", parameters
            ).first?.int64(0) ?? 0
            let rows = try connection.query(
                "\(Self.selectJoined) WHERE \(filter) AND s.id < ? ORDER BY s.id DESC LIMIT ?",
                parameters + [page.idBound, page.limit]
            )
            return Page(fetched: rows.map(Self.record), query: page, totalSize: total, id: \.id)
        }
    }

    /// Ends one session. - Throws: ``StoreError/notFound`` when it is not active.
    public func revoke(id: Int64) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            try Self.revoke(id: id, connection)
        }
    }

    static func revoke(id: Int64, _ connection: any SQLConnection) throws(StoreError) {
        let changed = try connection.run(
            "UPDATE admin_sessions SET active = 0, ended_at_ms = ? WHERE id = ? AND active = 1",
            [.integer(StoreClock.nowMilliseconds()), .integer(id)]
        )
        guard changed == 1 else { throw .notFound }
    }

    /// Ends every active session of an administrator but `keptSessionID`; returns how many.
    public func revokeAll(adminID: Int64, except keptSessionID: Int64? = nil) async throws(StoreError) -> Int {
        try await self.database.write { connection throws(StoreError) in
            try Self.revokeAll(adminID: adminID, except: keptSessionID, connection)
        }
    }

    @discardableResult
    static func revokeAll(adminID: Int64, except keptSessionID: Int64? = nil, _ connection: any SQLConnection) throws(StoreError) -> Int {
        try connection.run(
            "UPDATE admin_sessions SET active = 0, ended_at_ms = ? WHERE admin_id = ? AND active = 1 AND id <> ?",
            [.integer(StoreClock.nowMilliseconds()), .integer(adminID), .integer(keptSessionID ?? 0)]
        )
    }

    /// Deletes sessions that ended or expired before `cutoff`; returns how many.
    public func deleteEnded(before cutoffMilliseconds: Int64) async throws(StoreError) -> Int {
        try await self.database.write { connection throws(StoreError) in
            try connection.run(
                "DELETE FROM admin_sessions WHERE expires_at_ms < ? OR (active = 0 AND ended_at_ms < ?)",
                [.integer(cutoffMilliseconds), .integer(cutoffMilliseconds)]
            )
        }
    }
}
