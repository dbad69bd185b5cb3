import COvaProto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import OvaProto
import OvaProtobuf
import OvaTestSupport
import Testing

/// Messages survive Swift → protobuf-c pack → protobuf-c unpack → Swift with every field kind.
@Suite struct RoundTripTests {
    static func roundTrip<M: ProtobufMessage>(_ message: M) throws -> M {
        let bytes = message.serializedBytes()
        return try M(serializedBytes: bytes)
    }

    @Test func scalarsStringsBytesAndSubMessages() throws {
        let request = EchoRequest(
            text: "héllo wörld 👋 日本語",
            payload: [0, 1, 2, 255, 0, 128],
            responseCount: 3,
            responseSize: UInt32.max,
            delayMs: 17,
            failWith: EchoFailure(code: 13, message: "boom"),
            echoMetadata: true
        )
        let decoded = try Self.roundTrip(request)
        #expect(decoded == request)
        #expect(decoded.failWith?.message == "boom")
    }

    @Test func emptyMessageHasNoBytesAndDecodesToDefaults() throws {
        #expect(EchoRequest().serializedBytes().isEmpty)
        #expect(try EchoRequest(serializedBytes: [UInt8]()) == EchoRequest())
        // An empty sub-message keeps its presence.
        let withEmpty = EchoRequest(failWith: EchoFailure())
        #expect(withEmpty.serializedBytes() == [0x32, 0x00])
        #expect(try Self.roundTrip(withEmpty).failWith == EchoFailure())
    }

    @Test func signedAndWideIntegers() throws {
        let admin = Admin(id: Int64.min, name: "a", email: "e", superadmin: true, active: false, createdAtUnixMs: UInt64.max, updatedAtUnixMs: 1)
        #expect(try Self.roundTrip(admin) == admin)
        let negative = Admin(id: -1)
        #expect(try Self.roundTrip(negative).id == -1)
    }

    @Test func floatsAndDoubles() throws {
        let status = SystemStatus(platform: "linux", cpuCount: 2, residentMemoryBytes: 1 << 40, loadAverage1m: 0.125)
        #expect(try Self.roundTrip(status) == status)
        let options = ChatOptions(model: "m", temperature: 0.7, topP: -1.5, maxTokens: 10, stop: ["\n", "END", ""])
        let decoded = try Self.roundTrip(options)
        #expect(decoded == options)
        #expect(decoded.stop.count == 3)
        let nan = SignAlternative(label: "x", confidence: .nan)
        #expect(try Self.roundTrip(nan).confidence.isNaN)
    }

    @Test func repeatedMessagesAndNesting() throws {
        let response = RecognizeResponse(
            results: [
                SpeechResult(
                    alternatives: [
                        SpeechAlternative(transcript: "hello", confidence: 0.9, words: [WordInfo(word: "hello", startMs: 0, endMs: 400, confidence: 0.8)]),
                        SpeechAlternative(transcript: "yellow", confidence: 0.1),
                    ],
                    isFinal: true,
                    stability: 1,
                    resultEndMs: 400,
                    languageCode: "en-US"
                ),
                SpeechResult(),
            ],
            provider: "local"
        )
        let decoded = try Self.roundTrip(response)
        #expect(decoded == response)
        #expect(decoded.results[0].alternatives[0].words[0].endMs == 400)
        #expect(decoded.results[1] == SpeechResult())
    }

    @Test func oneofs() throws {
        let config = RecognizeRequest(request: .config(RecognitionConfig(encoding: .linear16, sampleRateHz: 16000, languageCode: "es-ES", phraseHints: ["hola", "adiós"])))
        #expect(try Self.roundTrip(config) == config)
        let audio = RecognizeRequest(request: .audio([1, 2, 3]))
        #expect(try Self.roundTrip(audio) == audio)
        #expect(try Self.roundTrip(audio).audio == [1, 2, 3])
        #expect(try Self.roundTrip(audio).config == nil)
        // A oneof case set to its default value keeps its presence.
        let emptyAudio = RecognizeRequest(request: .audio([]))
        #expect(try Self.roundTrip(emptyAudio).request == .audio([]))
        let emptyWord = SignStreamEvent(event: .word(""), frameTimestampMs: 5)
        #expect(try Self.roundTrip(emptyWord) == emptyWord)
        let control = VoiceRequest(request: .control(.cancelAnswer))
        #expect(try Self.roundTrip(control) == control)
        #expect(try Self.roundTrip(RecognizeRequest()).request == nil)
        // Setting through the case accessor.
        var event = ChatResponse()
        event.delta = ChatDelta(content: "tok")
        #expect(event.done == nil)
        #expect(try Self.roundTrip(event).response == .delta(ChatDelta(content: "tok")))
    }

