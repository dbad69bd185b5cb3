import NIOCore
import OvaWire
import Testing

@Suite("FrameEncoder")
struct FrameEncoderTests {
    @Test("writeHeader writes big-endian fields and clears the reserved bit")
    func writeHeader() {
        var buffer = ByteBuffer()
        FrameEncoder.writeHeader(length: 0x0A_0B_0C, type: .windowUpdate, flags: [.endStream, .continued], streamID: 0x8123_4567, into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0x0A, 0x0B, 0x0C, 0x06, 0x03, 0x01, 0x23, 0x45, 0x67])
        FrameEncoder.writeHeader(length: 0xFF_FFFF, type: .goAway, flags: [], streamID: 0, into: &buffer)
        #expect(Array(buffer.readableBytesView.dropFirst(9)) == [0xFF, 0xFF, 0xFF, 0x08, 0, 0, 0, 0, 0])
    }

    @Test("setHeader fills reserved bytes in place without moving the indices")
    func setHeaderInPlace() throws {
        var buffer = ByteBuffer()
        buffer.writeString("xx")  // bytes before the frame
        let headerIndex = buffer.writerIndex
        buffer.writeRepeatingByte(0xEE, count: FrameHeader.size)
        buffer.writeBytes([0x0A, 0x01, 0x41])  // the "serialized protobuf"
        let (reader, writer) = (buffer.readerIndex, buffer.writerIndex)
        FrameEncoder.setHeader(length: 3, type: .message, flags: .endStream, streamID: 5, in: &buffer, at: headerIndex)
        #expect(buffer.readerIndex == reader && buffer.writerIndex == writer)
        buffer.moveReaderIndex(forwardBy: 2)
        var decoder = FrameDecoder(role: .server)
        var input = ByteBuffer(bytes: ConnectionPreface.bytes)
        input.writeImmutableBuffer(buffer)
        #expect(try decoder.decode(buffer: &input) == .message(streamID: 5, payload: ByteBuffer(bytes: [0x0A, 0x01, 0x41]), flags: .endStream))
    }

    @Test("encode(_:allocator:) and encode(_:into:) agree, and payloadLength is the encoded length")
    func encodeVariants() {
        let frames: [Frame] = [
            .settingsAck,
            .goAway(lastStreamID: 3, code: .unavailable, debugMessage: "bye"),
            .trailers(streamID: 1, Trailers(code: .ok, message: "é", details: [1, 2], metadata: Metadata(["a": "b"]))),
        ]
        for frame in frames {
            var buffer = ByteBuffer()
            FrameEncoder.encode(frame, into: &buffer)
            let fresh = FrameEncoder.encode(frame)
            #expect(buffer == fresh)
            #expect(fresh.readableBytes == FrameHeader.size + FrameEncoder.payloadLength(of: frame))
        }
    }

    @Test("strings too long for a u16 length are cut at a character boundary")
    func longStringsTruncated() throws {
        let cases: [(String, Int)] = [
            (String(repeating: "a", count: 70_000), 65_535),
            (String(repeating: "é", count: 40_000), 65_534),  // 2-byte characters
            (String(repeating: "中", count: 30_000), 65_535),  // 3 bytes: 21,845 fit exactly
            ("a" + String(repeating: "😀", count: 20_000), 65_533),  // 1 + 4 * 16,383
            (String(repeating: "a", count: 65_535), 65_535),
        ]
        for (string, expectedLength) in cases {
            let frame = Frame.goAway(lastStreamID: 1, code: .ok, debugMessage: string)
            let encoded = FrameEncoder.encode(frame)
            #expect(encoded.getInteger(at: FrameHeader.size + 8, as: UInt16.self) == UInt16(expectedLength))
            let decoder = FrameDecoder(role: .client, maxFrameSize: 1 << 20)
            let decoded = try decodeFrames(Array(encoded.readableBytesView), decoder: decoder).frames
            guard case .goAway(_, _, let message) = decoded.first else {
                Issue.record("no GOAWAY decoded")
                continue
            }
            #expect(message.utf8.count == expectedLength)
            #expect(string.hasPrefix(message))
        }

        let path = String(repeating: "p", count: 65_535) + "é"
        let headers = Frame.requestHeaders(streamID: 1, RequestHeaders(path: path), endStream: false)
        let decoder = FrameDecoder(role: .server, maxFrameSize: 1 << 20)
        let decoded = try decodeFrames(ConnectionPreface.bytes + encodeFrames([headers]), decoder: decoder).frames
        #expect(decoded == [.requestHeaders(streamID: 1, RequestHeaders(path: String(repeating: "p", count: 65_535)), endStream: false)])
    }

    @Test("metadata entries the peer would reject are dropped; long values are cut")
    func metadataSanitized() throws {
        var metadata = Metadata()
        metadata.add(.string("dropped: upper case"), forKey: "Bad")
        metadata.add(.string("dropped: empty key"), forKey: "")
        metadata.add(.string("dropped: too long"), forKey: String(repeating: "k", count: 256))
        metadata.add(.string("dropped: space"), forKey: "a b")
        metadata.add(.binary([1, 2]), forKey: "text-key")  // binary under a text key: dropped
        metadata.addString("kept", forKey: "ok")
        metadata.addString("as bytes", forKey: "s-bin")  // text under a -bin key: sent as bytes
        metadata.addBinary(Array(repeating: 9, count: 70_000), forKey: "big-bin")
        metadata.addString(String(repeating: "é", count: 40_000), forKey: "long")

        var expected = Metadata()
        expected.addString("kept", forKey: "ok")
        expected.addBinary(Array("as bytes".utf8), forKey: "s-bin")
        expected.addBinary(Array(repeating: 9, count: 65_535), forKey: "big-bin")
        expected.addString(String(repeating: "é", count: 32_767), forKey: "long")

        var buffer = ByteBuffer()
        FrameEncoder.writeMetadataBlock(metadata, into: &buffer)
        #expect(buffer.readableBytes == FrameEncoder.metadataBlockSize(metadata))
        #expect(buffer.readableBytes == FrameEncoder.metadataBlockSize(expected))

        let frame = Frame.responseHeaders(streamID: 1, metadata)
        let decoder = FrameDecoder(role: .client, maxFrameSize: 1 << 20, maxMetadataSize: 1 << 20)
        let decoded = try decodeFrames(encodeFrames([frame]), decoder: decoder).frames
        #expect(decoded == [.responseHeaders(streamID: 1, expected)])
    }

    @Test("at most 65,535 metadata entries are sent")
    func metadataEntryCount() throws {
        var metadata = Metadata()
        for index in 0..<65_537 {
            metadata.addString("", forKey: index.isMultiple(of: 2) ? "a" : "b")
        }
        var buffer = ByteBuffer()
        FrameEncoder.writeMetadataBlock(metadata, into: &buffer)
        #expect(buffer.getInteger(at: 0, as: UInt16.self) == 65_535)
        #expect(buffer.readableBytes == 2 + 65_535 * 4)
        #expect(FrameEncoder.metadataBlockSize(metadata) == buffer.readableBytes)
    }

    @Test("metadataBlockSize counts the count field and every length field")
    func metadataBlockSize() {
        #expect(FrameEncoder.metadataBlockSize(Metadata()) == 2)
        #expect(FrameEncoder.metadataBlockSize(Metadata(["ab": "cde"])) == 2 + 1 + 2 + 2 + 3)
        var metadata = Metadata(["user-agent": "ova/1 ü"])
        metadata.addBinary([1, 2, 3, 4], forKey: "x-bin")
        #expect(FrameEncoder.metadataBlockSize(metadata) == 2 + (1 + 10 + 2 + 8) + (1 + 5 + 2 + 4))
    }

    @Test("a zero timeout is sent as 1 µs (0 means no deadline); settings are clamped to u32")
    func edgeValues() throws {
        let zero = Frame.requestHeaders(streamID: 1, RequestHeaders(path: "a/b", timeoutMicroseconds: 0), endStream: false)
        let decoded = try decodeFrames(ConnectionPreface.bytes + encodeFrames([zero]), decoder: FrameDecoder(role: .server)).frames
        #expect(decoded == [.requestHeaders(streamID: 1, RequestHeaders(path: "a/b", timeoutMicroseconds: 1), endStream: false)])

        var settings = Settings()
        settings.maxMessageSize = Int.max
        settings.maxConcurrentStreams = -5
        let encoded = FrameEncoder.encode(.settings(settings))
        // Entry 5 (MAX_MESSAGE_SIZE) is the 5th entry; entry 2 the 2nd.
        #expect(encoded.getInteger(at: FrameHeader.size + 4 * 6 + 2, as: UInt32.self) == UInt32.max)
        #expect(encoded.getInteger(at: FrameHeader.size + 1 * 6 + 2, as: UInt32.self) == 0)
    }

    @Test("the preface")
    func preface() {
        var buffer = ByteBuffer()
        FrameEncoder.writePreface(into: &buffer)
        #expect(String(buffer: buffer) == "OVA1\r\n\u{1A}\n")
    }
}
