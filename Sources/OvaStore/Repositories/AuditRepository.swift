/// One audited action: who did what to which target, from where, and how it ended.
public struct AuditEventRecord: Sendable, Equatable {
    public var id: Int64
    public var timeMilliseconds: Int64
    /// The administrator's email; `anonymous` for public calls and failed logins; `cli` for
    /// `ova-server admin` commands.
    public var actor: String
    public var actorAdminID: Int64?
    /// What was done, e.g. `admins.delete`: one of the names `AuditAction` (OvaServices) defines
    /// and `audit.proto` lists.
    public var action: String
    /// What the action touched, e.g. `admin:7`; empty when not applicable.
    public var target: String
    public var peerAddress: String
    public var requestID: String
    /// The status code name: `OK`, `PERMISSION_DENIED`, ...
    public var outcome: String
    /// A short, non-secret note (the error message of a failure).
    public var detail: String

    public init(
        id: Int64 = 0, timeMilliseconds: Int64, actor: String, actorAdminID: Int64?, action: String, target: String,
        peerAddress: String, requestID: String, outcome: String, detail: String
    ) {
        self.id = id
        self.timeMilliseconds = timeMilliseconds
        self.actor = actor
        self.actorAdminID = actorAdminID
        self.action = action
        self.target = target
        self.peerAddress = peerAddress
        self.requestID = requestID
        self.outcome = outcome
        self.detail = detail
    }
}

/// Which audit events a list shows; empty strings and nil bounds mean "any".
public struct AuditFilter: Sendable, Equatable {
    public var actor: String
    public var action: String
    public var fromMilliseconds: Int64?
    public var toMilliseconds: Int64?

    public init(actor: String = "", action: String = "", fromMilliseconds: Int64? = nil, toMilliseconds: Int64? = nil) {
        self.actor = actor
        self.action = action
        self.fromMilliseconds = fromMilliseconds
        self.toMilliseconds = toMilliseconds
    }
}

/// Appends to and reads `audit_events`. There is no update or delete: the log is append-only.
public struct AuditRepository: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Column limits; longer values are cut rather than failing the audited call.
    static let limits = (actor: 254, action: 128, target: 255, peer: 64, requestID: 64, outcome: 32, detail: 1000)

    public func append(_ event: AuditEventRecord) async throws(StoreError) {
        let l = Self.limits
        let parameters: [SQLValue] = [
            .integer(event.timeMilliseconds), .text(Self.cut(event.actor, l.actor)),
            event.actorAdminID.map(SQLValue.integer) ?? .null, .text(Self.cut(event.action, l.action)),
            .text(Self.cut(event.target, l.target)), .text(Self.cut(event.peerAddress, l.peer)),
            .text(Self.cut(event.requestID, l.requestID)), .text(Self.cut(event.outcome, l.outcome)),
            .text(Self.cut(event.detail, l.detail)),
        ]
        try await self.database.write { connection throws(StoreError) in
            try connection.run(
                """
                INSERT INTO audit_events (time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                parameters
            )
        }
    }

    /// Newest first.
    public func list(_ filter: AuditFilter, page: PageQuery) async throws(StoreError) -> Page<AuditEventRecord> {
        try await self.database.read { connection throws(StoreError) in
            var conditions = SQLConditions()
            if !filter.actor.isEmpty { conditions.add("actor = ?", .text(filter.actor)) }
            if !filter.action.isEmpty { conditions.add("action = ?", .text(filter.action)) }
            if let from = filter.fromMilliseconds { conditions.add("time_ms >= ?", .integer(from)) }
            if let to = filter.toMilliseconds { conditions.add("time_ms < ?", .integer(to)) }
            let total = try connection.query("SELECT COUNT(*) FROM audit_events\(conditions.whereClause)", conditions.parameters)
                .first?.int64(0) ?? 0
            let rows = try connection.query(
                """
                SELECT id, time_ms, actor, actor_admin_id, action, target, peer_address, request_id, outcome, detail
                FROM audit_events\(conditions.whereClause(and: "id < ?")) ORDER BY id DESC LIMIT ?
                """,
                conditions.parameters + [page.idBound, page.limit]
            )
            let events = rows.map { row in
                AuditEventRecord(
                    id: row.int64(0), timeMilliseconds: row.int64(1), actor: row.string(2), actorAdminID: row.optionalInt64(3),
                    action: row.string(4), target: row.string(5), peerAddress: row.string(6), requestID: row.string(7),
                    outcome: row.string(8), detail: row.string(9)
                )
            }
            return Page(fetched: events, query: page, totalSize: total, id: \.id)
        }
    }

    private static func cut(_ text: String, _ limit: Int) -> String {
        text.prefix(codePoints: limit)
    }
}
