import NIOCore

/// One message on the wire: `u32 length` (big-endian, bytes of payload only), `u32 call id`
/// (big-endian), then `length` bytes of payload. The server answers each frame with one frame
/// carrying the same call id and payload.
public struct Frame: Sendable {
    public var id: UInt32
    public var payload: ByteBuffer

    public init(id: UInt32, payload: ByteBuffer) {
        self.id = id
        self.payload = payload
    }

    public static let headerBytes = 8
    /// Longest payload either side accepts; a longer frame closes the connection.
    public static let maxPayload = 16 << 20
}

public struct FrameTooLong: Error, CustomStringConvertible {
    public let length: Int
    public var description: String { "frame of \(self.length) B exceeds \(Frame.maxPayload) B" }
}

/// Splits the byte stream into ``Frame``s; throws ``FrameTooLong`` (which closes the channel)
/// as soon as a header announces more than `maxPayload` bytes.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame
    public let maxPayload: Int

    public init(maxPayload: Int = Frame.maxPayload) {
        self.maxPayload = maxPayload
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= self.maxPayload else { throw FrameTooLong(length: Int(length)) }
        guard
            let id = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self),
            let payload = buffer.getSlice(at: buffer.readerIndex + Frame.headerBytes, length: Int(length))
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerBytes + Int(length))
        context.fireChannelRead(Self.wrapInboundOut(Frame(id: id, payload: payload)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Writes a ``Frame`` as header + payload into one buffer (one TLS record per flush).
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        out.reserveCapacity(minimumWritableBytes: Frame.headerBytes + data.payload.readableBytes)
        out.writeInteger(UInt32(data.payload.readableBytes))
        out.writeInteger(data.id)
        out.writeImmutableBuffer(data.payload)
    }
}
