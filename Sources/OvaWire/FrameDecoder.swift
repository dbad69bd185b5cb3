import NIOCore

/// Decodes the OVA/1 byte stream into ``Frame`` values (docs/PROTOCOL.md).
///
/// A pure value type: no I/O, no allocation beyond the decoded values. MESSAGE payloads are
/// slices of the input buffer (no copy). Use it directly (``decode(buffer:)``) or wrap it in
/// NIO's `ByteToMessageHandler` / `NIOSingleStepByteToMessageProcessor`.
///
/// The decoder faces hostile input. It
/// - with ``ConnectionRole/server``, first requires the 8-byte client preface and fails on the
///   first byte that differs, without waiting for all eight;
/// - never consumes part of a frame: it returns `nil` until a whole frame is buffered;
/// - rejects a frame longer than ``maxFrameSize`` as soon as its 9-byte header is buffered,
///   before any of its payload;
/// - skips frames of unknown type (after the length check) and carries on with the next frame;
/// - checks everything that can be checked without connection state: stream-0 rules, fixed
///   payload sizes, exact consumption of variable payloads, UTF-8, metadata keys, the metadata
///   block limit, setting ranges, the frame direction, the WINDOW_UPDATE increment range.
///
/// Everything that needs connection state (stream id ordering, SETTINGS being first and unique,
/// flow-control windows, MAX_MESSAGE_SIZE, floods) is left to the connection.
///
/// Every error is a ``WireError``, i.e. a connection error: after one, stop decoding.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = Frame

    /// Which end of the connection this decoder serves. `.server` decodes what a client sends
    /// (it expects the preface and reads request HEADERS); `.client` decodes what a server sends.
    public let role: ConnectionRole

    /// Largest accepted frame payload, in bytes. Set it to the value this side advertised in its
    /// SETTINGS (docs/PROTOCOL.md, "When settings take effect").
    public var maxFrameSize: Int

    /// Largest accepted metadata block (HEADERS or TRAILERS), in bytes, counting the whole block:
    /// the 2-byte entry count and every entry's length fields and bytes.
    public var maxMetadataSize: Int

    /// How many bytes of the connection preface have been received (server role only).
    private var prefaceBytesReceived: Int

    /// Frames of unknown type skipped so far. They cost the receiver nothing but reading, yet a
    /// peer could send them without end: the connection counts them against its flood budget.
    public private(set) var skippedUnknownFrames = 0

    public init(
        role: ConnectionRole,
        maxFrameSize: Int = Settings().maxFrameSize,
        maxMetadataSize: Int = Settings().maxMetadataSize
    ) {
        self.role = role
        self.maxFrameSize = maxFrameSize
        self.maxMetadataSize = maxMetadataSize
        self.prefaceBytesReceived = role == .server ? 0 : ConnectionPreface.bytes.count
    }

    /// Whether the whole connection preface has been received. Always `true` for the client role,
    /// which expects no preface.
    public var hasReceivedPreface: Bool {
        self.prefaceBytesReceived == ConnectionPreface.bytes.count
    }

    /// Decodes the next frame from `buffer`, or returns `nil` when `buffer` does not yet hold a
    /// whole frame (nothing of a partial frame is consumed). Frames of unknown type are skipped.
    ///
    /// - Throws: ``WireError`` (only).
    public mutating func decode(buffer: inout ByteBuffer) throws(WireError) -> Frame? {
        if self.prefaceBytesReceived < ConnectionPreface.bytes.count {
            try self.consumePreface(from: &buffer)
            guard self.hasReceivedPreface else { return nil }
        }

        while true {
            guard let header = Self.peekHeader(buffer) else { return nil }
            guard header.length <= self.maxFrameSize else {
                throw WireError(
                    .frameTooLarge(length: header.length, limit: self.maxFrameSize),
                    "frame of type 0x\(String(header.type, radix: 16)) on stream \(header.streamID) has a "
                        + "\(header.length)-byte payload; the limit (MAX_FRAME_SIZE) is \(self.maxFrameSize)"
                )
            }
            guard buffer.readableBytes >= FrameHeader.size + header.length else { return nil }

            buffer.moveReaderIndex(forwardBy: FrameHeader.size)
            // Cannot fail: the bytes were counted above.
            guard let payload = buffer.readSlice(length: header.length) else { return nil }

            guard let type = FrameType(rawValue: header.type) else {
                // Unknown frame type: ignored, for extensibility. Try the next frame.
                self.skippedUnknownFrames &+= 1
                continue
            }
            return try self.decodePayload(payload, type: type, header: header)
        }
    }

    /// Same as ``decode(buffer:)``: leftover bytes of a partial frame stay in `buffer`.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(WireError) -> Frame? {
        try self.decode(buffer: &buffer)
    }

    /// Reads the 9-byte header at the reader index of `buffer` without consuming it, or returns
    /// `nil` if fewer than 9 bytes are readable. The reserved bit of the stream id is cleared.
    public static func peekHeader(_ buffer: ByteBuffer) -> FrameHeader? {
        guard
            let (lengthHigh, lengthLow, type, flags, streamID) = buffer.peekMultipleIntegers(
                as: (UInt16, UInt8, UInt8, UInt8, UInt32).self
            )
        else { return nil }
        return FrameHeader(
            length: Int(lengthHigh) << 8 | Int(lengthLow),
            type: type,
            flags: FrameFlags(rawValue: flags),
            streamID: streamID & Self.streamIDMask
        )
    }

    static let streamIDMask: UInt32 = 0x7FFF_FFFF

    // MARK: - Preface

    private mutating func consumePreface(from buffer: inout ByteBuffer) throws(WireError) {
        let preface = ConnectionPreface.bytes
        while self.prefaceBytesReceived < preface.count, let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            guard byte == preface[self.prefaceBytesReceived] else {
                throw WireError(
                    .badPreface,
                    "bad preface: byte \(self.prefaceBytesReceived) is 0x\(String(byte, radix: 16)), "
                        + "expected 0x\(String(preface[self.prefaceBytesReceived], radix: 16))"
                )
            }
            buffer.moveReaderIndex(forwardBy: 1)
            self.prefaceBytesReceived += 1
        }
    }

    // MARK: - Payloads

    private func decodePayload(_ payload: ByteBuffer, type: FrameType, header: FrameHeader) throws(WireError) -> Frame {
        var payload = payload
        let streamID = header.streamID
        try Self.checkStreamID(streamID, for: type)

        switch type {
        case .settings:
            if header.flags.contains(.ack) {
                guard payload.readableBytes == 0 else {
                    throw WireError(.malformedFrame, "SETTINGS ACK with a \(payload.readableBytes)-byte payload")
                }
                return .settingsAck
            }
            return .settings(try Self.decodeSettings(&payload))

        case .headers:
            switch self.role {
            case .server:
                let pathLength = try Self.readInteger(&payload, as: UInt16.self, type)
                let path = try Self.readString(&payload, length: Int(pathLength), type, "path")
                guard !path.isEmpty else {
                    throw WireError(.malformedFrame, "HEADERS on stream \(streamID) with an empty path")
                }
                let timeout = try Self.readInteger(&payload, as: UInt64.self, type)
                let metadata = try self.decodeMetadataBlock(&payload, type)
                return .requestHeaders(
                    streamID: streamID,
                    RequestHeaders(path: path, timeoutMicroseconds: timeout == 0 ? nil : timeout, metadata: metadata),
                    endStream: header.flags.contains(.endStream)
                )
            case .client:
                return .responseHeaders(streamID: streamID, try self.decodeMetadataBlock(&payload, type))
            }

        case .message:
            var flags = header.flags.intersection([.continued])
            if self.role == .server, header.flags.contains(.endStream) {
                guard !header.flags.contains(.continued) else {
                    throw WireError(.malformedFrame, "MESSAGE on stream \(streamID) has both END_STREAM and CONTINUED")
                }
                flags.insert(.endStream)
            }
            return .message(streamID: streamID, payload: payload, flags: flags)

        case .halfClose:
            try self.checkDirection(type, allowedFrom: .client)
            try Self.checkLength(payload, 0, type)
            return .halfClose(streamID: streamID)

        case .trailers:
            try self.checkDirection(type, allowedFrom: .server)
            let rawCode = try Self.readInteger(&payload, as: UInt8.self, type)
            let messageLength = try Self.readInteger(&payload, as: UInt16.self, type)
            let message = try Self.readString(&payload, length: Int(messageLength), type, "status message")
            let detailsLength = try Self.readInteger(&payload, as: UInt32.self, type)
            guard let details = payload.readBytes(length: Int(detailsLength)) else {
                throw Self.truncated(type, "details")
            }
            let metadata = try self.decodeMetadataBlock(&payload, type)
            return .trailers(
                streamID: streamID,
                Trailers(code: Self.statusCode(rawCode), message: message, details: details, metadata: metadata)
            )

        case .reset:
            try Self.checkLength(payload, 4, type)
            let code = try Self.readInteger(&payload, as: UInt32.self, type)
            return .reset(streamID: streamID, code: Self.statusCode(code))

        case .windowUpdate:
            try Self.checkLength(payload, 4, type)
            let increment = try Self.readInteger(&payload, as: UInt32.self, type)
            guard increment >= 1, increment <= UInt32(Settings.maxWindow) else {
                throw WireError(
                    .malformedFrame,
                    "WINDOW_UPDATE on stream \(streamID) with increment \(increment) (valid: 1...\(Settings.maxWindow))"
                )
            }
            return .windowUpdate(streamID: streamID, increment: increment)

        case .ping:
            try Self.checkLength(payload, 8, type)
            let data = try Self.readInteger(&payload, as: UInt64.self, type)
            return .ping(data: data, ack: header.flags.contains(.ack))

        case .goAway:
            let lastStreamID = try Self.readInteger(&payload, as: UInt32.self, type) & Self.streamIDMask
            let code = try Self.readInteger(&payload, as: UInt32.self, type)
            let messageLength = try Self.readInteger(&payload, as: UInt16.self, type)
            let message = try Self.readString(&payload, length: Int(messageLength), type, "debug message")
            try Self.checkLength(payload, 0, type)
            return .goAway(lastStreamID: lastStreamID, code: Self.statusCode(code), debugMessage: message)
        }
    }

    /// Stream-0 rules, and: streams are only ever opened by the client, so a nonzero stream id
    /// is always odd.
    private static func checkStreamID(_ streamID: UInt32, for type: FrameType) throws(WireError) {
        switch type {
        case .settings, .ping, .goAway:
            guard streamID == 0 else {
                throw WireError(.invalidStreamID, "\(type.name) on stream \(streamID); it is only valid on stream 0")
            }
        case .headers, .message, .halfClose, .trailers, .reset:
            guard streamID != 0 else {
                throw WireError(.invalidStreamID, "\(type.name) on stream 0")
            }
            guard streamID & 1 == 1 else {
                throw WireError(.invalidStreamID, "\(type.name) on even stream \(streamID); stream ids are odd")
            }
        case .windowUpdate:
            guard streamID == 0 || streamID & 1 == 1 else {
                throw WireError(.invalidStreamID, "\(type.name) on even stream \(streamID); stream ids are odd")
            }
        }
    }

    /// HALF_CLOSE only flows client to server, TRAILERS only server to client.
    private func checkDirection(_ type: FrameType, allowedFrom sender: ConnectionRole) throws(WireError) {
        // A server-role decoder reads what a client sent, and vice versa.
        let actualSender: ConnectionRole = self.role == .server ? .client : .server
        guard actualSender == sender else {
            throw WireError(.malformedFrame, "\(type.name) sent by the \(actualSender == .server ? "server" : "client")")
        }
    }

    private static func decodeSettings(_ payload: inout ByteBuffer) throws(WireError) -> Settings {
        guard payload.readableBytes % 6 == 0 else {
            throw WireError(.malformedFrame, "SETTINGS payload of \(payload.readableBytes) bytes is not a multiple of 6")
        }
        var settings = Settings()
        while let (rawID, value) = payload.readMultipleIntegers(as: (UInt16, UInt32).self) {
            guard let id = Settings.Identifier(rawValue: rawID) else { continue }  // unknown: ignored
            let value = Int(value)
            switch id {
            case .maxFrameSize:
                guard value >= Settings.minFrameSize, value <= Settings.maxFrameSizeLimit else {
                    throw WireError(
                        .invalidSetting,
                        "MAX_FRAME_SIZE \(value) (valid: \(Settings.minFrameSize)...\(Settings.maxFrameSizeLimit))"
                    )
                }
                settings.maxFrameSize = value
            case .maxConcurrentStreams:
                settings.maxConcurrentStreams = value
            case .initialStreamWindow:
                guard value <= Settings.maxWindow else {
                    throw WireError(.invalidSetting, "INITIAL_STREAM_WINDOW \(value) (valid: 0...\(Settings.maxWindow))")
                }
                settings.initialStreamWindow = value
            case .initialConnectionWindow:
                guard value <= Settings.maxWindow else {
                    throw WireError(
                        .invalidSetting,
                        "INITIAL_CONNECTION_WINDOW \(value) (valid: 0...\(Settings.maxWindow))"
                    )
                }
                settings.initialConnectionWindow = value
            case .maxMessageSize:
                settings.maxMessageSize = value
            case .maxMetadataSize:
                settings.maxMetadataSize = value
            }
        }
        return settings
    }

    /// A metadata block: the rest of the payload.
    private func decodeMetadataBlock(_ payload: inout ByteBuffer, _ type: FrameType) throws(WireError) -> Metadata {
        let blockSize = payload.readableBytes
        guard blockSize <= self.maxMetadataSize else {
            throw WireError(
                .metadataTooLarge(length: blockSize, limit: self.maxMetadataSize),
                "\(type.name) metadata block of \(blockSize) bytes; the limit (MAX_METADATA_SIZE) is \(self.maxMetadataSize)"
            )
        }
        let count = try Self.readInteger(&payload, as: UInt16.self, type)
        var metadata = Metadata()
        for _ in 0..<count {
            let keyLength = Int(try Self.readInteger(&payload, as: UInt8.self, type))
            guard keyLength >= 1 else {
                throw WireError(.invalidMetadataKey, "\(type.name) metadata key of length 0")
            }
            guard payload.readableBytes >= keyLength else { throw Self.truncated(type, "metadata key") }
            let isValid = payload.withUnsafeReadableBytes { bytes in
                Metadata.isValidKey(UnsafeRawBufferPointer(rebasing: bytes.prefix(keyLength)))
            }
            guard isValid, let key = payload.readString(length: keyLength) else {
                throw WireError(.invalidMetadataKey, "\(type.name) metadata key is not lower-case a-z 0-9 - _ .")
            }
            let valueLength = Int(try Self.readInteger(&payload, as: UInt16.self, type))
            if Metadata.isBinaryKey(key) {
                guard let value = payload.readBytes(length: valueLength) else {
                    throw Self.truncated(type, "metadata value")
                }
                metadata.add(.binary(value), forKey: key)
            } else {
                let value = try Self.readString(&payload, length: valueLength, type, "metadata value of '\(key)'")
                metadata.add(.string(value), forKey: key)
            }
        }
        try Self.checkLength(payload, 0, type)
        return metadata
    }

    // MARK: - Helpers

    private static func statusCode<Raw: FixedWidthInteger>(_ raw: Raw) -> StatusCode {
        guard let byte = UInt8(exactly: raw) else { return .unknown }
        return StatusCode(rawValue: byte) ?? .unknown
    }

    private static func readInteger<Integer: FixedWidthInteger>(
        _ payload: inout ByteBuffer,
        as: Integer.Type,
        _ type: FrameType
    ) throws(WireError) -> Integer {
        guard let value = payload.readInteger(as: Integer.self) else { throw Self.truncated(type, "integer field") }
        return value
    }

    private static func readString(
        _ payload: inout ByteBuffer,
        length: Int,
        _ type: FrameType,
        _ field: String
    ) throws(WireError) -> String {
        guard payload.readableBytes >= length else { throw Self.truncated(type, field) }
        // Paths and metadata keys are ASCII: that is valid UTF-8 as it stands, so skip the
        // standard library's generic validation (a measurable part of a unary call's decode).
        let isASCII = payload.withUnsafeReadableBytes { bytes in
            bytes.prefix(length).allSatisfy { $0 < 0x80 }
        }
        if isASCII, let ascii = payload.readString(length: length) {
            return ascii
        }
        let string: String?
        do {
            string = try payload.readUTF8ValidatedString(length: length)
        } catch {
            throw WireError(.invalidUTF8, "\(type.name) \(field) is not valid UTF-8")
        }
        guard let string else { throw Self.truncated(type, field) }
        return string
    }

    /// The payload must have exactly `expected` bytes left.
    private static func checkLength(_ payload: ByteBuffer, _ expected: Int, _ type: FrameType) throws(WireError) {
        guard payload.readableBytes == expected else {
            throw WireError(.malformedFrame, "\(type.name) payload has \(payload.readableBytes) bytes where \(expected) were expected")
        }
    }

    private static func truncated(_ type: FrameType, _ field: String) -> WireError {
        WireError(.malformedFrame, "\(type.name) payload ends inside its \(field)")
    }
}

extension FrameType {
    /// The name used in docs/PROTOCOL.md, e.g. `WINDOW_UPDATE`.
    public var name: String {
        switch self {
        case .settings: return "SETTINGS"
        case .headers: return "HEADERS"
        case .message: return "MESSAGE"
        case .halfClose: return "HALF_CLOSE"
        case .trailers: return "TRAILERS"
        case .reset: return "RESET"
        case .windowUpdate: return "WINDOW_UPDATE"
        case .ping: return "PING"
        case .goAway: return "GOAWAY"
        }
    }
}
