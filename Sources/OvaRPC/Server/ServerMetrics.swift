import Synchronization

/// Counters the Status service and logs read; updated without locks.
public final class ServerMetrics: Sendable {
    private let active = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)
    private let stalls = Atomic<Int>(0)
    private let received = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)

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
    /// Handler writes that have had to wait since the server started (see ``waitingWriters``).
    public var writerStalls: Int { self.stalls.load(ordering: .relaxed) }
    /// Bytes read from client sockets since the server started, TLS records included (counted
    /// only with ``RPCServer/Configuration/countsBytes``).
    public var bytesReceived: Int { self.received.load(ordering: .relaxed) }
    /// Bytes written to client sockets since the server started, TLS records included (counted
    /// only with ``RPCServer/Configuration/countsBytes``).
    public var bytesSent: Int { self.sent.load(ordering: .relaxed) }

    func writerWaits(_ delta: Int) {
        self.waiting.add(delta, ordering: .relaxed)
        if delta > 0 { self.stalls.add(delta, ordering: .relaxed) }
    }

    func bytesReceived(_ count: Int) {
        self.received.add(count, ordering: .relaxed)
    }

    func bytesSent(_ count: Int) {
        self.sent.add(count, ordering: .relaxed)
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
