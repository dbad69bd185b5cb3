import OvaAuth
import OvaStore

/// Moves an OVA Web database's administrators, contact messages and subscribers into OVA:
/// the rules of `ova-server import ova-web` (docs/OPERATIONS.md, "Moving from OVA Web").
///
/// Rows go through the checks OVA's own services apply (names and texts trimmed within the
/// same lengths, emails trimmed, lowercased and well-formed, no control characters), so an
/// imported row is one OVA could have accepted itself; a row that fails is reported by table,
/// id and reason (never its content) and skipped. Password hashes are copied as they are;
/// one libxcrypt cannot verify (and neither the original's `"salt:hexhash"`) is skipped too,
/// since the account could never log in.
public enum OvaWebImport {
    /// A source row that was not imported, and why. Holds no personal data beyond the id.
    public struct SkippedRow: Sendable, Equatable, CustomStringConvertible {
        public var table: String
        public var id: Int64
        public var reason: String

        public var description: String { "\(self.table) id \(self.id): \(self.reason)" }
    }

    /// The checked rows and the rows refused.
    public struct Plan: Sendable, Equatable {
        public var rows: OvaWebImportRows
        public var skipped: [SkippedRow]
    }

    /// Checks and normalizes every row of `snapshot`.
    public static func plan(_ snapshot: OvaWebSnapshot) -> Plan {
        var skipped: [SkippedRow] = []
        func check<Row>(_ table: String, _ id: Int64, _ validate: (inout RequestValidator) -> Row) -> Row? {
            var validator = RequestValidator()
            let row = validate(&validator)
            guard validator.violations.isEmpty else {
                let reason = validator.violations.map { "\($0.field) \($0.description)" }.joined(separator: "; ")
                skipped.append(SkippedRow(table: table, id: id, reason: reason))
                return nil
            }
            return row
        }
        let administrators = snapshot.administrators.compactMap { admin in
            check("administradores", admin.id) { validator in
                var row = admin
                row.name = validator.text(admin.name, field: "nombre", length: AdminsServiceHandler.nameLength)
                row.email = validator.email(admin.email, field: "email")
                if !PasswordHasher.isVerifiableStoredHash(admin.passwordHash) {
                    validator.fail("hashed_password", "is not a password hash OVA can verify (bcrypt or the original's salt:hexhash)")
                }
                return row
            }
        }
        let messages = snapshot.messages.compactMap { message in
            check("contactos", message.id) { validator in
                var row = message
                row.name = validator.text(message.name, field: "nombre", length: MessagesServiceHandler.nameLength)
                row.email = validator.email(message.email, field: "email")
                row.subject = validator.text(message.subject, field: "asunto", length: MessagesServiceHandler.subjectLength)
                row.message = validator.text(message.message, field: "mensaje", length: MessagesServiceHandler.messageLength)
                return row
            }
        }
        let subscribers = snapshot.subscribers.compactMap { subscriber in
            check("usuarios", subscriber.id) { validator in
                var row = subscriber
                row.email = validator.email(subscriber.email, field: "email")
                row.name = validator.text(subscriber.name, field: "nombre", length: UsersServiceHandler.nameLength)
                return row
            }
        }
        return Plan(
            rows: OvaWebImportRows(administrators: administrators, messages: messages, subscribers: subscribers),
            skipped: skipped
        )
    }

    /// What one run did (or, dry, would do).
    public struct Report: Sendable, Equatable {
        public var counts: OvaWebImportCounts
        public var skipped: [SkippedRow]
        /// Rows of `sesiones_admin`, never imported; nil when the source has no such table.
        public var sessionCount: Int64?
        public var absentTables: [String]
        public var dryRun: Bool

        /// Rows this run wrote, over every table.
        public var newRows: Int {
            self.counts.administrators.new + self.counts.messages.new + self.counts.subscribers.new
        }

        /// One line per source table, e.g. `administradores: 2 new, 0 already imported,
        /// 1 matched by email, 1 skipped`.
        public var summaryLines: [String] {
            func line(_ table: String, _ counts: ImportTableCounts) -> String {
                let skipped = self.skipped.filter { $0.table == table }.count
                var parts = ["\(counts.new) new", "\(counts.alreadyImported) already imported"]
                if !counts.matchedByEmail.isEmpty { parts.append("\(counts.matchedByEmail.count) matched by email") }
                parts.append("\(skipped) skipped")
                return "\(table): " + parts.joined(separator: ", ")
            }
            var lines = [
                line("administradores", self.counts.administrators),
                line("contactos", self.counts.messages),
            ]
            lines.append(
                self.absentTables.contains("usuarios") ? "usuarios: not in the source database" : line("usuarios", self.counts.subscribers)
            )
            if let sessions = self.sessionCount {
                lines.append("sesiones_admin: \(sessions) not imported")
            } else {
                lines.append("sesiones_admin: not in the source database")
            }
            return lines
        }

        /// Why sessions are never imported, printed when the source has any.
        public static let sessionsReason = """
            sessions are not imported: their tokens were signed with OVA Web's key, which OVA \
            does not accept, and OVA deletes ended sessions after 7 days; administrators log in again
            """

        /// The notes about rows matched by email (kept as they are in OVA).
        public var matchLines: [String] {
            func lines(_ table: String, _ ids: [Int64], _ what: String) -> [String] {
                ids.map { "\(table) id \($0): \(what)" }
            }
            return lines("administradores", self.counts.administrators.matchedByEmail,
                         "OVA already has an administrator with this email; kept as it is (password and flags not imported)")
                + lines("usuarios", self.counts.subscribers.matchedByEmail,
                        "OVA already has a subscriber with this email; kept as it is")
        }

        /// The audit record's detail: the summary lines in one.
        public var auditDetail: String {
            let text = self.summaryLines.joined(separator: "; ")
            return text.count > 1000 ? String(text.prefix(997)) + "..." : text
        }
    }

    /// Checks `snapshot`, writes it into `store` (nothing with `dryRun`) and reports; a run
    /// that writes is recorded in the audit log as `import.ova_web` with the counts as detail
    /// and `source` (the source's `'user'@host:port/db`, no password) as target.
    ///
    /// - Throws: the store's error (the import is one transaction: nothing was written).
    public static func run(
        _ snapshot: OvaWebSnapshot, into store: Store, dryRun: Bool, source: String, audit: CommandLineAudit
    ) async throws -> Report {
        let plan = self.plan(snapshot)
        let write = { () async throws -> Report in
            let counts = try await OvaWebImportWriter(database: store.database).write(plan.rows, dryRun: dryRun)
            return Report(
                counts: counts, skipped: plan.skipped, sessionCount: snapshot.sessionCount,
                absentTables: snapshot.absentTables, dryRun: dryRun
            )
        }
        guard !dryRun else { return try await write() }
        let target = String("ova_web:\(source)".prefix(255))
        return try await audit.run(.importOvaWeb, failedTarget: target, target: { _ in target }, detail: \.auditDetail) {
            try await write()
        }
    }
}
