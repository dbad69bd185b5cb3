import NIOCore

/// Limits and timeouts of one connection, for either role.
public struct ConnectionLimits: Sendable {
    /// What this side declares in its SETTINGS frame.
    public var settings = Settings()
    /// Time allowed for TLS + preface + SETTINGS before the connection is closed.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// A connection with no open stream for this long is sent GOAWAY and closed (server side).
    public var idleTimeout: TimeAmount? = .minutes(5)
    /// Bytes a task may queue on one stream before `write` suspends.
    public var outboundHighWatermark = 256 * 1024
    /// PINGs allowed in a burst, and sustained per second, before GOAWAY(RESOURCE_EXHAUSTED).
    public var pingBurst = 20
    public var pingsPerSecond = 10
    /// RESET frames accepted per 10 seconds before GOAWAY(RESOURCE_EXHAUSTED).
    public var maxResetsPerTenSeconds = 100

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

    /// Takes a token; false when the bucket is empty (the peer is flooding).
    mutating func take(now: NIODeadline) -> Bool {
        let elapsed = Double((now - self.last).nanoseconds) / 1e9
        self.last = now
        self.tokens = min(self.capacity, self.tokens + max(0, elapsed) * self.perSecond)
        guard self.tokens >= 1 else { return false }
        self.tokens -= 1
        return true
    }
}
