import NIOCore

/// Writes OVA/1 frames (docs/PROTOCOL.md) into `ByteBuffer`s.
///
/// The values come from our own code, not the network, so the encoder does not validate them
/// as strictly as the decoder does. Its rules:
/// - **Length fields are never overrun.** A string longer than its length field allows (a path,
///   status or debug message, or metadata value over 65,535 UTF-8 bytes) is truncated at the last
///   whole character that fits, so it stays valid UTF-8; a binary metadata value over 65,535
///   bytes is truncated to 65,535 bytes; metadata beyond 65,535 entries is dropped.
/// - **Metadata entries the peer would reject are dropped:** an entry whose key fails
///   ``Metadata/isValidKey(_:)`` (empty, longer than 255 bytes, not lower-case `a-z 0-9 - _ .`),
///   and a `.binary` value under a key that does not end in `-bin`. A `.string` value under a
///   `-bin` key is sent as its UTF-8 bytes (the peer decodes it as `.binary`).
///   ``metadataBlockSize(_:)`` applies the same rules, so it is always the number of bytes written.
/// - Settings values are clamped to `0...UInt32.max`; a request timeout of `0` µs, which the wire
///   cannot express (0 means "no deadline"), is sent as 1 µs.
/// - **Programmer errors trap** (`precondition`): a frame payload longer than 16,777,215 bytes
///   (the 24-bit length field). The caller must keep frames within the peer's MAX_FRAME_SIZE
///   anyway, which it can check with ``payloadLength(of:)`` before encoding. Nothing else is
///   checked: e.g. an empty path, a zero WINDOW_UPDATE increment or a stream id on a frame type
///   that must be on stream 0 are written as given (and the peer will reject them).
public enum FrameEncoder {
    /// Writes the 8-byte connection preface (client only, before its first frame).
    public static func writePreface(into buffer: inout ByteBuffer) {
        buffer.writeBytes(ConnectionPreface.bytes)
    }

