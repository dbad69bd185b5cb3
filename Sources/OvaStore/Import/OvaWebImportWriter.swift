import Synchronization

/// What an import did with one source table's rows.
public struct ImportTableCounts: Sendable, Equatable {
    /// Rows written to OVA by this run.
    public var new = 0
    /// Rows an earlier run handled (recorded in `imported_rows`): not looked at again.
    public var alreadyImported = 0
    /// Source ids of rows whose email an OVA account or subscriber already had: that row is
    /// kept as it is in OVA, the source row recorded as handled.
    public var matchedByEmail: [Int64] = []

    public init() {}
}

/// The rows of one import, already checked and normalized the way OVA's own services do
/// (``OvaWebImportWriter`` writes what it is given).
public struct OvaWebImportRows: Sendable, Equatable {
    public var administrators: [OvaWebAdministrator]
    public var messages: [OvaWebContactMessage]
    public var subscribers: [OvaWebSubscriber]

    public init(administrators: [OvaWebAdministrator], messages: [OvaWebContactMessage], subscribers: [OvaWebSubscriber]) {
        self.administrators = administrators
        self.messages = messages
        self.subscribers = subscribers
    }
}

/// What ``OvaWebImportWriter/write(_:dryRun:)`` did, per source table.
public struct OvaWebImportCounts: Sendable, Equatable {
    public var administrators = ImportTableCounts()
    public var messages = ImportTableCounts()
    public var subscribers = ImportTableCounts()

    public init() {}
}

/// Writes OVA Web rows into OVA's store, once: each source row handled is recorded in
/// `imported_rows` under its table and id, so a later run skips it, also when the OVA row
/// was since deleted or changed.
///
/// Administrators and subscribers are also matched on their (normalized) email: an address
/// OVA already has is kept as it is and never overwritten. Messages have no natural key
/// (the same person may send the same text twice), so their identity is the source id alone.
///
/// The whole import is one transaction: it is written completely or not at all, and an
/// interrupted run leaves nothing to clean up. A dry run does the same work in the same
/// transaction and rolls it back, so its counts are exactly those of a real run.
public struct OvaWebImportWriter: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The `imported_rows.source_table` names: the source's table, prefixed with the source.
    enum SourceTable {
        static let administrators = "ova_web.administradores"
        static let messages = "ova_web.contactos"
        static let subscribers = "ova_web.usuarios"
    }

    /// Writes `rows` (nothing, with `dryRun`) and returns what was or would be done.
    /// Missing times become the time of the import.
    public func write(_ rows: OvaWebImportRows, dryRun: Bool) async throws(StoreError) -> OvaWebImportCounts {
        let dryRunCounts = DryRunCounts()
        do throws(StoreError) {
            return try await self.database.write { connection throws(StoreError) in
                let counts = try Self.write(rows, connection, now: StoreClock.nowMilliseconds())
                if dryRun {
                    // Throwing is how a write transaction rolls back; the counts leave beside it.
                    dryRunCounts.value.withLock { $0 = counts }
                    throw StoreError.internalError(DryRunCounts.marker)
                }
                return counts
            }
        } catch .internalError(DryRunCounts.marker) {
            if let counts = dryRunCounts.value.withLock({ $0 }) {
                return counts
            }
            throw .internalError(DryRunCounts.marker)
        }
    }

    private static func write(_ rows: OvaWebImportRows, _ connection: any SQLConnection, now: Int64) throws(StoreError) -> OvaWebImportCounts {
        var counts = OvaWebImportCounts()
        for admin in rows.administrators {
            try Self.importRow(SourceTable.administrators, admin.id, into: &counts.administrators, connection, now: now) { () throws(StoreError) in
                if let existing = try connection.query("SELECT id FROM administrators WHERE email = ?", [.text(admin.email)]).first {
                    return .matched(existing.int64(0))
                }
                let created = admin.createdAtMilliseconds ?? now
                try connection.run(
                    """
                    INSERT INTO administrators (name, email, password_hash, superadmin, active, created_at_ms, updated_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.text(admin.name), .text(admin.email), .text(admin.passwordHash), .bool(admin.superadmin), .bool(admin.active),
                     .integer(created), .integer(admin.updatedAtMilliseconds ?? created)]
                )
                return .inserted(connection.lastInsertedID)
            }
        }
        for message in rows.messages {
            try Self.importRow(SourceTable.messages, message.id, into: &counts.messages, connection, now: now) { () throws(StoreError) in
                try connection.run(
                    """
                    INSERT INTO contact_messages (name, email, subject, message, sent_at_ms, is_read, is_answered)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.text(message.name), .text(message.email), .text(message.subject), .text(message.message),
                     .integer(message.sentAtMilliseconds ?? now), .bool(message.read), .bool(message.answered)]
                )
                return .inserted(connection.lastInsertedID)
            }
        }
        for subscriber in rows.subscribers {
            try Self.importRow(SourceTable.subscribers, subscriber.id, into: &counts.subscribers, connection, now: now) { () throws(StoreError) in
                if let existing = try connection.query("SELECT id FROM users WHERE email = ?", [.text(subscriber.email)]).first {
                    return .matched(existing.int64(0))
                }
                try connection.run(
                    "INSERT INTO users (email, name, active, registered_at_ms) VALUES (?, ?, ?, ?)",
                    [.text(subscriber.email), .text(subscriber.name), .bool(subscriber.active), .integer(subscriber.registeredAtMilliseconds ?? now)]
                )
                return .inserted(connection.lastInsertedID)
            }
        }
        return counts
    }

    private enum RowOutcome {
        case inserted(Int64)
        case matched(Int64)
    }

    /// Skips a row an earlier run recorded; otherwise runs `body` and records the OVA row it
    /// inserted or matched.
    private static func importRow(
        _ table: String, _ sourceID: Int64, into counts: inout ImportTableCounts, _ connection: any SQLConnection, now: Int64,
        _ body: () throws(StoreError) -> RowOutcome
    ) throws(StoreError) {
        let seen = try connection.query(
            "SELECT target_id FROM imported_rows WHERE source_table = ? AND source_id = ?", [.text(table), .integer(sourceID)]
        )
        guard seen.isEmpty else {
            counts.alreadyImported += 1
            return
        }
        let target: Int64
        switch try body() {
        case .inserted(let id):
            counts.new += 1
            target = id
        case .matched(let id):
            counts.matchedByEmail.append(sourceID)
            target = id
        }
        try connection.run(
            "INSERT INTO imported_rows (source_table, source_id, target_id, imported_at_ms) VALUES (?, ?, ?, ?)",
            [.text(table), .integer(sourceID), .integer(target), .integer(now)]
        )
    }
}

/// The counts of a dry run, carried out of the transaction its error rolled back.
private final class DryRunCounts: Sendable {
    static let marker = "dry run: rolled back"
    let value = Mutex<OvaWebImportCounts?>(nil)
}
