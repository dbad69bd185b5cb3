import NIOCore

/// Limits and timeouts of one connection, for either role.
public struct ConnectionLimits: Sendable {
    /// What this side declares in its SETTINGS frame.
    public var settings = Settings()
    /// Time allowed for TLS + preface + SETTINGS before the connection is closed.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// A connection with no open stream for this long is sent GOAWAY and closed (server side).
    public var idleTimeout: TimeAmount? = .minutes(5)
    /// A connection whose socket stays unwritable this long (the peer reads nothing, not even
    /// its TLS records) is closed, freeing what its calls hold; nil never closes it.
    public var writeStallTimeout: TimeAmount? = .seconds(60)
    /// A server connection open this long (±10 % per connection) is sent GOAWAY(OK), so that
    /// its client reconnects — perhaps to an instance added behind the load balancer since;
    /// nil never. Its calls then have ``maxConnectionAgeGrace`` to finish.
    public var maxConnectionAge: TimeAmount?
    /// How long calls in flight may run after the GOAWAY of ``maxConnectionAge`` before the
    /// connection is closed under them.
    public var maxConnectionAgeGrace: TimeAmount = .seconds(30)
    /// Bytes a task may queue on one stream before `write` suspends.
    public var outboundHighWatermark = 256 * 1024
    /// Bytes all the tasks of one connection may queue, together, before their writes suspend:
    /// what the connection holds for a peer that does not read, whatever windows it advertised
    /// (docs/PROTOCOL.md §13). The socket's own buffer adds at most one flush batch.
    public var maxConnectionBuffer = 2 * 1024 * 1024
    /// PINGs allowed in a burst, and sustained per second, before GOAWAY(RESOURCE_EXHAUSTED).
    public var pingBurst = 20
    public var pingsPerSecond = 10
    /// Frames that cost the receiver work but carry none for it (PING ACK, repeated SETTINGS
    /// ACK, unknown types, tiny WINDOW_UPDATEs, RESETs of streams that are not open), allowed in
    /// a burst and sustained per second.
    public var controlFrameBurst = 1000
    public var controlFramesPerSecond = 100
    /// Calls cancelled by the peer while their handler runs (the rapid-reset attack), allowed in
    /// a burst and sustained per second. Cancellations of calls whose deadline has (nearly)
    /// expired are not counted: that is the client following §10.
    public var resetBurst = 200
    public var resetsPerSecond = 20

    public init() {}
}

/// Counts events in a token bucket with an injectable clock: a flood check that tolerates
/// bursts but not a sustained rate above `perSecond`.
struct TokenBucket {
    private var tokens: Double
    private let capacity: Double
    private let perSecond: Double
    private var last: NIODeadline

    init(capacity: Int, perSecond: Int, now: NIODeadline) {
        self.capacity = Double(capacity)
        self.tokens = Double(capacity)
        self.perSecond = Double(perSecond)
        self.last = now
    }

    /// Takes `count` tokens; false when the bucket does not hold them (the peer is flooding).
    mutating func take(_ count: Int = 1, now: NIODeadline) -> Bool {
        let elapsed = Double((now - self.last).nanoseconds) / 1e9
        self.last = now
        self.tokens = min(self.capacity, self.tokens + max(0, elapsed) * self.perSecond)
        guard self.tokens >= Double(count) else {
            self.tokens = 0
            return false
        }
        self.tokens -= Double(count)
        return true
    }
}
