import Synchronization

/// Counters the Status service and logs read; updated without locks.
public final class ServerMetrics: Sendable {
    private let active = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)

    public init() {}

    /// Calls in progress.
    public var activeCalls: Int { self.active.load(ordering: .relaxed) }
    /// Calls started since the server started.
    public var totalCalls: Int { self.total.load(ordering: .relaxed) }
    /// Open client connections.
    public var openConnections: Int { self.connections.load(ordering: .relaxed) }
    /// Handler writes suspended right now because the peer does not take what they send (its
    /// flow-control window, a socket that is not writable, or the connection buffer).
    public var waitingWriters: Int { self.waiting.load(ordering: .relaxed) }

    func writerWaits(_ delta: Int) {
        self.waiting.add(delta, ordering: .relaxed)
    }

    func callStarted() {
        self.active.add(1, ordering: .relaxed)
        self.total.add(1, ordering: .relaxed)
    }

    func callEnded() {
        self.active.subtract(1, ordering: .relaxed)
    }

    func connectionOpened() -> Int {
        self.connections.add(1, ordering: .relaxed).newValue
    }

    func connectionClosed() {
        self.connections.subtract(1, ordering: .relaxed)
    }
}
