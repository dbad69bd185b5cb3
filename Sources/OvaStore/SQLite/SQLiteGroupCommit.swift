import Synchronization

/// The writes waiting for SQLite's storage thread, committed together: group commit.
///
/// A commit costs SQLite far more than an INSERT does (the WAL frame, and at every checkpoint
/// the fsyncs), so when writers queue up while the storage thread is busy, the thread commits
/// all of them (up to ``maximumGroupSize``) in one transaction. Each write keeps the
/// semantics of a transaction of its own:
/// - its body runs under its own SAVEPOINT, so a body that throws is rolled back to it alone
///   and its caller gets its error, while the group goes on;
/// - a caller whose body returned is answered only after the group's COMMIT succeeded, so no
///   write is acknowledged before it is durable as far as the connection's settings make it;
///   if the COMMIT fails, every such write in the group fails with the COMMIT's error.
/// A write alone on an idle thread is a group of one: one BEGIN, its body, one COMMIT.
final class SQLiteGroupCommit: Sendable {
    /// The most writes one transaction takes, so that a long queue does not hold every
    /// caller (and the reads queued behind the group) until all of it is committed.
    static let maximumGroupSize = 64

    private let pending = Mutex<[any GroupedWrite]>([])
    private let counters = Mutex(Statistics())

    /// How many groups and writes were committed or failed, for tests (a write that is
    /// committed in a group of several is how a test knows the group formed).
    struct Statistics: Sendable, Equatable {
        /// Transactions that were opened for a group (committed or not).
        var groups = 0
        /// The size of the largest group so far.
        var largestGroup = 0
    }

    var statistics: Statistics {
        self.counters.withLock { $0 }
    }

    /// Queues `body`; `answer` is called once, after the group it joins is committed (or with
    /// the error that failed it). The caller must then make sure ``commitPending(on:)`` runs
    /// on the storage thread after this call (the backend submits one job per write).
    func enqueue<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T,
        answer: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        let write = PendingWrite(body: body, answer: answer)
        self.pending.withLock { $0.append(write) }
    }

    /// Fails every queued write with `error` (the storage thread has stopped).
    func failPending(_ error: StoreError) {
        let writes = self.pending.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for write in writes {
            write.fail(error)
        }
    }

    /// Commits the writes queued so far (at most ``maximumGroupSize``) in one transaction.
    /// Runs on the storage thread only; does nothing when an earlier job took them.
    func commitPending(on connection: SQLiteConnection) {
        let group = self.pending.withLock { pending -> [any GroupedWrite] in
            let count = min(pending.count, Self.maximumGroupSize)
            defer { pending.removeFirst(count) }
            return Array(pending.prefix(count))
        }
        guard !group.isEmpty else { return }
        self.counters.withLock {
            $0.groups += 1
            $0.largestGroup = max($0.largestGroup, group.count)
        }
        Self.commit(group, on: connection)
    }

    private static func commit(_ group: [any GroupedWrite], on connection: SQLiteConnection) {
        var remaining = group[...]
        // Writes whose body returned, answered after the COMMIT.
        var performed: [any GroupedWrite] = []
        while !remaining.isEmpty {
            do {
                try connection.executeCached("BEGIN IMMEDIATE")
            } catch {
                for write in remaining { write.fail(error) }
                return
            }
            while let write = remaining.popFirst() {
                do {
                    try connection.executeCached("SAVEPOINT ova_write")
                } catch {
                    write.fail(error)
                    continue
                }
                do {
                    try write.perform(on: connection)
                    try connection.executeCached("RELEASE ova_write")
                    performed.append(write)
                } catch {
                    write.fail(error)
                    if connection.isInTransaction, (try? connection.executeCached("ROLLBACK TO ova_write")) != nil,
                        (try? connection.executeCached("RELEASE ova_write")) != nil
                    {
                        continue
                    }
                    // SQLite rolled the whole transaction back (an I/O error, a full disk) or
                    // cannot undo this write alone: what the group did so far is gone, so its
                    // writes fail too, and the rest start a new transaction.
                    try? connection.executeCached("ROLLBACK")
                    for lost in performed { lost.fail(error) }
                    performed.removeAll()
                    break
                }
            }
        }
        guard connection.isInTransaction else {
            // Every write of the last transaction failed and it was rolled back above.
            return
        }
        do {
            try connection.executeCached("COMMIT")
        } catch {
            try? connection.executeCached("ROLLBACK")
            for write in performed { write.fail(error) }
            return
        }
        for write in performed { write.succeed() }
    }
}

/// A queued write with its result type erased, so one group holds writes of any type.
private protocol GroupedWrite: AnyObject, Sendable {
    /// Runs the body on the storage thread, keeping its result for ``succeed()``.
    func perform(on connection: SQLiteConnection) throws(StoreError)
    /// Answers the caller with the kept result (after the COMMIT).
    func succeed()
    /// Answers the caller with `error`.
    func fail(_ error: any Error)
}

/// `@unchecked Sendable`: `result` is written by ``perform(on:)`` and read by ``succeed()``,
/// both on the storage thread, one after the other; the write is answered exactly once.
private final class PendingWrite<T: Sendable>: GroupedWrite, @unchecked Sendable {
    private let body: @Sendable (any SQLConnection) throws(StoreError) -> T
    private let answer: @Sendable (Result<T, StoreError>) -> Void
    private var result: T?

    init(
        body: @escaping @Sendable (any SQLConnection) throws(StoreError) -> T,
        answer: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        self.body = body
        self.answer = answer
    }

    func perform(on connection: SQLiteConnection) throws(StoreError) {
        self.result = try self.body(connection)
    }

    func succeed() {
        guard let result = self.result else {
            self.answer(.failure(.internalError("a grouped write was answered before it ran")))
            return
        }
        self.result = nil
        self.answer(.success(result))
    }

    func fail(_ error: any Error) {
        self.result = nil
        self.answer(.failure(Database.storeError(error)))
    }
}
