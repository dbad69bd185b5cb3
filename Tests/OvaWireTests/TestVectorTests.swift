import Foundation
import NIOCore
import OvaWire
import Testing

/// One vector of docs/test-vectors/frames.hex (or of a block in docs/PROTOCOL.md).
struct TestVector: Equatable, CustomStringConvertible {
    enum Direction: String {
        /// After the preface, decoded by a server.
        case clientToServer = "c2s"
        /// Decoded by a client.
        case serverToClient = "s2c"
        /// From the start of the connection, preface included, decoded by a server.
        case rawClientToServer = "raw-c2s"
    }

    enum Expectation: Equatable {
        case valid(decodeOnly: Bool)
        case invalid(kind: String, goAwayCode: String)
    }

    var name: String
    var direction: Direction
    var expectation: Expectation
    var bytes: [UInt8]

    var description: String { self.name }

    /// The decoder that receives these bytes.
    var decoder: FrameDecoder {
        FrameDecoder(role: self.direction == .serverToClient ? .client : .server)
    }

    /// The bytes as the decoder sees them.
    var wireBytes: [UInt8] {
        self.direction == .clientToServer ? ConnectionPreface.bytes + self.bytes : self.bytes
    }

    enum ParseError: Error, CustomStringConvertible {
        case bad(line: Int, String)
        var description: String {
            switch self {
            case .bad(let line, let message): return "line \(line): \(message)"
            }
        }
    }

    /// Parses the vector format (see the head of frames.hex).
    static func parse(_ text: String) throws -> [TestVector] {
        var vectors: [TestVector] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let first = words.first else { continue }
            if first == "@" || first == "!" {
                guard words.count >= 3, let direction = Direction(rawValue: words[2]) else {
                    throw ParseError.bad(line: number + 1, "bad vector head")
                }
                let expectation: Expectation
                if first == "@" {
                    guard words.count <= 4, words.count == 3 || words[3] == "decode-only" else {
                        throw ParseError.bad(line: number + 1, "bad valid-vector head")
                    }
                    expectation = .valid(decodeOnly: words.count == 4)
                } else {
                    guard words.count == 5 else { throw ParseError.bad(line: number + 1, "bad invalid-vector head") }
                    expectation = .invalid(kind: words[3], goAwayCode: words[4])
                }
                vectors.append(TestVector(name: words[1], direction: direction, expectation: expectation, bytes: []))
                continue
            }
            guard !vectors.isEmpty else { throw ParseError.bad(line: number + 1, "bytes before the first vector") }
            for word in words {
                guard word.count == 2, let byte = UInt8(word, radix: 16) else {
                    throw ParseError.bad(line: number + 1, "'\(word)' is not a hex byte")
                }
                vectors[vectors.count - 1].bytes.append(byte)
            }
        }
        return vectors
    }

    /// The blocks of docs/PROTOCOL.md fenced with ``` whose first line is a vector head.
    static func parseMarkdown(_ markdown: String) throws -> [TestVector] {
        var vectors: [TestVector] = []
        var block: [Substring]? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let lines = block {
                    if let head = lines.first, head.hasPrefix("@ ") || head.hasPrefix("! ") {
                        vectors += try Self.parse(lines.joined(separator: "\n"))
                    }
                    block = nil
                } else {
                    block = []
                }
            } else if block != nil {
                block?.append(line)
            }
        }
        return vectors
    }
}

enum VectorFiles {
    /// The repository root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ relativePath: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static func vectors() throws -> [TestVector] {
        try TestVector.parse(Self.read("docs/test-vectors/frames.hex"))
    }
}

