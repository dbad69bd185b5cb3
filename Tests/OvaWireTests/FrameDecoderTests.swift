import NIOCore
import OvaWire
import Testing

/// Frames built by hand (not with FrameEncoder), so the decoder is checked independently.
private enum Raw {
    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        rawHeader(length: payload.count, type: type, flags: flags, streamID: stream) + payload
    }

    static func string16(_ bytes: [UInt8]) -> [UInt8] {
        bigEndian(UInt16(bytes.count)) + bytes
    }

    static func string16(_ string: String) -> [UInt8] {
        Self.string16(Array(string.utf8))
    }

    /// A metadata block with the given raw keys and values.
    static func metadata(_ entries: [([UInt8], [UInt8])]) -> [UInt8] {
        var block = bigEndian(UInt16(entries.count))
        for (key, value) in entries {
            block += [UInt8(key.count)] + key + bigEndian(UInt16(value.count)) + value
        }
        return block
    }

    static func metadata(_ entries: [(String, String)]) -> [UInt8] {
        Self.metadata(entries.map { (Array($0.0.utf8), Array($0.1.utf8)) })
    }

    /// A request HEADERS frame (client to server).
    static func requestHeaders(stream: UInt32 = 1, path: [UInt8] = Array("a.B/C".utf8), timeout: UInt64 = 0, metadata: [UInt8] = [0, 0]) -> [UInt8] {
        Self.frame(0x1, stream: stream, Self.string16(path) + bigEndian(timeout) + metadata)
    }

    static func trailers(stream: UInt32 = 1, code: UInt8 = 0, message: [UInt8] = [], details: [UInt8] = [], metadata: [UInt8] = [0, 0]) -> [UInt8] {
        Self.frame(0x4, stream: stream, [code] + Self.string16(message) + bigEndian(UInt32(details.count)) + details + metadata)
    }

    static func settings(_ entries: [(UInt16, UInt32)]) -> [UInt8] {
        Self.frame(0x0, stream: 0, entries.flatMap { bigEndian($0.0) + bigEndian($0.1) })
    }
}

/// Decodes the bytes a client sends (the preface is prepended).
private func decodeFromClient(_ bytes: [UInt8], maxMetadataSize: Int = Settings().maxMetadataSize) throws(WireError) -> [Frame] {
    let decoder = FrameDecoder(role: .server, maxMetadataSize: maxMetadataSize)
    let result = try decodeFrames(ConnectionPreface.bytes + bytes, decoder: decoder)
    return result.frames
}

/// Decodes the bytes a server sends.
private func decodeFromServer(_ bytes: [UInt8], maxMetadataSize: Int = Settings().maxMetadataSize) throws(WireError) -> [Frame] {
    let decoder = FrameDecoder(role: .client, maxMetadataSize: maxMetadataSize)
    return try decodeFrames(bytes, decoder: decoder).frames
}