    /// Writes one frame: its 9-byte header and its payload.
    public static func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        switch frame {
        case .settings(let settings):
            let ids = Settings.Identifier.allCases
            Self.writeHeader(length: ids.count * 6, type: .settings, flags: [], streamID: 0, into: &buffer)
            for id in ids {
                buffer.writeMultipleIntegers(id.rawValue, Self.clampToUInt32(settings.value(for: id)))
            }

        case .settingsAck:
            Self.writeHeader(length: 0, type: .settings, flags: .ack, streamID: 0, into: &buffer)

        case .requestHeaders(let streamID, let headers, let endStream):
            Self.writeVariableFrame(type: .headers, flags: endStream ? .endStream : [], streamID: streamID, into: &buffer) {
                Self.writeString(headers.path, into: &$0)
                let timeout = headers.timeoutMicroseconds.map { max($0, 1) } ?? 0
                $0.writeInteger(timeout)
                Self.writeMetadataBlock(headers.metadata, into: &$0)
            }

        case .responseHeaders(let streamID, let metadata):
            Self.writeVariableFrame(type: .headers, flags: [], streamID: streamID, into: &buffer) {
                Self.writeMetadataBlock(metadata, into: &$0)
            }

        case .message(let streamID, let payload, let flags):
            Self.writeHeader(length: payload.readableBytes, type: .message, flags: flags, streamID: streamID, into: &buffer)
            buffer.writeImmutableBuffer(payload)

        case .halfClose(let streamID):
            Self.writeHeader(length: 0, type: .halfClose, flags: [], streamID: streamID, into: &buffer)

        case .trailers(let streamID, let trailers):
            Self.writeVariableFrame(type: .trailers, flags: [], streamID: streamID, into: &buffer) {
                $0.writeInteger(trailers.code.rawValue)
                Self.writeString(trailers.message, into: &$0)
                $0.writeInteger(UInt32(truncatingIfNeeded: trailers.details.count))
                $0.writeBytes(trailers.details)
                Self.writeMetadataBlock(trailers.metadata, into: &$0)
            }

        case .reset(let streamID, let code):
            Self.writeHeader(length: 4, type: .reset, flags: [], streamID: streamID, into: &buffer)
            buffer.writeInteger(UInt32(code.rawValue))

        case .windowUpdate(let streamID, let increment):
            Self.writeHeader(length: 4, type: .windowUpdate, flags: [], streamID: streamID, into: &buffer)
            buffer.writeInteger(increment)

        case .ping(let data, let ack):
            Self.writeHeader(length: 8, type: .ping, flags: ack ? .ack : [], streamID: 0, into: &buffer)
            buffer.writeInteger(data)

        case .goAway(let lastStreamID, let code, let debugMessage):
            Self.writeVariableFrame(type: .goAway, flags: [], streamID: 0, into: &buffer) {
                $0.writeMultipleIntegers(lastStreamID & FrameDecoder.streamIDMask, UInt32(code.rawValue))
                Self.writeString(debugMessage, into: &$0)
            }
        }
    }

    /// Encodes one frame into a new buffer.
    public static func encode(_ frame: Frame, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: FrameHeader.size + Self.payloadLength(of: frame))
        Self.encode(frame, into: &buffer)
        return buffer
    }

    /// The payload length ``encode(_:into:)`` writes for `frame` (the frame is 9 bytes longer).
    /// Compare it with the peer's MAX_FRAME_SIZE before encoding HEADERS or TRAILERS.
    public static func payloadLength(of frame: Frame) -> Int {
        switch frame {
        case .settings:
            return Settings.Identifier.allCases.count * 6
        case .settingsAck, .halfClose:
            return 0
        case .requestHeaders(_, let headers, _):
            return 2 + Self.utf8Length(headers.path, limit: Self.maxUInt16) + 8 + Self.metadataBlockSize(headers.metadata)
        case .responseHeaders(_, let metadata):
            return Self.metadataBlockSize(metadata)
        case .message(_, let payload, _):
            return payload.readableBytes
        case .trailers(_, let trailers):
            return 1 + 2 + Self.utf8Length(trailers.message, limit: Self.maxUInt16) + 4 + trailers.details.count
                + Self.metadataBlockSize(trailers.metadata)
        case .reset, .windowUpdate:
            return 4
        case .ping:
            return 8
        case .goAway(_, _, let debugMessage):
            return 4 + 4 + 2 + Self.utf8Length(debugMessage, limit: Self.maxUInt16)
        }
    }

    // MARK: - Hot-path helpers

    /// Writes a 9-byte frame header. The reserved bit of the stream id is written as 0.
    ///
    /// - Precondition: `0 <= length <= 16_777_215`.
    @inlinable
    public static func writeHeader(
        length: Int,
        type: FrameType,
        flags: FrameFlags,
        streamID: UInt32,
        into buffer: inout ByteBuffer
    ) {
        precondition(length >= 0 && length <= 0xFF_FFFF, "frame payload length \(length) does not fit in 24 bits")
        buffer.writeMultipleIntegers(
            UInt16(truncatingIfNeeded: length >> 8),
            UInt8(truncatingIfNeeded: length),
            type.rawValue,
            flags.rawValue,
            streamID & 0x7FFF_FFFF
        )
    }

    /// Fills in a 9-byte frame header at `index`, over bytes reserved earlier (e.g. the runtime
    /// reserves 9 bytes, serializes a message after them, then sets the header). Does not move
    /// the reader or writer index.
    ///
    /// - Precondition: `0 <= length <= 16_777_215`, and the 9 bytes at `index` are within the
    ///   buffer's written bytes.
    @inlinable
    public static func setHeader(
        length: Int,
        type: FrameType,
        flags: FrameFlags,
        streamID: UInt32,
        in buffer: inout ByteBuffer,
        at index: Int
    ) {
        precondition(length >= 0 && length <= 0xFF_FFFF, "frame payload length \(length) does not fit in 24 bits")
        precondition(index >= 0 && index + FrameHeader.size <= buffer.writerIndex, "header at \(index) is outside the written bytes")
        buffer.setMultipleIntegers(
            UInt16(truncatingIfNeeded: length >> 8),
            UInt8(truncatingIfNeeded: length),
            type.rawValue,
            flags.rawValue,
            streamID & 0x7FFF_FFFF,
            at: index
        )
    }

    // MARK: - Metadata

    /// The number of bytes ``writeMetadataBlock(_:into:)`` writes for `metadata`: the 2-byte
    /// count plus, per entry that is sent, 1 + key bytes + 2 + value bytes. This is the size the
    /// peer compares with its MAX_METADATA_SIZE.
    public static func metadataBlockSize(_ metadata: Metadata) -> Int {
        var size = 2
        var count = 0
        for (key, value) in metadata where count < Self.maxUInt16 {
            guard let valueLength = Self.encodedValueLength(key: key, value: value) else { continue }
            size += 1 + key.utf8.count + 2 + valueLength
            count += 1
        }
        return size
    }

    /// Writes a metadata block (count u16, then per entry: key length u8, key, value length u16,
    /// value), applying the rules in the type's documentation.
    public static func writeMetadataBlock(_ metadata: Metadata, into buffer: inout ByteBuffer) {
        let countIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        var count = 0
        for (key, value) in metadata where count < Self.maxUInt16 {
            guard Self.encodedValueLength(key: key, value: value) != nil else { continue }
            buffer.writeInteger(UInt8(truncatingIfNeeded: key.utf8.count))
            buffer.writeString(key)
            switch value {
            case .string(let string):
                Self.writeString(string, into: &buffer)
            case .binary(let bytes):
                let length = min(bytes.count, Self.maxUInt16)
                buffer.writeInteger(UInt16(length))
                buffer.writeBytes(bytes.prefix(length))
            }
            count += 1
        }
        buffer.setInteger(UInt16(count), at: countIndex)
    }

    /// Whether the entry is sent, and if so the length of its value on the wire.
    private static func encodedValueLength(key: String, value: Metadata.Value) -> Int? {
        guard Metadata.isValidKey(key.utf8) else { return nil }
        switch value {
        case .string(let string):
            return Self.utf8Length(string, limit: Self.maxUInt16)
        case .binary(let bytes):
            guard Metadata.isBinaryKey(key) else { return nil }
            return min(bytes.count, Self.maxUInt16)
        }
    }

    // MARK: - Strings

    @usableFromInline
    static let maxUInt16 = Int(UInt16.max)

    /// The UTF-8 length of the longest prefix of whole characters (scalars) of `string` that is
    /// at most `limit` bytes long.
    static func utf8Length(_ string: String, limit: Int) -> Int {
        let utf8 = string.utf8
        let count = utf8.count
        guard count > limit else { return count }
        var end = utf8.index(utf8.startIndex, offsetBy: limit)
        // `end` is the first byte left out; if it continues a scalar, leave the whole scalar out.
        while end > utf8.startIndex, UTF8.isContinuation(utf8[end]) {
            utf8.formIndex(before: &end)
        }
        return utf8.distance(from: utf8.startIndex, to: end)
    }

    /// Writes a UTF-8 string after its u16 length, truncated at a character boundary to fit.
    private static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        let length = Self.utf8Length(string, limit: Self.maxUInt16)
        buffer.writeInteger(UInt16(length))
        if length == string.utf8.count {
            buffer.writeString(string)
        } else {
            buffer.writeBytes(string.utf8.prefix(length))
        }
    }

    // MARK: - Frames with a computed length

    /// Reserves the header, writes the payload, then fills the header in.
    private static func writeVariableFrame(
        type: FrameType,
        flags: FrameFlags,
        streamID: UInt32,
        into buffer: inout ByteBuffer,
        payload writePayload: (inout ByteBuffer) -> Void
    ) {
        let headerIndex = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: FrameHeader.size)
        writePayload(&buffer)
        let length = buffer.writerIndex - headerIndex - FrameHeader.size
        Self.setHeader(length: length, type: type, flags: flags, streamID: streamID, in: &buffer, at: headerIndex)
    }

    private static func clampToUInt32(_ value: Int) -> UInt32 {
        UInt32(clamping: value)
    }
}

extension Settings {
    /// The value of one setting.
    public func value(for id: Identifier) -> Int {
        switch id {
        case .maxFrameSize: return self.maxFrameSize
        case .maxConcurrentStreams: return self.maxConcurrentStreams
        case .initialStreamWindow: return self.initialStreamWindow
        case .initialConnectionWindow: return self.initialConnectionWindow
        case .maxMessageSize: return self.maxMessageSize
        case .maxMetadataSize: return self.maxMetadataSize
        }
    }
}
