import NIOCore

/// The lifecycle of one connection, either role, as a pure state machine: the handler reports
/// events and does what the returned decisions say. No I/O, no clock of its own (times come in
/// as arguments), so every rule here is tested without sockets.
///
/// ```
/// awaitingPeerSettings ──SETTINGS──► active ──GOAWAY sent or received──► draining ──no streams──► closed
///          │                            │                                                        ▲
///          └── handshake timeout, protocol violation, idle timeout, channel closed ──────────────┘
/// ```
struct ConnectionStateMachine {
    enum State: Equatable {
        /// Our SETTINGS are out (or about to be); the peer's have not arrived.
        case awaitingPeerSettings
        case active
        /// A GOAWAY was sent, received, or both: no new streams; close once the last one ends.
        case draining(Draining)
        case closed
    }

    struct Draining: Equatable {
        /// The last stream id we accepted when we sent GOAWAY.
        var goAwaySent: UInt32?
        /// The peer's last stream id from its GOAWAY.
        var goAwayReceived: UInt32?
    }

    enum IdleDecision: Equatable {
        /// Nothing to do (streams open, no idle timeout, closed): re-armed when the connection next becomes idle.
        case none
        case rearm(at: NIODeadline)
        case close
    }

    private(set) var state = State.awaitingPeerSettings
    /// When the connection last became idle (no open streams); nil while streams are open.
    private(set) var idleSince: NIODeadline?

    var isClosed: Bool { self.state == .closed }

    var goAwaySent: UInt32? {
        if case .draining(let draining) = self.state { return draining.goAwaySent }
        return nil
    }

    var goAwayReceived: UInt32? {
        if case .draining(let draining) = self.state { return draining.goAwayReceived }
        return nil
    }

    /// A server refuses new streams once it sent GOAWAY; a client opens none after either GOAWAY.
    var acceptsNewStreams: Bool { self.state == .active }

    // MARK: - Settings

    /// The peer's SETTINGS arrived: only valid as its first frame, once.
    mutating func receivedSettings(now: NIODeadline) throws(ConnectionViolation) {
        switch self.state {
        case .awaitingPeerSettings:
            self.state = .active
            self.idleSince = now
        case .active, .draining:
            throw ConnectionViolation(code: .internalError, message: "SETTINGS may be sent only once")
        case .closed:
            break
        }
    }

    /// Any frame other than SETTINGS: a protocol error before the peer's SETTINGS.
    func checkFrameAllowed() throws(ConnectionViolation) {
        if self.state == .awaitingPeerSettings {
            throw ConnectionViolation(code: .internalError, message: "the first frame must be SETTINGS")
        }
    }

    /// The handshake timer fired: close unless the peer's SETTINGS arrived meanwhile.
    func handshakeTimedOut() -> Bool {
        self.state == .awaitingPeerSettings
    }

    // MARK: - GOAWAY

    /// Starts a graceful shutdown; true when a GOAWAY with `lastStreamID` must be sent now.
    mutating func beginGracefulShutdown(lastStreamID: UInt32) -> Bool {
        switch self.state {
        case .awaitingPeerSettings, .active:
            self.state = .draining(Draining(goAwaySent: lastStreamID, goAwayReceived: nil))
            return true
        case .draining(var draining):
            guard draining.goAwaySent == nil else { return false }
            draining.goAwaySent = lastStreamID
            self.state = .draining(draining)
            return true
        case .closed:
            return false
        }
    }

    mutating func receivedGoAway(lastStreamID: UInt32) {
        switch self.state {
        case .awaitingPeerSettings, .active:
            self.state = .draining(Draining(goAwaySent: nil, goAwayReceived: lastStreamID))
        case .draining(var draining):
            draining.goAwayReceived = min(draining.goAwayReceived ?? lastStreamID, lastStreamID)
            self.state = .draining(draining)
        case .closed:
            break
        }
    }

    // MARK: - Streams and idleness

    mutating func streamOpened() {
        self.idleSince = nil
    }

    /// The last open stream ended. Returns true when a draining connection must now close.
    /// A client that received GOAWAY but still has calls waiting to open keeps the connection
    /// until they have failed over (they are failed by the GOAWAY itself).
    mutating func streamsBecameEmpty(now: NIODeadline, hasWaitingOpens: Bool) -> Bool {
        self.idleSince = now
        guard case .draining(let draining) = self.state else { return false }
        if draining.goAwaySent == nil && hasWaitingOpens { return false }
        return true
    }

    /// The idle timer fired at `now`.
    func idleTimerFired(now: NIODeadline, timeout: TimeAmount?, openStreams: Int) -> IdleDecision {
        guard !self.isClosed, openStreams == 0, let timeout, let idleSince = self.idleSince else { return .none }
        let deadline = idleSince + timeout
        return now < deadline ? .rearm(at: deadline) : .close
    }

    // MARK: - End

    mutating func closed() {
        self.state = .closed
        self.idleSince = nil
    }
}
