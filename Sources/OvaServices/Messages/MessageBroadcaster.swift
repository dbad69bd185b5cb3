import OvaStore
import Synchronization

/// Fans new contact messages out to every `WatchMessages` stream.
///
/// Each watcher has a bounded buffer: an administrator whose connection stalls loses the
/// oldest undelivered notifications (the messages stay in the database) instead of making
/// the server buffer without bound.
public final class MessageBroadcaster: Sendable {
    public static let bufferPerWatcher = 256

    private struct State {
        var watchers: [Int: AsyncStream<ContactMessageRecord>.Continuation] = [:]
        var nextID = 0
        /// Callers of `waitForWatchers`, with the count each waits for.
        var countWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of messages published from now on; it ends when `finishAll` is called.
    /// Dropping the stream (ending the iteration) unsubscribes.
    public func subscribe() -> AsyncStream<ContactMessageRecord> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ContactMessageRecord.self,
            bufferingPolicy: .bufferingNewest(Self.bufferPerWatcher)
        )
        let (id, ready) = self.state.withLock { state in
            defer { state.nextID += 1 }
            state.watchers[state.nextID] = continuation
            let count = state.watchers.count
            let ready = state.countWaiters.filter { $0.count <= count }.map(\.continuation)
            state.countWaiters.removeAll { $0.count <= count }
            return (state.nextID, ready)
        }
        for waiter in ready { waiter.resume() }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ message: ContactMessageRecord) {
        let watchers = self.state.withLock { Array($0.watchers.values) }
        for watcher in watchers {
            watcher.yield(message)
        }
    }

    public var watcherCount: Int {
        self.state.withLock { $0.watchers.count }
    }

    /// Returns once at least `count` watchers are subscribed: from then on a published message
    /// reaches them (tests wait on this instead of polling).
    public func waitForWatchers(atLeast count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state in
                guard state.watchers.count < count else { return true }
                state.countWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Ends every watch (server shutdown).
    public func finishAll() {
        let watchers = self.state.withLock { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers {
            watcher.finish()
        }
    }
}
