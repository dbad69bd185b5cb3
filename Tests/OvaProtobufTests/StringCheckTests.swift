import OvaProto
import OvaProtobuf
import Testing

/// String fields are never changed silently: a NUL byte or invalid UTF-8 anywhere in a message
/// fails decoding with the field's path (docs/PROTOCOL.md §11.1).
@Suite struct StringCheckTests {
    // MARK: - Hand-made wire bytes (the Swift encoder cannot produce invalid strings)

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    /// A length-delimited field (string, bytes, message).
    static func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
    }

    static func field(_ number: UInt64, _ text: String) -> [UInt8] {
        field(number, Array(text.utf8))
    }

    /// The invalid field `M` reports for `bytes`; nil when they decode (or fail without one).
    static func violation<M: ProtobufMessage>(_ type: M.Type, _ bytes: [UInt8]) -> ProtobufError.InvalidField? {
        do {
            _ = try M(serializedBytes: bytes)
            return nil
        } catch {
            return error.invalidField
        }
    }

    static func expected(_ path: String, _ description: String) -> ProtobufError.InvalidField {
        ProtobufError.InvalidField(path: path, description: description)
    }

    static let nul = "contains a NUL byte"
    static let invalid = "is not valid UTF-8"

    // MARK: - Where the string is

    @Test func nulInATopLevelStringIsRejectedWithItsName() throws {
        let bytes = Self.field(1, Array("Nul".utf8) + [0] + Array("Name".utf8))
        let error = #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: bytes) }
        #expect(error?.invalidField == Self.expected("text", Self.nul))
        #expect(error?.message == "text contains a NUL byte")
    }

    @Test func invalidUTF8InATopLevelStringIsRejected() {
        #expect(Self.violation(EchoRequest.self, Self.field(1, [0x61, 0xFF, 0x62])) == Self.expected("text", Self.invalid))
    }

    @Test func nestedMessageStringsAreChecked() {
        // EchoRequest.fail_with (6) → EchoFailure.message (2)
        let failure = Self.varint(1 << 3) + Self.varint(5) + Self.field(2, [0x62, 0x00])
        let bytes = Self.field(1, "fine") + Self.field(6, failure)
        #expect(Self.violation(EchoRequest.self, bytes) == Self.expected("fail_with.message", Self.nul))
    }

    @Test func repeatedMessagesAreIndexed() {
        // ChatRequest.messages (1) → ChatMessage.content (2); the third message is bad.
        let good = Self.field(1, Self.varint(1 << 3) + Self.varint(1) + Self.field(2, "hola"))
        let bad = Self.field(1, Self.field(2, [0xED, 0xA0, 0x80]))
        let bytes = good + Self.field(3, "conversation") + good + bad + good
        #expect(Self.violation(ChatRequest.self, bytes) == Self.expected("messages[2].content", Self.invalid))
    }

    @Test func repeatedStringsAreIndexed() {
        // ChatRequest.options (2) → ChatOptions.stop (5), second element.
        let options = Self.field(1, "model") + Self.field(5, "END") + Self.field(5, [0x53, 0x00])
        #expect(Self.violation(ChatRequest.self, Self.field(2, options)) == Self.expected("options.stop[1]", Self.nul))
    }

    @Test func stringsInsideOneofsAreChecked() {
        // RecognizeRequest.config (1, oneof request) → RecognitionConfig.phrase_hints (5)[1].
        let config = Self.field(3, "en-US") + Self.field(5, "open the door") + Self.field(5, [0xC0, 0xAF])
        #expect(Self.violation(RecognizeRequest.self, Self.field(1, config)) == Self.expected("config.phrase_hints[1]", Self.invalid))
    }

    @Test func mapValuesAreNamedByTheirKeyAndBadKeysByTheMap() {
        // ErrorDetails.metadata (5): entries {key 1, value 2}.
        let goodEntry = Self.field(5, Self.field(1, "a") + Self.field(2, "b"))
        let badValue = Self.field(5, Self.field(1, "tr\"ace") + Self.field(2, [0x78, 0x00]))
        #expect(Self.violation(ErrorDetails.self, goodEntry + badValue) == Self.expected(#"metadata["tr\"ace"]"#, Self.nul))
        let badKey = Self.field(5, Self.field(1, [0xF8, 0x88, 0x80, 0x80, 0x80]) + Self.field(2, "v"))
        #expect(Self.violation(ErrorDetails.self, goodEntry + badKey) == Self.expected("metadata", "has a key that is not valid UTF-8"))
    }

    @Test func stringsInRepeatedNestedMessagesOfResponsesAreCheckedToo() {
        // ErrorDetails.field_violations (1)[1] → FieldViolation.description (2)
        let first = Self.field(1, Self.field(1, "email") + Self.field(2, "not an address"))
        let second = Self.field(1, Self.field(1, "name") + Self.field(2, [0xE2, 0x82]))
        #expect(Self.violation(ErrorDetails.self, first + second) == Self.expected("field_violations[1].description", Self.invalid))
    }

    // MARK: - What is not a string

    @Test func bytesFieldsAndUnknownFieldsMayHoldAnything() throws {
        let bytes = Self.field(2, [0x00, 0xFF, 0xC0, 0x80])          // payload: bytes
            + Self.field(99, [0x00, 0xFF])                           // unknown, length-delimited
            + Self.varint(98 << 3) + Self.varint(300)                // unknown varint
            + Self.varint(97 << 3 | 5) + [0x00, 0x00, 0x00, 0x00]    // unknown fixed32
            + Self.varint(96 << 3 | 1) + [UInt8](repeating: 0, count: 8) // unknown fixed64
            + Self.field(1, "after the unknown fields")
        let decoded = try EchoRequest(serializedBytes: bytes)
        #expect(decoded.payload == [0x00, 0xFF, 0xC0, 0x80])
        #expect(decoded.text == "after the unknown fields")
    }

    @Test func malformedInputKeepsProtobufCsVerdict() {
        // A length running past the end: protobuf-c refuses it, no field is named.
        let error = #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: [0x0A, 0x7F, 0x00, 0xFF]) }
        #expect(error?.invalidField == nil)
        #expect(error?.message.contains("invalid ova.v1.EchoRequest") == true)
    }

    @Test func validTextOfEveryLengthIsAccepted() throws {
        let texts = [
            "", "a", "plain ASCII longer than eight bytes, to use the word-at-a-time path",
            "é", "ñandú", "€", "日本語テキスト", "👋", "mixed 👋 é € and ASCII around them 🙂",
            String(repeating: "👍🏽", count: 40), "\u{FFFF}", "\u{10FFFF}", "\u{E000}",
        ]
        for text in texts {
            let decoded = try EchoRequest(serializedBytes: Self.field(1, text))
            #expect(decoded.text == text)
        }
    }

    // MARK: - The validator itself

    static func problem(_ bytes: [UInt8]) -> ProtobufStringCheck.Problem? {
        bytes.withUnsafeBytes { ProtobufStringCheck.problem(in: $0) }
    }

    @Test func nulBytesAreFoundAtAnyPosition() {
        for position in 0..<20 {
            var bytes = [UInt8](repeating: 0x61, count: 20)
            bytes[position] = 0
            #expect(Self.problem(bytes) == .nulByte, "NUL at \(position)")
        }
    }

    @Test(arguments: [
        [0xC0, 0x80],                   // overlong NUL
        [0xC1, 0xBF],                   // overlong 2-byte
        [0xE0, 0x80, 0xAF],             // overlong 3-byte
        [0xF0, 0x80, 0x80, 0xAF],       // overlong 4-byte
        [0xED, 0xA0, 0x80],             // high surrogate U+D800
        [0xED, 0xBF, 0xBF],             // low surrogate U+DFFF
        [0xF4, 0x90, 0x80, 0x80],       // U+110000
        [0xF5, 0x80, 0x80, 0x80],       // lead byte past U+10FFFF
        [0xFF],
        [0x80],                         // lone continuation
        [0xE2, 0x82],                   // truncated €
        [0xF0, 0x9F, 0x91],             // truncated 👋
        [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xE2, 0x28, 0xA1], // bad continuation after 8 ASCII
    ] as [[UInt8]])
    func malformedUTF8IsRejected(bytes: [UInt8]) {
        #expect(Self.problem(bytes) == .invalidUTF8)
    }

    @Test func wellFormedBoundariesAreAccepted() {
        let boundaries: [[UInt8]] = [
            [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x91, 0x8B], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        for bytes in boundaries {
            #expect(Self.problem(bytes) == nil, "\(bytes)")
        }
    }

    /// Rough cost of the check on an Echo request, for the record (not asserted: speed belongs
    /// in benchmarks). Run with `swift test --filter StringCheckTests` and read the output.
    @Test func decodeCostOfAnEchoRequest() throws {
        let request = EchoRequest(text: "hello, this is a typical short echo text", payload: [1, 2, 3], responseCount: 1)
        let bytes = request.serializedBytes()
        let iterations = 200_000
        let clock = ContinuousClock()
        var checked = 0
        let checkTime = bytes.withUnsafeBytes { raw in
            clock.measure {
                for _ in 0..<iterations where ProtobufStringCheck.firstViolation(in: raw, of: EchoRequest.protobufCDescriptor) == nil {
                    checked += 1
                }
            }
        }
        var decoded = 0
        let decodeTime = try clock.measure {
            for _ in 0..<iterations {
                decoded += try EchoRequest(serializedBytes: bytes).text.utf8.count
            }
        }
        #expect(checked == iterations)
        #expect(decoded == iterations * request.text.utf8.count)
        let perCheck = checkTime / iterations
        let perDecode = decodeTime / iterations
        print("StringCheck: \(perCheck) per Echo request check, \(perDecode) per full decode (check included)")
    }
}