    @Test func maps() throws {
        let response = EchoResponse(text: "t", payload: [9], sequence: 7, metadata: ["a": "1", "b": "", "": "empty key", "ü": "ö"])
        let decoded = try Self.roundTrip(response)
        #expect(decoded == response)
        let details = ErrorDetails(
            fieldViolations: [FieldViolation(field: "email", description: "bad")],
            retryInfo: RetryInfo(retryDelayMs: 250),
            reason: "CIRCUIT_OPEN",
            domain: "ova.auth",
            metadata: ["k": "v"],
            requestId: "r-1"
        )
        #expect(try Self.roundTrip(details) == details)
    }

    @Test func enumsKeepUnknownValues() throws {
        let known = HealthCheckResponse(status: .notServing)
        #expect(try Self.roundTrip(known).status == .notServing)
        let unknown = HealthCheckResponse(status: HealthCheckResponse.ServingStatus(rawValue: 42))
        let decoded = try Self.roundTrip(unknown)
        #expect(decoded.status.rawValue == 42)
        #expect(decoded.status.name == nil)
        #expect(HealthCheckResponse.ServingStatus.serviceUnknown.name == "SERVICE_UNKNOWN")
        #expect(HealthCheckResponse.ServingStatus(name: "SERVING") == .serving)
        #expect(AudioEncoding.linear16.rawValue == 1)
        #expect(AudioEncoding.allKnownValues == [.unspecified, .linear16, .wav])
        let negative = ChatMessage(role: ChatRole(rawValue: -3), content: "x")
        #expect(try Self.roundTrip(negative).role.rawValue == -3)
    }

    @Test func largeMessagesSpillOutOfTheStackBlock() throws {
        let big = EchoRequest(text: String(repeating: "x", count: 10_000), payload: [UInt8](repeating: 7, count: 1 << 20))
        #expect(try Self.roundTrip(big) == big)
        let many = ListVoicesResponse(voices: (0..<500).map { VoiceInfo(name: "voice \($0)", languageCodes: ["en", "es"], gender: "f", provider: "p") })
        #expect(try Self.roundTrip(many) == many)
    }

    @Test func serializeAppendsToTheBuffer() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 4)
        buffer.writeBytes([0xAA, 0xBB])
        EchoSummary(messageCount: 1, byteCount: 2, lastText: "z").serialize(into: &buffer)
        #expect(buffer.readBytes(length: 2) == [0xAA, 0xBB])
        #expect(try EchoSummary(serializedBytes: buffer) == EchoSummary(messageCount: 1, byteCount: 2, lastText: "z"))
    }

    @Test func knownWireBytes() {
        // Field 1 (text) "hi", field 3 varint 150.
        #expect(EchoRequest(text: "hi", responseCount: 150).serializedBytes() == [0x0A, 0x02, 0x68, 0x69, 0x18, 0x96, 0x01])
    }
}

/// Swift and the C structs agree: Swift bytes unpack in C, C bytes decode in Swift.
@Suite struct CrossCheckTests {
    @Test func swiftBytesDecodeWithC() throws {
        let request = EchoRequest(text: "ünï", payload: [1, 2], responseCount: 9, failWith: EchoFailure(code: 5, message: "m"), echoMetadata: true)
        let bytes = request.serializedBytes()
        let unpacked = try #require(bytes.withUnsafeBufferPointer { ova__v1__echo_request__unpack(nil, $0.count, $0.baseAddress) })
        defer { ova__v1__echo_request__free_unpacked(unpacked, nil) }
        #expect(String(cString: unpacked.pointee.text) == "ünï")
        #expect(unpacked.pointee.payload.len == 2)
        #expect(unpacked.pointee.response_count == 9)
        #expect(unpacked.pointee.echo_metadata != 0)
        #expect(unpacked.pointee.fail_with.pointee.code == 5)
        #expect(String(cString: unpacked.pointee.fail_with.pointee.message) == "m")
    }

