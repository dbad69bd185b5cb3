/// A message sent through the public contact form.
public struct ContactMessageRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var email: String
    public var subject: String
    public var message: String
    public var sentAtMilliseconds: Int64
    public var read: Bool
    public var answered: Bool
}

/// Everyone who wrote, with their message counts (the original's "grouped by email").
public struct ContactSummary: Sendable, Equatable {
    public var email: String
    /// The name on the sender's latest message.
    public var name: String
    public var messageCount: Int64
    public var unreadCount: Int64
    public var lastMessageAtMilliseconds: Int64
    /// The id of the latest message; the page key.
    public var lastMessageID: Int64
}

/// Which messages a list shows.
public struct ContactMessageFilter: Sendable, Equatable {
    public var unreadOnly: Bool
    /// Only this sender's messages, when not empty.
    public var email: String

    public init(unreadOnly: Bool = false, email: String = "") {
        self.unreadOnly = unreadOnly
        self.email = email
    }

    fileprivate var conditions: SQLConditions {
        var conditions = SQLConditions()
        if self.unreadOnly { conditions.add("is_read = 0") }
        if !self.email.isEmpty { conditions.add("email = ?", .text(self.email)) }
        return conditions
    }
}

/// Reads and writes `contact_messages`.
public struct ContactMessageRepository: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let columns = "id, name, email, subject, message, sent_at_ms, is_read, is_answered"

    private static func record(_ row: SQLRow) -> ContactMessageRecord {
        ContactMessageRecord(
            id: row.int64(0), name: row.string(1), email: row.string(2), subject: row.string(3),
            message: row.string(4), sentAtMilliseconds: row.int64(5), read: row.bool(6), answered: row.bool(7)
        )
    }

    public func create(name: String, email: String, subject: String, message: String) async throws(StoreError) -> ContactMessageRecord {
        try await self.database.write { connection throws(StoreError) in
            let now = StoreClock.nowMilliseconds()
            try connection.run(
                "INSERT INTO contact_messages (name, email, subject, message, sent_at_ms, is_read, is_answered) VALUES (?, ?, ?, ?, ?, 0, 0)",
                [.text(name), .text(email), .text(subject), .text(message), .integer(now)]
            )
            return ContactMessageRecord(
                id: connection.lastInsertedID, name: name, email: email, subject: subject, message: message,
                sentAtMilliseconds: now, read: false, answered: false
            )
        }
    }

    public func get(id: Int64) async throws(StoreError) -> ContactMessageRecord {
        try await self.database.read { connection throws(StoreError) in
            try Self.get(id: id, connection)
        }
    }

    /// - Parameter locking: see ``AdminRepository/get(id:_:locking:)``.
    private static func get(id: Int64, _ connection: any SQLConnection, locking: Bool = false) throws(StoreError) -> ContactMessageRecord {
        let lock = locking ? connection.dialect.lockingRead : ""
        guard let row = try connection.query("SELECT \(columns) FROM contact_messages WHERE id = ?\(lock)", [.integer(id)]).first else {
            throw .notFound
        }
        return record(row)
    }

    /// Newest first.
    public func list(_ filter: ContactMessageFilter, page: PageQuery) async throws(StoreError) -> Page<ContactMessageRecord> {
        try await self.database.read { connection throws(StoreError) in
            let conditions = filter.conditions
            let total = try connection.query("SELECT COUNT(*) FROM contact_messages\(conditions.whereClause)", conditions.parameters)
                .first?.int64(0) ?? 0
            let rows = try connection.query(
                "SELECT \(Self.columns) FROM contact_messages\(conditions.whereClause(and: "id < ?")) ORDER BY id DESC LIMIT ?",
                conditions.parameters + [page.idBound, page.limit]
            )
            return Page(fetched: rows.map(Self.record), query: page, totalSize: total, id: \.id)
        }
    }

    /// Sets the read and/or answered flags (nil leaves a flag unchanged).
    public func mark(id: Int64, read: Bool?, answered: Bool?) async throws(StoreError) -> ContactMessageRecord {
        try await self.database.write { connection throws(StoreError) in
            var current = try Self.get(id: id, connection, locking: true)
            if let read { current.read = read }
            if let answered { current.answered = answered }
            try connection.run(
                "UPDATE contact_messages SET is_read = ?, is_answered = ? WHERE id = ?",
                [.bool(current.read), .bool(current.answered), .integer(id)]
            )
            return current
        }
    }

    public func delete(id: Int64) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            guard try connection.run("DELETE FROM contact_messages WHERE id = ?", [.integer(id)]) == 1 else {
                throw .notFound
            }
        }
    }

    /// Deletes every message of one sender; returns how many.
    public func deleteAll(email: String) async throws(StoreError) -> Int {
        try await self.database.write { connection throws(StoreError) in
            try connection.run("DELETE FROM contact_messages WHERE email = ?", [.text(email)])
        }
    }

    /// One sender's counts, or nil when they never wrote.
    public func sender(email: String) async throws(StoreError) -> ContactSummary? {
        try await self.database.read { connection throws(StoreError) in
            try connection.query(Self.summarySQL(senderFilter: "WHERE email = ?", groupFilter: ""), [.text(email)])
                .first.map(Self.summary)
        }
    }

    /// Per-sender counts, the latest message's name, and the latest id (the page key).
    /// `senderFilter` narrows the messages grouped, `groupFilter` the groups. The unread count
    /// is a COUNT of a CASE rather than a SUM, which MariaDB returns as a DECIMAL.
    private static func summarySQL(senderFilter: String, groupFilter: String) -> String {
        """
        SELECT grouped.email, grouped.message_count, grouped.unread_count, grouped.last_sent_at_ms,
               grouped.last_id, latest.name
        FROM (
            SELECT email, COUNT(*) AS message_count, COUNT(CASE WHEN is_read = 0 THEN 1 END) AS unread_count,
                   MAX(sent_at_ms) AS last_sent_at_ms, MAX(id) AS last_id
            FROM contact_messages \(senderFilter) GROUP BY email
        ) grouped
        JOIN contact_messages latest ON latest.id = grouped.last_id
        \(groupFilter)
        """
    }

    private static func summary(_ row: SQLRow) -> ContactSummary {
        ContactSummary(
            email: row.string(0), name: row.string(5), messageCount: row.int64(1), unreadCount: row.int64(2),
            lastMessageAtMilliseconds: row.int64(3), lastMessageID: row.int64(4)
        )
    }

    /// Senders, the one who wrote last first.
    public func senders(page: PageQuery) async throws(StoreError) -> Page<ContactSummary> {
        try await self.database.read { connection throws(StoreError) in
            let total = try connection.query("SELECT COUNT(DISTINCT email) FROM contact_messages").first?.int64(0) ?? 0
            let rows = try connection.query(
                Self.summarySQL(senderFilter: "", groupFilter: "WHERE grouped.last_id < ? ORDER BY grouped.last_id DESC LIMIT ?"),
                [page.idBound, page.limit]
            )
            return Page(fetched: rows.map(Self.summary), query: page, totalSize: total, id: \.lastMessageID)
        }
    }

    /// The largest id, 0 when there is no message.
    public func maxID() async throws(StoreError) -> Int64 {
        try await self.database.read { connection throws(StoreError) in
            try connection.query("SELECT MAX(id) FROM contact_messages").first?.optionalInt64(0) ?? 0
        }
    }

    /// Oldest first after `afterID`, for exports that walk every row in bounded batches.
    public func batch(afterID: Int64, unreadOnly: Bool, limit: Int) async throws(StoreError) -> [ContactMessageRecord] {
        try await self.database.read { connection throws(StoreError) in
            try connection.query(
                "SELECT \(Self.columns) FROM contact_messages WHERE id > ? AND (? = 0 OR is_read = 0) ORDER BY id ASC LIMIT ?",
                [.integer(afterID), .bool(unreadOnly), .integer(Int64(limit))]
            ).map(Self.record)
        }
    }
}