/// The frames each valid vector decodes to.
enum ExpectedFrames {
    static func frames(for name: String) -> [Frame]? {
        let defaults = Settings()
        var server = Settings()
        server.maxFrameSize = 1 << 20
        server.maxConcurrentStreams = 100
        server.initialStreamWindow = 2 << 20
        server.initialConnectionWindow = 32 << 20
        server.maxMessageSize = 8 << 20
        server.maxMetadataSize = 32 << 10
        var partial = Settings()
        partial.maxMessageSize = 1 << 20
        var requestID = Metadata()
        requestID.addString("req-7f3a", forKey: "ova-request-id")
        var trace = Metadata()
        trace.addBinary([0x01, 0x02, 0xFF], forKey: "trace-bin")
        // ErrorDetails{field_violations: [{field: "email", description: "not an address"}], reason: "BAD_EMAIL"}
        let details: [UInt8] =
            [0x0A, 0x17, 0x0A, 0x05] + Array("email".utf8) + [0x12, 0x0E] + Array("not an address".utf8)
            + [0x1A, 0x09] + Array("BAD_EMAIL".utf8)

        switch name {
        case "connection-start", "settings-defaults":
            return [.settings(defaults)]
        case "settings-server":
            return [.settings(server)]
        case "settings-ack":
            return [.settingsAck]
        case "headers-request":
            let metadata = Metadata(["authorization": "Bearer abc.def.ghi", "user-agent": "ova-python/1.0"])
            return [
                .requestHeaders(
                    streamID: 1,
                    RequestHeaders(path: "ova.v1.Echo/Unary", timeoutMicroseconds: 5_000_000, metadata: metadata),
                    endStream: false
                )
            ]
        case "headers-request-end-stream":
            return [.requestHeaders(streamID: 3, RequestHeaders(path: "ova.v1.Echo/ClientStream"), endStream: true)]
        case "headers-response":
            return [.responseHeaders(streamID: 1, requestID)]
        case "message-request-end-stream":
            return [.message(streamID: 1, payload: byteBuffer([0x0A, 0x02, 0x68, 0x69]), flags: .endStream)]
        case "message-fragments":
            return [
                .message(streamID: 1, payload: byteBuffer([0x0A, 0x05, 0x68, 0x65]), flags: .continued),
                .message(streamID: 1, payload: byteBuffer("llo"), flags: []),
            ]
        case "message-empty":
            return [.message(streamID: 5, payload: ByteBuffer(), flags: [])]
        case "half-close":
            return [.halfClose(streamID: 5)]
        case "trailers-ok":
            return [.trailers(streamID: 1, Trailers(code: .ok, metadata: requestID))]
        case "trailers-error":
            return [
                .trailers(
                    streamID: 3,
                    Trailers(code: .invalidArgument, message: "email: invalid", details: details, metadata: trace)
                )
            ]
        case "reset-cancelled":
            return [.reset(streamID: 7, code: .cancelled)]
        case "window-update-connection":
            return [.windowUpdate(streamID: 0, increment: 8 << 20)]
        case "window-update-stream":
            return [.windowUpdate(streamID: 1, increment: 65_536)]
        case "ping":
            return [.ping(data: 0x0102_0304_0506_0708, ack: false)]
        case "ping-ack":
            return [.ping(data: 0x0102_0304_0506_0708, ack: true)]
        case "goaway-graceful":
            return [.goAway(lastStreamID: 9, code: .ok, debugMessage: "shutting down")]
        case "goaway-bad-preface":
            return [.goAway(lastStreamID: 0, code: .internalError, debugMessage: "bad preface")]
        case "unknown-type-skipped":
            return [.ping(data: 42, ack: false)]
        case "ignored-bits":
            return [.ping(data: 7, ack: false)]
        case "settings-partial":
            return [.settings(partial)]
        case "reset-unknown-code":
            return [.reset(streamID: 9, code: .unknown)]
        default:
            return nil
        }
    }
}

@Suite("Test vectors (docs/test-vectors/frames.hex, docs/PROTOCOL.md)")
struct TestVectorTests {
    static let vectors: [TestVector] = (try? VectorFiles.vectors()) ?? []

