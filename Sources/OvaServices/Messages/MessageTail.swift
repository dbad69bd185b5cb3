import Logging
import OvaStore
import Synchronization

/// Brings messages sent through any ova-server on the database to this server's watchers.
///
/// While at least one `WatchMessages` stream is open, it reads the messages newer than the
/// newest it has seen every ``interval`` and hands each to the ``MessageBroadcaster`` once. A
/// message sent through this server is handed over at once by ``deliver(_:)``; the poll then
/// skips it. Ids are assigned at INSERT and become visible at COMMIT, so two messages
/// committing together can appear out of id order: each poll also rereads the last
/// ``lookbackIDs`` ids below the newest, which catches a message committed just after a newer
/// one was seen. Polling (not a trigger or the binary log) keeps this portable to SQLite and to
/// any MariaDB or MySQL, and costs one indexed range read per interval per instance, only while
/// someone watches (docs/ARCHITECTURE.md).
public final class MessageTail: Sendable {
    /// How often the database is read while someone watches.
    public let interval: Duration
    /// How far below the newest id each poll looks again.
    public let lookbackIDs: Int64 = 100
    private let repository: ContactMessageRepository
    private let broadcaster: MessageBroadcaster
    private let logger: Logger
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        /// The newest id seen; nil while nobody watches (the next watcher starts from now).
        var newest: Int64?
        /// The newest id when watching began: older messages were sent before any watch.
        var horizon: Int64 = 0
        /// Ids handed to the broadcaster that a later poll may meet again.
        var delivered: Set<Int64> = []
    }

    public init(repository: ContactMessageRepository, broadcaster: MessageBroadcaster, interval: Duration = .milliseconds(200), logger: Logger) {
        self.repository = repository
        self.broadcaster = broadcaster
        self.interval = interval
        self.logger = logger
    }

    /// Starts polling in a task of its own, until ``stop()``.
    public func start() {
        let task = Task { await self.run() }
        self.task.withLock { $0 = task }
    }

    /// Stops polling (the server is shutting down).
    public func stop() {
        self.task.withLock { $0 }?.cancel()
    }

    /// A watch starts after message `id`: the poll hands over everything newer (it may have
    /// started later, or from a newer point).
    public func begin(from id: Int64) {
        self.state.withLock { state in
            if state.newest == nil {
                state.newest = id
                state.horizon = id
            } else {
                state.horizon = min(state.horizon, id)
            }
        }
    }

    /// Hands a message sent through this server to the watchers now (once: the poll that meets
    /// it later skips it).
    public func deliver(_ message: ContactMessageRecord) {
        let isNew = self.state.withLock { $0.delivered.insert(message.id).inserted }
        if isNew { self.broadcaster.publish(message) }
    }

    private func run() async {
        while !Task.isCancelled {
            do {
                try await self.poll()
            } catch {
                self.logger.warning("could not read new contact messages for WatchMessages", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: self.interval)
        }
    }

    /// One read of the messages after the newest seen (and the lookback below it).
    func poll() async throws(StoreError) {
        guard self.broadcaster.watcherCount > 0 else {
            self.state.withLock { $0 = State() }
            return
        }
        guard let newest = self.state.withLock({ $0.newest }) else {
            let start = try await self.repository.maxID()
            self.state.withLock { state in
                if state.newest == nil {
                    state.newest = start
                    state.horizon = start
                }
            }
            return
        }
        let floor = max(0, newest - self.lookbackIDs)
        let rows = try await self.repository.batch(afterID: floor, unreadOnly: false, limit: 1_000)
        let fresh = self.state.withLock { state -> [ContactMessageRecord] in
            var fresh: [ContactMessageRecord] = []
            for row in rows where row.id > state.horizon && state.delivered.insert(row.id).inserted {
                fresh.append(row)
            }
            state.newest = max(state.newest ?? 0, rows.last?.id ?? 0)
            // What the next lookback cannot meet again can be forgotten.
            let lowest = (state.newest ?? 0) - self.lookbackIDs
            state.delivered = state.delivered.filter { $0 > lowest }
            return fresh
        }
        for message in fresh {
            self.broadcaster.publish(message)
        }
    }
}