    @Test func cBytesDecodeInSwift() throws {
        var summary = Ova__V1__EchoSummary()
        ova__v1__echo_summary__init(&summary)
        summary.message_count = 12
        summary.byte_count = UInt64.max
        let text = strdup("last ✓")
        defer { free(text) }
        summary.last_text = text
        let size = ova__v1__echo_summary__get_packed_size(&summary)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { ova__v1__echo_summary__pack(&summary, $0.baseAddress) }
        #expect(written == size)
        let decoded = try EchoSummary(serializedBytes: bytes)
        #expect(decoded == EchoSummary(messageCount: 12, byteCount: UInt64.max, lastText: "last ✓"))
        // And the Swift encoding is byte-identical to protobuf-c's.
        #expect(decoded.serializedBytes() == bytes)
    }

    @Test func oneofFromC() throws {
        var request = Ova__V1__RecognizeRequest()
        ova__v1__recognize_request__init(&request)
        var config = Ova__V1__RecognitionConfig()
        ova__v1__recognition_config__init(&config)
        config.sample_rate_hz = 8000
        request.request_case = OVA__V1__RECOGNIZE_REQUEST__REQUEST_CONFIG
        let bytes: [UInt8] = withUnsafeMutablePointer(to: &config) { configPointer in
            request.config = configPointer
            let size = ova__v1__recognize_request__get_packed_size(&request)
            var bytes = [UInt8](repeating: 0, count: size)
            _ = bytes.withUnsafeMutableBufferPointer { ova__v1__recognize_request__pack(&request, $0.baseAddress) }
            return bytes
        }
        let decoded = try RecognizeRequest(serializedBytes: bytes)
        #expect(decoded.config?.sampleRateHz == 8000)
    }

    @Test func descriptorsAreTheCDescriptors() {
        #expect(EchoRequest.protobufCDescriptor.name == "ova.v1.EchoRequest")
        #expect(EchoRequest.protoMessageName == "ova.v1.EchoRequest")
        #expect(HealthCheckResponse.protobufCDescriptor.name == "ova.v1.HealthCheckResponse")
        #expect(EchoRequest.protobufCDescriptor.pointer.pointee.sizeof_message == MemoryLayout<Ova__V1__EchoRequest>.size)
    }
}

/// Decoding hostile input throws ``ProtobufError`` and never crashes.
@Suite struct GarbageTests {
    @Test func truncatedAndInvalidInputThrows() {
        #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: [0x0A, 0x05, 0x61]) }  // length past the end
        #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: [0x18, 0xFF]) }  // truncated varint
        #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: [0x32, 0x02, 0xFF, 0xFF]) }  // bad sub-message
        #expect(throws: ProtobufError.self) { try EchoRequest(serializedBytes: [0x07]) }  // wire type 7
    }

    static func decodes(_ type: any ProtobufMessage.Type, _ bytes: [UInt8]) -> Bool {
        do {
            _ = try type.init(serializedBytes: bytes)
            return true
        } catch {
            return false
        }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SplitMix64(seed: 0x0DA_5EED)
        var failures = 0
        var successes = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 0...48, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for type in [EchoRequest.self, EchoResponse.self, VoiceEvent.self, ServerStatus.self] as [any ProtobufMessage.Type] {
                if Self.decodes(type, bytes) { successes += 1 } else { failures += 1 }
            }
        }
        #expect(failures > 0)
        #expect(successes > 0)
    }

    @Test func mutatedValidMessagesNeverCrash() throws {
        var generator = SplitMix64(seed: 42)
        let valid = VoiceEvent(turn: 3, event: .completed(TurnCompleted(turn: 3, transcript: "hola", answer: "¿qué?", finishReason: .stop))).serializedBytes()
        for _ in 0..<2000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator))
            }
            _ = try? VoiceEvent(serializedBytes: bytes)
        }
        #expect(try VoiceEvent(serializedBytes: valid).turn == 3)
    }
}