    @Test("the vector file parses and covers every frame type and every error kind")
    func fileCoverage() throws {
        let vectors = try VectorFiles.vectors()
        #expect(vectors.count >= 30)
        #expect(Set(vectors.map(\.name)).count == vectors.count, "vector names are unique")

        var types = Set<UInt8>()
        for vector in vectors where vector.expectation == .valid(decodeOnly: false) {
            let bytes = vector.direction == .rawClientToServer ? Array(vector.bytes.dropFirst(8)) : vector.bytes
            types.insert(bytes[3])
        }
        #expect(types == Set(FrameType.allCases.map(\.rawValue)), "a canonical vector for every frame type")

        var kinds = Set<String>()
        for vector in vectors {
            if case .invalid(let kind, _) = vector.expectation { kinds.insert(kind) }
        }
        #expect(kinds.isSuperset(of: ["badPreface", "frameTooLarge", "malformedFrame", "invalidStreamID",
                                      "invalidMetadataKey", "invalidUTF8", "invalidSetting"]))
    }

    @Test("PROTOCOL.md shows exactly the vectors of frames.hex, byte for byte")
    func markdownMatchesFile() throws {
        let file = try VectorFiles.vectors()
        let markdown = try TestVector.parseMarkdown(VectorFiles.read("docs/PROTOCOL.md"))
        #expect(markdown.map(\.name) == file.map(\.name))
        for (fromDocs, fromFile) in zip(markdown, file) {
            #expect(fromDocs == fromFile, "vector \(fromFile.name) differs between PROTOCOL.md and frames.hex")
        }
    }

    @Test("every valid vector has an expected value and vice versa")
    func expectationsExist() throws {
        for vector in try VectorFiles.vectors() {
            switch vector.expectation {
            case .valid:
                #expect(ExpectedFrames.frames(for: vector.name) != nil, "no expected frames for \(vector.name)")
            case .invalid:
                #expect(ExpectedFrames.frames(for: vector.name) == nil)
            }
        }
    }

    @Test("valid vectors decode to the expected frames however the bytes are split", arguments: Self.vectors)
    func decodesValidVector(_ vector: TestVector) throws {
        guard case .valid = vector.expectation else { return }
        let expected = try #require(ExpectedFrames.frames(for: vector.name))
        for feeding in Feeding.all {
            let result = try decodeFrames(vector.wireBytes, decoder: vector.decoder, feeding: feeding)
            #expect(result.frames == expected, "\(vector.name), \(feeding)")
            #expect(result.leftover == 0, "\(vector.name), \(feeding)")
        }
    }

    @Test("canonical vectors are what the encoder writes, byte for byte", arguments: Self.vectors)
    func encodesValidVector(_ vector: TestVector) throws {
        guard vector.expectation == .valid(decodeOnly: false) else { return }
        let expected = try #require(ExpectedFrames.frames(for: vector.name))
        var encoded = encodeFrames(expected)
        if vector.direction == .rawClientToServer {
            var buffer = ByteBuffer()
            FrameEncoder.writePreface(into: &buffer)
            encoded = Array(buffer.readableBytesView) + encoded
        }
        #expect(hexString(encoded) == hexString(vector.bytes), "\(vector.name)")
    }

    @Test("decode-only vectors really are non-canonical", arguments: Self.vectors)
    func decodeOnlyVectorsDiffer(_ vector: TestVector) throws {
        guard vector.expectation == .valid(decodeOnly: true) else { return }
        let expected = try #require(ExpectedFrames.frames(for: vector.name))
        #expect(encodeFrames(expected) != vector.bytes, "\(vector.name) should be marked canonical")
    }

    @Test("invalid vectors are rejected with the right error however the bytes are split", arguments: Self.vectors)
    func rejectsInvalidVector(_ vector: TestVector) throws {
        guard case .invalid(let kind, let goAwayCode) = vector.expectation else { return }
        for feeding in Feeding.all {
            let error = wireError { () throws(WireError) in try decodeFrames(vector.wireBytes, decoder: vector.decoder, feeding: feeding) }
            #expect(error?.kind.caseName == kind, "\(vector.name), \(feeding): \(String(describing: error))")
            #expect(error?.statusCode.name == goAwayCode, "\(vector.name)")
        }
    }
}
