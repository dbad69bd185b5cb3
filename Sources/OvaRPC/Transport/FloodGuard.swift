import NIOCore

/// The flood limits of one connection (docs/PROTOCOL.md §13): frames a peer can send at no
/// cost to itself but some to us are admitted from token buckets; an empty bucket is a
/// connection error.
///
/// Three budgets, because their legitimate rates differ by orders of magnitude: PINGs (a client
/// needs about one per second), control frames that carry no work (ACKs, unknown types, tiny
/// window updates, RESETs of streams that are gone), and calls cancelled while their handler
/// runs — the one that costs real work (the HTTP/2 "rapid reset" attack).
struct FloodGuard {
    private var pings: TokenBucket
    private var controlFrames: TokenBucket
    private var cancellations: TokenBucket

    init(limits: ConnectionLimits, now: NIODeadline) {
        self.pings = TokenBucket(capacity: limits.pingBurst, perSecond: limits.pingsPerSecond, now: now)
        self.controlFrames = TokenBucket(capacity: limits.controlFrameBurst, perSecond: limits.controlFramesPerSecond, now: now)
        self.cancellations = TokenBucket(capacity: limits.resetBurst, perSecond: limits.resetsPerSecond, now: now)
    }

    mutating func admitPing(now: NIODeadline) throws(ConnectionViolation) {
        guard self.pings.take(now: now) else {
            throw ConnectionViolation(code: .resourceExhausted, message: "too many PING frames")
        }
    }

    /// `count` frames that cost a lookup and nothing else.
    mutating func admitControlFrames(_ count: Int = 1, now: NIODeadline) throws(ConnectionViolation) {
        guard count > 0 else { return }
        guard self.controlFrames.take(count, now: now) else {
            throw ConnectionViolation(code: .resourceExhausted, message: "too many control frames")
        }
    }

    /// A call cancelled by the peer while its handler was running.
    mutating func admitCancellation(now: NIODeadline) throws(ConnectionViolation) {
        guard self.cancellations.take(now: now) else {
            throw ConnectionViolation(code: .resourceExhausted, message: "too many RESET frames")
        }
    }

    /// Whether a RESET that cancels a running call is the client's own deadline firing (§10):
    /// at least 90 % of the timeout it sent has elapsed since the HEADERS arrived. The client
    /// starts its clock before sending, so its deadline fires a little before ours.
    static func isDeadlineCancellation(openedAt: NIODeadline, deadline: NIODeadline?, now: NIODeadline) -> Bool {
        guard let deadline else { return false }
        let timeout = (deadline - openedAt).nanoseconds
        let elapsed = (now - openedAt).nanoseconds
        return elapsed * 10 >= timeout * 9
    }

    /// WINDOW_UPDATE increments below this count as control frames: a receiver that follows
    /// §9 batches its credit (silly-window avoidance) and never needs a stream of tiny ones.
    static let smallWindowUpdate = 1024
}

/// A violation that ends the connection with GOAWAY(code, message).
struct ConnectionViolation: Error {
    var code: StatusCode
    var message: String
}
