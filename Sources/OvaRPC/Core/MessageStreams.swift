import NIOCore

/// Received messages of one call, in order: a server handler's requests
/// (``RPCRequestStream``) or a client's responses (``RPCResponseStream``).
///
/// Iteration ends at the peer's half-close (server) or OK trailers (client); it throws
/// ``RPCError`` when the call fails (the server's status, a deadline, a cancellation, or a
/// message that does not decode).
///
/// Performance: the iterator's `next()` runs on the caller's executor and returns an already
/// received message without suspending. `for try await` instead goes through the standard
/// library's `next(isolation:)`, which from a task without actor isolation switches to the
/// generic executor for every element; when NIO's event loops are Swift's global executor
/// that is one re-enqueue of the task per message. A hot loop can call the iterator directly:
///
/// ```swift
/// var iterator = responses.makeAsyncIterator()
/// while let response = try await iterator.next() { … }
/// ```
public struct RPCMessageStream<Message: RPCMessage>: AsyncSequence, Sendable {
    public typealias Element = Message

    let inbound: InboundMessages
    /// The status reported when a message fails to decode.
    let decodeFailureCode: StatusCode

    init(inbound: InboundMessages, decodeFailureCode: StatusCode) {
        self.inbound = inbound
        self.decodeFailureCode = decodeFailureCode
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbound: InboundMessages
        let decodeFailureCode: StatusCode

        public mutating func next() async throws -> Message? {
            guard let payload = try await self.inbound.next() else { return nil }
            do {
                return try Message(rpcPayload: payload)
            } catch {
                throw RPCError.decodeFailure(error, of: Message.self, code: self.decodeFailureCode)
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inbound: self.inbound, decodeFailureCode: self.decodeFailureCode)
    }

    /// A client's view: the response's initial metadata, what the handler sent with
    /// `writeMetadata` (or its context's initial metadata) before its first message. Empty
    /// when the server sent none, which it may (docs/PROTOCOL.md §8.3), or when the call failed
    /// first (iterating says how). Waits for the first message or the end of the call at the
    /// most, and takes no message from the stream.
    ///
    /// A server handler's request stream has none: its metadata is in `ServerContext`.
    public var metadata: Metadata {
        get async { await self.inbound.initialMetadata() }
    }
}

/// The single response of a unary or client-streaming call with the metadata the server sent
/// before it (a failed call throws instead).
public struct RPCResponse<Message: RPCMessage>: Sendable {
    /// The response's initial metadata (HEADERS); empty when the server sent none.
    public var metadata: Metadata
    public var message: Message

    public init(metadata: Metadata, message: Message) {
        self.metadata = metadata
        self.message = message
    }
}

/// A server handler's view of the request messages.
public typealias RPCRequestStream<Message: RPCMessage> = RPCMessageStream<Message>
/// A client's view of the response messages.
public typealias RPCResponseStream<Message: RPCMessage> = RPCMessageStream<Message>

/// Encodes a message behind room for a frame header, so the event loop can frame it in place.
func encodeForSending(_ message: some RPCMessage, maxMessageSize: Int) throws -> (ByteBuffer, Int) {
    var buffer = ByteBufferAllocator().buffer(capacity: 64 + FrameHeader.size)
    buffer.moveWriterIndex(forwardBy: FrameHeader.size)
    message.encodeRPCPayload(into: &buffer)
    let size = buffer.readableBytes - FrameHeader.size
    guard size <= maxMessageSize else {
        throw RPCError(
            code: .resourceExhausted,
            message: "message of \(size) bytes exceeds the peer's limit of \(maxMessageSize) bytes"
        )
    }
    return (buffer, size)
}

/// A server handler's writer for response messages (server- and bidi-streaming calls).
///
/// `write` returns once the message is queued; it suspends while the client reads too slowly
/// for the queue to drain (flow control), so a handler can never buffer without bound.
public struct RPCResponseWriter<Message: RPCMessage>: Sendable {
    let sender: MessageSender

    /// Sends one response message.
    ///
    /// - Throws: ``RPCError`` when the call has ended (cancelled, deadline exceeded) or the
    ///   message is larger than the client accepts.
    public func write(_ message: Message) async throws {
        try await self.sender.send(message)
    }

    /// Sends the response's initial metadata. Optional; only before the first message.
    public func writeMetadata(_ metadata: Metadata) async throws {
        try await self.sender.outbound.write(.headers(metadata), bytes: 0)
    }
}

/// A client's writer for request messages (client- and bidi-streaming calls).
public struct RPCRequestWriter<Message: RPCMessage>: Sendable {
    let sender: MessageSender

    /// Sends one request message, suspending while the server's flow-control window is full.
    public func write(_ message: Message) async throws {
        try await self.sender.send(message)
    }

    /// Half-closes: tells the server no more requests follow. Idempotent; done automatically
    /// when the request closure returns.
    public func finish() {
        self.sender.outbound.enqueue(.halfClose)
    }
}

/// What both message writers do with a message: encode it within the peer's size limit and
/// queue it, suspending while the queue is over its watermark.
struct MessageSender: Sendable {
    let outbound: OutboundQueue
    /// The peer's SETTINGS limit on one message.
    let maxMessageSize: Int

    func send(_ message: some RPCMessage) async throws {
        let (buffer, size) = try encodeForSending(message, maxMessageSize: self.maxMessageSize)
        try await self.outbound.write(.message(buffer, endStream: false), bytes: size)
    }
}
