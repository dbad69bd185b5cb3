import Logging
import NIOCore
import Synchronization

/// Everything a handler knows about its call besides the messages.
public final class ServerContext: Sendable {
    public let method: MethodDescriptor
    public let requestMetadata: Metadata
    /// The client's address, e.g. `127.0.0.1:53412`.
    public let peerAddress: String
    /// When the call times out, if the client set a deadline.
    public let deadline: NIODeadline?
    private let connectionID: String
    private let streamID: UInt32
    private let baseLogger: Logger

    /// Unique per call; logged with every line about it and returned in failed calls' trailers.
    /// (Built on demand: most successful calls never need it.)
    public var requestID: String {
        "\(self.connectionID)-\(self.streamID)"
    }

    /// A logger carrying `request_id` and `method`. Each access builds one; keep it in a local.
    public var logger: Logger {
        var logger = self.baseLogger
        logger[metadataKey: "request_id"] = "\(self.requestID)"
        logger[metadataKey: "method"] = "\(self.method.path)"
        return logger
    }
    /// Values that interceptors attach for handlers (e.g. the authenticated principal).
    public let attributes = ContextAttributes()

    private let initial = Mutex(Metadata())
    private let trailing = Mutex(Metadata())

    init(
        method: MethodDescriptor,
        requestMetadata: Metadata,
        peerAddress: String,
        connectionID: String,
        streamID: UInt32,
        deadline: NIODeadline?,
        logger: Logger
    ) {
        self.method = method
        self.requestMetadata = requestMetadata
        self.peerAddress = peerAddress
        self.connectionID = connectionID
        self.streamID = streamID
        self.deadline = deadline
        self.baseLogger = logger
    }

    /// Adds metadata to the response's initial metadata (HEADERS), sent just before the
    /// response of a unary or client-streaming call. A streaming handler sends its own with
    /// `RPCResponseWriter.writeMetadata` instead.
    public func addInitialMetadata(_ value: String, forKey key: String) {
        self.initial.withLock { $0.addString(value, forKey: key) }
    }

    var initialMetadata: Metadata {
        self.initial.withLock { $0 }
    }

    /// Adds metadata to the call's trailers.
    public func addTrailingMetadata(_ value: String, forKey key: String) {
        self.trailing.withLock { $0.addString(value, forKey: key) }
    }

    var trailingMetadata: Metadata {
        self.trailing.withLock { $0 }
    }
}

/// A key for ``ContextAttributes``.
public protocol ContextAttributeKey {
    associatedtype Value: Sendable
}

/// Typed values attached to a call by interceptors.
public final class ContextAttributes: Sendable {
    private let values = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public subscript<Key: ContextAttributeKey>(key: Key.Type) -> Key.Value? {
        get { self.values.withLock { $0[ObjectIdentifier(key)] as? Key.Value } }
        set { self.values.withLock { $0[ObjectIdentifier(key)] = newValue } }
    }
}
