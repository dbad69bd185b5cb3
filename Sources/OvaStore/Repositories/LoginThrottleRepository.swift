/// Each throttle key's recent failed logins, shared by every ova-server on the database.
///
/// The rules (how many failures lock a key, for how long) are the caller's; this stores a key's
/// history and changes it atomically: ``update(key:now:_:)`` reads the row under its lock, so
/// failures counted by several instances at once all add up.
public struct LoginThrottleRepository: Sendable {
    let database: Database

    /// A key's history as stored; times are Unix milliseconds.
    public struct Record: Sendable, Equatable {
        /// Recent failures, oldest first.
        public var failures: [Int64]
        /// When the lock ends; 0 when not locked.
        public var lockedUntil: Int64

        public init(failures: [Int64] = [], lockedUntil: Int64 = 0) {
            self.failures = failures
            self.lockedUntil = lockedUntil
        }
    }

    /// The history of `key`; nil when there is none.
    public func record(key: String) async throws(StoreError) -> Record? {
        try await self.database.read { connection throws(StoreError) in
            try connection.query("SELECT failures_ms, locked_until_ms FROM login_throttle WHERE throttle_key = ?", [.text(key)])
                .first.map(Self.record)
        }
    }

    /// Replaces the history of `key` by `change` applied to it, in one transaction; a nil result
    /// deletes the row. Returns what was stored.
    @discardableResult
    public func update(key: String, now: Int64, _ change: @escaping @Sendable (Record?) -> Record?) async throws(StoreError) -> Record? {
        try await self.database.write { connection throws(StoreError) in
            // The row first, so that the locking read below locks a row and not a gap (two
            // InnoDB gap locks on one absent key deadlock at their INSERTs).
            try connection.run(
                connection.dialect.insertKeepingExisting(
                    "INSERT INTO login_throttle (throttle_key, failures_ms, locked_until_ms, updated_at_ms) VALUES (?, '', 0, ?)",
                    key: "throttle_key"
                ),
                [.text(key), .integer(now)]
            )
            let row = try connection.query(
                "SELECT failures_ms, locked_until_ms FROM login_throttle WHERE throttle_key = ?\(connection.dialect.lockingRead)", [.text(key)]
            ).first
            let current = row.map(Self.record).flatMap { $0.failures.isEmpty && $0.lockedUntil == 0 ? nil : $0 }
            guard let next = change(current) else {
                try connection.run("DELETE FROM login_throttle WHERE throttle_key = ?", [.text(key)])
                return nil
            }
            try connection.run(
                "UPDATE login_throttle SET failures_ms = ?, locked_until_ms = ?, updated_at_ms = ? WHERE throttle_key = ?",
                [.text(next.failures.map(String.init).joined(separator: ",")), .integer(next.lockedUntil), .integer(now), .text(key)]
            )
            return next
        }
    }

    /// Forgets `key` (after a successful login).
    public func delete(key: String) async throws(StoreError) {
        try await self.database.write { connection throws(StoreError) in
            try connection.run("DELETE FROM login_throttle WHERE throttle_key = ?", [.text(key)])
        }
    }

    /// Deletes histories unchanged since `before` whose lock (if any) has ended by `now`;
    /// returns how many.
    @discardableResult
    public func purge(unchangedBefore before: Int64, now: Int64) async throws(StoreError) -> Int {
        try await self.database.write { connection throws(StoreError) in
            try connection.run("DELETE FROM login_throttle WHERE updated_at_ms < ? AND locked_until_ms <= ?", [.integer(before), .integer(now)])
        }
    }

    private static func record(_ row: SQLRow) -> Record {
        Record(failures: row.string(0).split(separator: ",").compactMap { Int64($0) }, lockedUntil: row.int64(1))
    }
}
