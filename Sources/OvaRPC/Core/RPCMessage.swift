import NIOCore

/// What the runtime can send and receive: anything that encodes to and decodes from bytes.
///
/// Generated protobuf messages conform through ``ProtobufMessage``; ``RawMessage`` carries
/// already-encoded bytes (for tools that work from descriptors, like `ova call`).
public protocol RPCMessage: Sendable {
    /// Decodes a received message.
    ///
    /// - Throws: any error; the runtime reports it as INVALID_ARGUMENT (server) or INTERNAL
    ///   (client).
    init(rpcPayload: ByteBuffer) throws

    /// Appends the encoded message to `buffer`.
    func encodeRPCPayload(into buffer: inout ByteBuffer)
}

extension RPCMessage where Self: ProtobufMessage {
    // Inlinable, so that generated messages get specialized decoding and encoding.
    @inlinable
    public init(rpcPayload: ByteBuffer) throws {
        try self.init(serializedBytes: rpcPayload)
    }

    @inlinable
    public func encodeRPCPayload(into buffer: inout ByteBuffer) {
        self.serialize(into: &buffer)
    }
}

/// An already-encoded message.
public struct RawMessage: RPCMessage, Hashable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(rpcPayload: ByteBuffer) throws {
        self.bytes = Array(rpcPayload.readableBytesView)
    }

    public func encodeRPCPayload(into buffer: inout ByteBuffer) {
        buffer.writeBytes(self.bytes)
    }
}