private func errorKind(_ body: () throws(WireError) -> [Frame]) -> WireError.Kind? {
    wireError(body)?.kind
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
    // MARK: - Preface

    @Test("a bad preface is rejected on the first wrong byte, without waiting for eight")
    func badPrefaceFirstByte() {
        var decoder = FrameDecoder(role: .server)
        var buffer = byteBuffer([0x50])  // "P" of "PRI * HTTP/2.0"
        let error = wireError { () throws(WireError) in try decoder.decode(buffer: &buffer) }
        #expect(error?.kind == .badPreface)
        #expect(error?.statusCode == .internalError)
    }

    @Test("a preface that goes wrong at byte n is rejected when byte n arrives", arguments: 0..<8)
    func badPrefaceLaterByte(_ wrongIndex: Int) throws {
        var decoder = FrameDecoder(role: .server)
        var bytes = ConnectionPreface.bytes
        bytes[wrongIndex] ^= 0x20
        var buffer = ByteBuffer()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let error = wireError { () throws(WireError) in try decoder.decode(buffer: &buffer) }
            if index < wrongIndex {
                #expect(error == nil)
                #expect(!decoder.hasReceivedPreface)
            } else {
                #expect(error?.kind == .badPreface)
                break
            }
        }
    }

    @Test("the preface is accepted in pieces and only by a server-role decoder")
    func prefaceInPieces() throws {
        var server = FrameDecoder(role: .server)
        #expect(!server.hasReceivedPreface)
        var buffer = byteBuffer(Array(ConnectionPreface.bytes.prefix(3)))
        #expect(try server.decode(buffer: &buffer) == nil)
        buffer.writeBytes(ConnectionPreface.bytes.dropFirst(3))
        buffer.writeBytes(Raw.frame(0x7, stream: 0, bigEndian(UInt64(5))))
        #expect(try server.decode(buffer: &buffer) == .ping(data: 5, ack: false))
        #expect(server.hasReceivedPreface)
        #expect(buffer.readableBytes == 0)

        // A client-role decoder expects no preface: the preface bytes are a (huge) frame header.
        var client = FrameDecoder(role: .client)
        #expect(client.hasReceivedPreface)
        var prefaced = byteBuffer(ConnectionPreface.bytes + [0, 0])
        let error = wireError { () throws(WireError) in try client.decode(buffer: &prefaced) }
        #expect(error?.kind == .frameTooLarge(length: 0x4F5641, limit: 65_536))
    }

    // MARK: - Framing

    @Test("an oversize frame is rejected as soon as its header arrives")
    func oversizeFrameRejectedAfterHeader() throws {
        var decoder = FrameDecoder(role: .client)
        let header = rawHeader(length: 65_537, type: 0x2, streamID: 1)
        var buffer = byteBuffer(Array(header.prefix(8)))
        #expect(try decoder.decode(buffer: &buffer) == nil, "8 bytes: not a header yet")
        buffer.writeInteger(header[8])
        let error = wireError { () throws(WireError) in try decoder.decode(buffer: &buffer) }
        #expect(error?.kind == .frameTooLarge(length: 65_537, limit: 65_536))
        #expect(error?.statusCode == .resourceExhausted)
    }

    @Test("a frame of exactly MAX_FRAME_SIZE is accepted, and the limit can be changed")
    func frameSizeLimitBoundary() throws {
        let payload = [UInt8](repeating: 7, count: 65_536)
        let frames = try decodeFromServer(Raw.frame(0x2, stream: 1, payload))
        #expect(frames == [.message(streamID: 1, payload: byteBuffer(payload), flags: [])])

        var decoder = FrameDecoder(role: .client, maxFrameSize: 16_384)
        var buffer = byteBuffer(rawHeader(length: 16_385, type: 0x2, streamID: 1))
        #expect(wireError { () throws(WireError) in try decoder.decode(buffer: &buffer) }?.kind == .frameTooLarge(length: 16_385, limit: 16_384))

        decoder = FrameDecoder(role: .client, maxFrameSize: 16_384)
        decoder.maxFrameSize = 1 << 20
        buffer = byteBuffer(rawHeader(length: 100_000, type: 0x2, streamID: 1))
        #expect(try decoder.decode(buffer: &buffer) == nil, "within the raised limit: waits for the payload")
    }

    @Test("unknown frame types are size-checked too")
    func unknownTypeOversize() {
        let error = errorKind { () throws(WireError) in try decodeFromServer(rawHeader(length: 70_000, type: 0x42, streamID: 0)) }
        #expect(error == .frameTooLarge(length: 70_000, limit: 65_536))
    }

    @Test("a truncated frame yields nil without consuming anything, then completes")
    func truncatedFrame() throws {
        let frame = Raw.trailers(stream: 3, code: 5, message: Array("gone".utf8), metadata: Raw.metadata([("k", "v")]))
        for cut in 0..<frame.count {
            var decoder = FrameDecoder(role: .client)
            var buffer = byteBuffer(Array(frame.prefix(cut)))
            #expect(try decoder.decode(buffer: &buffer) == nil)
            #expect(buffer.readerIndex == 0, "nothing consumed at cut \(cut)")
            #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
            buffer.writeBytes(frame.dropFirst(cut))
            let decoded = try decoder.decode(buffer: &buffer)
            #expect(decoded == .trailers(streamID: 3, Trailers(code: .notFound, message: "gone", metadata: Metadata(["k": "v"]))))
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("unknown frame types are skipped and decoding continues in the same call")
    func unknownTypesSkipped() throws {
        var decoder = FrameDecoder(role: .client)
        var buffer = byteBuffer(
            Raw.frame(0x09, stream: 0, [1, 2, 3]) + Raw.frame(0xFF, flags: 0xFF, stream: 2, []) + Raw.frame(0x10, stream: 7, Array(repeating: 0, count: 100))
                + Raw.frame(0x7, flags: 0x1, stream: 0, bigEndian(UInt64(9)))
        )
        #expect(try decoder.decode(buffer: &buffer) == .ping(data: 9, ack: true))
        #expect(buffer.readableBytes == 0)

        // An unknown frame followed by a partial one: the unknown frame is consumed, then nil.
        buffer = byteBuffer(Raw.frame(0x0A, stream: 0, [1]) + Array(Raw.frame(0x7, stream: 0, bigEndian(UInt64(1))).prefix(12)))
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 12)

        // Only unknown frames: nil, everything consumed.
        buffer = byteBuffer(Raw.frame(0x0A, stream: 0, [1]) + Raw.frame(0x0B, stream: 0, []))
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 0)
    }

    @Test("MESSAGE payloads are slices of the input buffer, not copies")
    func messagePayloadIsSlice() throws {
        var decoder = FrameDecoder(role: .client)
        var buffer = byteBuffer(Raw.frame(0x2, stream: 1, Array(repeating: 0xAB, count: 64)))
        let inputAddress = buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frame = try decoder.decode(buffer: &buffer)
        guard case .message(_, let payload, _) = frame else {
            Issue.record("expected a MESSAGE, got \(String(describing: frame))")
            return
        }
        let payloadAddress = payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadAddress == inputAddress + UInt(FrameHeader.size))
        #expect(payload.readableBytes == 64)
    }

    @Test("peekHeader reads without consuming and clears the reserved bit")
    func peekHeader() {
        let buffer = byteBuffer(rawHeader(length: 0x01_02_03, type: 0x42, flags: 0x81, streamID: 0x8000_0005))
        #expect(
            FrameDecoder.peekHeader(buffer)
                == FrameHeader(length: 0x01_02_03, type: 0x42, flags: FrameFlags(rawValue: 0x81), streamID: 5)
        )
        #expect(buffer.readerIndex == 0)
        #expect(FrameDecoder.peekHeader(byteBuffer([0, 0, 0, 0, 0, 0, 0, 0])) == nil)
    }

    // MARK: - Payload rules

    @Test("fixed-size payloads of the wrong size are malformed")
    func wrongFixedSizes() {
        let cases: [(String, [UInt8])] = [
            ("HALF_CLOSE with a payload", Raw.frame(0x3, stream: 1, [0])),
            ("RESET of 3 bytes", Raw.frame(0x5, stream: 1, [0, 0, 1])),
            ("RESET of 5 bytes", Raw.frame(0x5, stream: 1, [0, 0, 0, 1, 0])),
            ("WINDOW_UPDATE of 3 bytes", Raw.frame(0x6, stream: 1, [0, 0, 1])),
            ("WINDOW_UPDATE of 8 bytes", Raw.frame(0x6, stream: 0, bigEndian(UInt64(1)))),
            ("PING of 7 bytes", Raw.frame(0x7, stream: 0, Array(repeating: 0, count: 7))),
            ("PING of 9 bytes", Raw.frame(0x7, stream: 0, Array(repeating: 0, count: 9))),
            ("SETTINGS of 7 bytes", Raw.frame(0x0, stream: 0, Array(repeating: 0, count: 7))),
            ("SETTINGS ACK with a payload", Raw.frame(0x0, flags: 0x1, stream: 0, Array(repeating: 0, count: 6))),
            ("GOAWAY of 9 bytes", Raw.frame(0x8, stream: 0, Array(repeating: 0, count: 9))),
            ("GOAWAY with trailing bytes", Raw.frame(0x8, stream: 0, Array(repeating: 0, count: 11))),
            ("HEADERS cut inside the timeout", Raw.frame(0x1, stream: 1, Raw.string16("a/b") + [0, 0, 0])),
        ]
        for (name, bytes) in cases {
            #expect(errorKind { () throws(WireError) in try decodeFromClient(bytes) } == .malformedFrame, "\(name)")
        }
    }

    @Test("WINDOW_UPDATE increments must be 1...2^31-1")
    func windowUpdateRange() throws {
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.frame(0x6, stream: 1, bigEndian(UInt32(0)))) } == .malformedFrame)
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.frame(0x6, stream: 0, bigEndian(UInt32(0x8000_0000)))) } == .malformedFrame)
        #expect(try decodeFromClient(Raw.frame(0x6, stream: 0, bigEndian(UInt32(0x7FFF_FFFF)))) == [.windowUpdate(streamID: 0, increment: 0x7FFF_FFFF)])
        #expect(try decodeFromServer(Raw.frame(0x6, stream: 3, bigEndian(UInt32(1)))) == [.windowUpdate(streamID: 3, increment: 1)])
    }

    @Test("stream 0 rules and odd stream ids")
    func streamIDRules() throws {
        let streamOnly: [(String, UInt8, [UInt8])] = [
            ("HEADERS", 0x1, Raw.string16("a/b") + bigEndian(UInt64(0)) + [0, 0]),
            ("MESSAGE", 0x2, [1, 2]),
            ("HALF_CLOSE", 0x3, []),
            ("RESET", 0x5, bigEndian(UInt32(1))),
        ]
        for (name, type, payload) in streamOnly {
            #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.frame(type, stream: 0, payload)) } == .invalidStreamID, "\(name) on stream 0")
            #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.frame(type, stream: 2, payload)) } == .invalidStreamID, "\(name) on stream 2")
            #expect(try decodeFromClient(Raw.frame(type, stream: 0x8000_0001, payload)).count == 1, "\(name): R bit ignored")
        }
        let trailers = Array(Raw.trailers(stream: 1).dropFirst(FrameHeader.size))
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x4, stream: 0, trailers)) } == .invalidStreamID)
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x1, stream: 0, [0, 0])) } == .invalidStreamID)

        let connectionOnly: [(String, UInt8, [UInt8])] = [
            ("SETTINGS", 0x0, []),
            ("SETTINGS ACK", 0x0, []),
            ("PING", 0x7, bigEndian(UInt64(1))),
            ("GOAWAY", 0x8, bigEndian(UInt32(1)) + bigEndian(UInt32(0)) + [0, 0]),
        ]
        for (name, type, payload) in connectionOnly {
            #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(type, stream: 1, payload)) } == .invalidStreamID, "\(name) on stream 1")
            #expect(try decodeFromServer(Raw.frame(type, stream: 0x8000_0000, payload)).count == 1, "\(name): R bit ignored")
        }
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x6, stream: 4, bigEndian(UInt32(1)))) } == .invalidStreamID)
    }

    @Test("HALF_CLOSE only from clients, TRAILERS only from servers")
    func directionRules() {
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x3, stream: 1)) } == .malformedFrame)
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.trailers(stream: 1)) } == .malformedFrame)
    }

    @Test("MESSAGE flags: END_STREAM only from clients, never with CONTINUED; undefined flags ignored")
    func messageFlags() throws {
        #expect(try decodeFromClient(Raw.frame(0x2, flags: 0x01, stream: 1, [1])) == [.message(streamID: 1, payload: byteBuffer([1]), flags: .endStream)])
        #expect(try decodeFromClient(Raw.frame(0x2, flags: 0xFE, stream: 1, [1])) == [.message(streamID: 1, payload: byteBuffer([1]), flags: .continued)])
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.frame(0x2, flags: 0x03, stream: 1, [1])) } == .malformedFrame)
        // From a server END_STREAM is undefined, hence ignored.
        #expect(try decodeFromServer(Raw.frame(0x2, flags: 0x03, stream: 1, [1])) == [.message(streamID: 1, payload: byteBuffer([1]), flags: .continued)])
        #expect(try decodeFromServer(Raw.frame(0x2, flags: 0x01, stream: 1, [])) == [.message(streamID: 1, payload: ByteBuffer(), flags: [])])
    }

    @Test("SETTINGS ranges, unknown ids and repeated ids")
    func settingsRanges() throws {
        func settings(_ entries: [(UInt16, UInt32)]) throws(WireError) -> Settings? {
            guard case .settings(let settings) = try decodeFromServer(Raw.settings(entries)).first else { return nil }
            return settings
        }
        let invalid: [(UInt16, UInt32)] = [(1, 16_383), (1, 16_777_216), (1, 0), (3, 0x8000_0000), (4, 0x8000_0000), (3, UInt32.max)]
        for entry in invalid {
            #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.settings([entry])) } == .invalidSetting, "\(entry)")
        }
        var expected = Settings()
        expected.maxFrameSize = 16_777_215
        expected.initialStreamWindow = 0x7FFF_FFFF
        expected.initialConnectionWindow = 0
        expected.maxConcurrentStreams = Int(UInt32.max)
        expected.maxMessageSize = 0
        expected.maxMetadataSize = 12
        let decoded = try settings([(1, 16_384), (1, 16_777_215), (3, 0x7FFF_FFFF), (4, 0), (2, UInt32.max), (5, 0), (6, 12), (0x99, 1), (0, 5)])
        #expect(decoded == expected, "last value wins, unknown ids ignored")
        #expect(try settings([]) == Settings(), "an empty SETTINGS keeps the defaults")
    }

    @Test("request HEADERS: path, timeout and metadata")
    func requestHeaders() throws {
        let frames = try decodeFromClient(
            Raw.requestHeaders(stream: 9, path: Array("ova.v1.Echo/Bidi".utf8), timeout: 250, metadata: Raw.metadata([("a", "1"), ("a", "2"), ("x-bin", "\u{0}\u{1}")]))
                + Raw.requestHeaders(stream: 11, timeout: 0)
        )
        var metadata = Metadata(["a": "1", "a": "2"])
        metadata.addBinary([0, 1], forKey: "x-bin")
        #expect(
            frames == [
                .requestHeaders(streamID: 9, RequestHeaders(path: "ova.v1.Echo/Bidi", timeoutMicroseconds: 250, metadata: metadata), endStream: false),
                .requestHeaders(streamID: 11, RequestHeaders(path: "a.B/C", timeoutMicroseconds: nil), endStream: false),
            ]
        )
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.requestHeaders(path: [])) } == .malformedFrame, "empty path")
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.requestHeaders(path: [0x61, 0xC3])) } == .invalidUTF8, "cut UTF-8 sequence")
        #expect(errorKind { () throws(WireError) in try decodeFromClient(Raw.requestHeaders(path: [0xED, 0xA0, 0x80])) } == .invalidUTF8, "surrogate")
    }

    @Test("metadata keys must be 1-255 bytes of a-z 0-9 - _ .")
    func metadataKeys() throws {
        let badKeys: [[UInt8]] = [[], Array("User-Agent".utf8), Array("a b".utf8), Array("a:b".utf8), [0xC3, 0xA9], [0]]
        for key in badKeys {
            let headers = Raw.requestHeaders(metadata: Raw.metadata([(key, [])]))
            #expect(errorKind { () throws(WireError) in try decodeFromClient(headers) } == .invalidMetadataKey, "key \(key)")
        }
        let longKey = String(repeating: "k", count: 255)
        let goodKeys = ["a", "0", "-", "_", ".", "x-request_id.v2", longKey]
        let frames = try decodeFromServer(Raw.frame(0x1, stream: 1, Raw.metadata(goodKeys.map { ($0, "v") })))
        #expect(frames == [.responseHeaders(streamID: 1, Metadata(KeyValuePairs(dictionaryLiteral: ("a", "v"), ("0", "v"), ("-", "v"), ("_", "v"), (".", "v"), ("x-request_id.v2", "v"), (longKey, "v"))))])
    }

    @Test("text values must be UTF-8, -bin values may be anything")
    func metadataValues() throws {
        let invalid: [UInt8] = [0x66, 0x80, 0x6F]
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x1, stream: 1, Raw.metadata([(Array("k".utf8), invalid)]))) } == .invalidUTF8)
        let frames = try decodeFromServer(Raw.frame(0x1, stream: 1, Raw.metadata([(Array("k-bin".utf8), invalid)])))
        var expected = Metadata()
        expected.addBinary(invalid, forKey: "k-bin")
        #expect(frames == [.responseHeaders(streamID: 1, expected)])
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.trailers(message: invalid)) } == .invalidUTF8)
        #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.trailers(metadata: Raw.metadata([(Array("k".utf8), invalid)]))) } == .invalidUTF8)
        let goAway = Raw.frame(0x8, stream: 0, bigEndian(UInt32(0)) + bigEndian(UInt32(0)) + Raw.string16(invalid))
        #expect(errorKind { () throws(WireError) in try decodeFromServer(goAway) } == .invalidUTF8)
    }

    @Test("metadata block structure: count, truncation, trailing bytes")
    func metadataStructure() {
        let countTooHigh: [UInt8] = [0, 2, 1, 0x6B, 0, 0]  // says 2 entries, holds 1
        let trailing: [UInt8] = [0, 1, 1, 0x6B, 0, 0, 0xFF]  // 1 entry, then a stray byte
        let valueCut: [UInt8] = [0, 1, 1, 0x6B, 0, 5, 0x61]  // value length 5, 1 byte present
        let keyCut: [UInt8] = [0, 1, 9, 0x6B]  // key length 9, 1 byte present
        let empty: [UInt8] = []  // not even a count
        for block in [countTooHigh, trailing, valueCut, keyCut, empty] {
            #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.frame(0x1, stream: 1, block)) } == .malformedFrame, "\(block)")
            #expect(errorKind { () throws(WireError) in try decodeFromServer(Raw.trailers(metadata: block)) } == .malformedFrame, "\(block)")
        }
    }

    @Test("a metadata block over MAX_METADATA_SIZE is rejected; one exactly at it is accepted")
    func metadataLimit() throws {
        // 2 (count) + 1 + 1 (key "k") + 2 + 94 = 100 bytes.
        let block = Raw.metadata([("k", String(repeating: "v", count: 94))])
        #expect(block.count == 100)
        #expect(try decodeFromServer(Raw.frame(0x1, stream: 1, block), maxMetadataSize: 100).count == 1)
        let error = wireError { () throws(WireError) in try decodeFromServer(Raw.frame(0x1, stream: 1, block), maxMetadataSize: 99) }
        #expect(error?.kind == .metadataTooLarge(length: 100, limit: 99))
        #expect(error?.statusCode == .resourceExhausted)
        // Only the block counts: the path, timeout, status, message and details do not.
        let headers = Raw.requestHeaders(path: Array(String(repeating: "p", count: 500).utf8), metadata: block)
        #expect(try decodeFromClient(headers, maxMetadataSize: 100).count == 1)
        #expect(errorKind { () throws(WireError) in try decodeFromClient(headers, maxMetadataSize: 99) } == .metadataTooLarge(length: 100, limit: 99))
        let trailers = Raw.trailers(message: Array(String(repeating: "m", count: 300).utf8), details: Array(repeating: 1, count: 300), metadata: block)
        #expect(try decodeFromServer(trailers, maxMetadataSize: 100).count == 1)
        #expect(errorKind { () throws(WireError) in try decodeFromServer(trailers, maxMetadataSize: 99) } == .metadataTooLarge(length: 100, limit: 99))
    }

    @Test("TRAILERS, RESET and GOAWAY map unknown status values to UNKNOWN")
    func unknownStatusCodes() throws {
        #expect(try decodeFromServer(Raw.trailers(code: 16)) == [.trailers(streamID: 1, Trailers(code: .unauthenticated))])
        #expect(try decodeFromServer(Raw.trailers(code: 17)) == [.trailers(streamID: 1, Trailers(code: .unknown))])
        #expect(try decodeFromServer(Raw.trailers(code: 255)) == [.trailers(streamID: 1, Trailers(code: .unknown))])
        #expect(try decodeFromServer(Raw.frame(0x5, stream: 1, bigEndian(UInt32(0x100)))) == [.reset(streamID: 1, code: .unknown)])
        #expect(try decodeFromServer(Raw.frame(0x5, stream: 1, bigEndian(UInt32(14)))) == [.reset(streamID: 1, code: .unavailable)])
        let goAway = Raw.frame(0x8, stream: 0, bigEndian(UInt32(0xFFFF_FFFF)) + bigEndian(UInt32(99)) + Raw.string16("x"))
        #expect(try decodeFromServer(goAway) == [.goAway(lastStreamID: 0x7FFF_FFFF, code: .unknown, debugMessage: "x")])
    }

    @Test("TRAILERS details must fit in the payload")
    func trailersDetailsLength() {
        var frame = Raw.trailers(details: [1, 2, 3])
        frame[FrameHeader.size + 3 + 3] = 200  // details length 3 -> 200
        #expect(errorKind { () throws(WireError) in try decodeFromServer(frame) } == .malformedFrame)
    }

    @Test("decodeLast leaves a partial frame in the buffer")
    func decodeLastLeavesPartialFrame() throws {
        let bytes = Raw.frame(0x7, stream: 0, bigEndian(UInt64(1))) + [0, 0, 8, 7]
        let result = try decodeFrames(bytes, decoder: FrameDecoder(role: .client), feeding: .byteByByte)
        #expect(result.frames == [.ping(data: 1, ack: false)])
        #expect(result.leftover == 4)
    }
}
