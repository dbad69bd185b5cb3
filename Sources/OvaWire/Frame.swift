import NIOCore

/// The 9-byte header that precedes every frame (docs/PROTOCOL.md, "Frame layout").
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-----------------------------------------------+---------------+
/// |                 Length (24)                   |   Type (8)    |
/// +---------------+---------------+---------------+---------------+
/// |   Flags (8)   |R|               Stream ID (31)                |
/// +---------------+-+---------------------------------------------+
/// |                   Payload (Length bytes) ...
/// ```
public struct FrameHeader: Hashable, Sendable {
    public static let size = 9
    public var length: Int
    public var type: UInt8
    public var flags: FrameFlags
    public var streamID: UInt32

    public init(length: Int, type: UInt8, flags: FrameFlags, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }
}

/// Frame type codes. Receivers ignore frames of unknown type (after checking their length).
public enum FrameType: UInt8, Sendable, CaseIterable {
    case settings = 0x0
    case headers = 0x1
    case message = 0x2
    case halfClose = 0x3
    case trailers = 0x4
    case reset = 0x5
    case windowUpdate = 0x6
    case ping = 0x7
    case goAway = 0x8
}

/// Frame flags. Meaning depends on the frame type; undefined flags must be zero when sent and
/// are ignored when received.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// SETTINGS, PING: this frame acknowledges the peer's.
    public static let ack = FrameFlags(rawValue: 0x01)
    /// HEADERS (request), MESSAGE: the client sends nothing more on this stream (half-close).
    public static let endStream = FrameFlags(rawValue: 0x01)
    /// MESSAGE: the message continues in the next MESSAGE frame of the same stream.
    public static let continued = FrameFlags(rawValue: 0x02)
}

/// The connection preface a client sends before its first frame: `OVA1\r\n\x1a\n`.
public enum ConnectionPreface {
    public static let bytes: [UInt8] = [0x4F, 0x56, 0x41, 0x31, 0x0D, 0x0A, 0x1A, 0x0A]
}

/// Settings a peer declares about what it is willing to receive. Each side sends exactly one
/// SETTINGS frame, as its first frame, and acknowledges the peer's.
public struct Settings: Hashable, Sendable {
    /// Largest frame payload the sender accepts. 16,384 ... 16,777,215.
    public var maxFrameSize: Int = 65_536
    /// Streams the peer may have open towards the sender at once.
    public var maxConcurrentStreams: Int = 1_024
    /// Initial flow-control window of every stream, in MESSAGE payload bytes. ≤ 2^31-1.
    public var initialStreamWindow: Int = 1 << 20
    /// Initial flow-control window of the connection, in MESSAGE payload bytes. ≤ 2^31-1.
    public var initialConnectionWindow: Int = 16 << 20
    /// Largest reassembled message the sender accepts.
    public var maxMessageSize: Int = 4 << 20
    /// Largest metadata block (HEADERS or TRAILERS) the sender accepts.
    public var maxMetadataSize: Int = 16 << 10

    public init() {}

    /// Setting identifiers on the wire.
    public enum Identifier: UInt16, Sendable, CaseIterable {
        case maxFrameSize = 0x1
        case maxConcurrentStreams = 0x2
        case initialStreamWindow = 0x3
        case initialConnectionWindow = 0x4
        case maxMessageSize = 0x5
        case maxMetadataSize = 0x6
    }

    public static let minFrameSize = 16_384
    public static let maxFrameSizeLimit = (1 << 24) - 1
    public static let maxWindow = Int(Int32.max)
}

/// The payload of a client's HEADERS frame: it opens a call.
public struct RequestHeaders: Hashable, Sendable {
    /// `package.Service/Method`, e.g. `ova.v1.Echo/Unary`.
    public var path: String
    /// Relative timeout in microseconds; `nil` (0 on the wire) means no deadline.
    public var timeoutMicroseconds: UInt64?

    /// The largest timeout a server accepts: 100 days (docs/PROTOCOL.md §10). Larger values are
    /// a stream error (INVALID_ARGUMENT), never silently clamped.
    public static let maxTimeoutMicroseconds: UInt64 = 100 * 86_400 * 1_000_000
    public var metadata: Metadata

    public init(path: String, timeoutMicroseconds: UInt64? = nil, metadata: Metadata = Metadata()) {
        self.path = path
        self.timeoutMicroseconds = timeoutMicroseconds
        self.metadata = metadata
    }
}

/// The payload of a TRAILERS frame: the end of a call.
public struct Trailers: Hashable, Sendable {
    public var code: StatusCode
    public var message: String
    /// A serialized `ova.v1.ErrorDetails` message, or empty.
    public var details: [UInt8]
    public var metadata: Metadata

    public init(code: StatusCode, message: String = "", details: [UInt8] = [], metadata: Metadata = Metadata()) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
    }
}

/// One decoded frame.
public enum Frame: Hashable, Sendable {
    case settings(Settings)
    case settingsAck
    /// Client to server: open a call. `endStream` means the client sends no messages.
    case requestHeaders(streamID: UInt32, RequestHeaders, endStream: Bool)
    /// Server to client: the call's initial metadata (optional; at most once, before any message).
    case responseHeaders(streamID: UInt32, Metadata)
    /// A message or a fragment of one. Flags: `.endStream` (client only), `.continued`.
    case message(streamID: UInt32, payload: ByteBuffer, flags: FrameFlags)
    /// Client to server: no more messages.
    case halfClose(streamID: UInt32)
    /// Server to client: the call's final status.
    case trailers(streamID: UInt32, Trailers)
    /// Either direction: abandon the stream now.
    case reset(streamID: UInt32, code: StatusCode)
    /// Either direction; stream 0 is the connection window.
    case windowUpdate(streamID: UInt32, increment: UInt32)
    case ping(data: UInt64, ack: Bool)
    case goAway(lastStreamID: UInt32, code: StatusCode, debugMessage: String)
}

/// Which end of the connection a codec serves: it decides how HEADERS payloads are read and
/// whether the connection preface is expected.
public enum ConnectionRole: Sendable {
    case client
    case server
}

/// A violation of the wire protocol found while decoding. Every case is a connection error:
/// the receiver sends GOAWAY with ``statusCode`` and closes (docs/PROTOCOL.md, "Errors").
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case badPreface
        case frameTooLarge(length: Int, limit: Int)
        case metadataTooLarge(length: Int, limit: Int)
        case malformedFrame
        case invalidStreamID
        case invalidMetadataKey
        case invalidUTF8
        case invalidSetting
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The GOAWAY code for this error.
    public var statusCode: StatusCode {
        switch self.kind {
        case .frameTooLarge, .metadataTooLarge: return .resourceExhausted
        default: return .internalError
        }
    }

    public var description: String { self.detail }
}
