import OvaProto
import OvaProtobuf
import Testing

@Suite struct JSONTests {
    @Test func encodesEveryFieldKind() throws {
        let request = EchoRequest(text: "hi \"there\"\n", payload: [0xDE, 0xAD, 0xBE, 0xEF], responseCount: 3, failWith: EchoFailure(code: 5, message: "m"), echoMetadata: true)
        #expect(try request.jsonString() == #"{"text":"hi \"there\"\n","payload":"3q2+7w==","responseCount":3,"failWith":{"code":5,"message":"m"},"echoMetadata":true}"#)

        // 64-bit integers are strings; defaults are omitted.
        let admin = Admin(id: -9_007_199_254_740_993, name: "", createdAtUnixMs: UInt64.max)
        #expect(try admin.jsonString() == #"{"id":"-9007199254740993","createdAtUnixMs":"18446744073709551615"}"#)
        #expect(try Admin().jsonString() == "{}")

        // Enums by name, unknown ones by number; nested enums.
        #expect(try HealthCheckResponse(status: .notServing).jsonString() == #"{"status":"NOT_SERVING"}"#)
        #expect(try HealthCheckResponse(status: .init(rawValue: 42)).jsonString() == #"{"status":42}"#)

        // Maps are objects, repeated fields arrays, oneofs their set member (even when default).
        let response = EchoResponse(metadata: ["k": "v"])
        #expect(try response.jsonString() == #"{"metadata":{"k":"v"}}"#)
        let config = RecognitionConfig(encoding: .wav, phraseHints: ["a", "b"])
        #expect(try config.jsonString() == #"{"encoding":"AUDIO_ENCODING_WAV","phraseHints":["a","b"]}"#)
        #expect(try RecognizeRequest(request: .audio([])).jsonString() == #"{"audio":""}"#)
        #expect(try SignStreamEvent(event: .word("w")).jsonString() == #"{"word":"w"}"#)

        // Floats: shortest form; NaN and infinities as strings.
        #expect(try SystemStatus(loadAverage1m: 0.25).jsonString() == #"{"loadAverage1m":0.25}"#)
        #expect(try SystemStatus(loadAverage1m: .nan).jsonString() == #"{"loadAverage1m":"NaN"}"#)
        #expect(try SystemStatus(loadAverage1m: -.infinity).jsonString() == #"{"loadAverage1m":"-Infinity"}"#)
    }

    @Test func prettyPrinting() throws {
        let summary = EchoSummary(messageCount: 2, lastText: "x")
        #expect(try summary.jsonString(pretty: true) == "{\n  \"messageCount\": \"2\",\n  \"lastText\": \"x\"\n}")
        let chat = ChatOptions(stop: ["a"])
        #expect(try chat.jsonString(pretty: true) == "{\n  \"stop\": [\n    \"a\"\n  ]\n}")
    }

    @Test func roundTripsThroughJSON() throws {
        let messages: [any ProtobufMessage] = [
            EchoRequest(text: "ünï 👋", payload: Array(0...255), responseCount: 1, responseSize: 2, delayMs: 3, failWith: EchoFailure(code: 1, message: ""), echoMetadata: true),
            EchoResponse(text: "t", payload: [1], sequence: UInt64.max, metadata: ["a": "1", "b": "2"]),
            Admin(id: Int64.min, name: "n", email: "e", superadmin: true, active: true, createdAtUnixMs: 1, updatedAtUnixMs: 2),
            RecognizeRequest(request: .config(RecognitionConfig(encoding: .linear16, sampleRateHz: 16000, phraseHints: ["x"]))),
            VoiceRequest(request: .control(.endOfUtterance)),
            SpeechResult(alternatives: [SpeechAlternative(transcript: "a", confidence: 0.5, words: [WordInfo(word: "a")])], isFinal: true, stability: 0.125),
            ServerStatus(version: "1", system: SystemStatus(loadAverage1m: 1.5), providers: [ProviderStatus(name: "p", circuitState: .halfOpen, errorRate: 0.1)]),
            ErrorDetails(fieldViolations: [FieldViolation(field: "f", description: "d")], retryInfo: RetryInfo(retryDelayMs: 9), metadata: ["x": "y"]),
            HealthCheckResponse(status: .init(rawValue: 99)),
        ]
        for message in messages {
            try Self.checkRoundTrip(message)
        }
    }

    static func checkRoundTrip<M: ProtobufMessage>(_ message: M) throws {
        let json = try message.jsonString()
        let decoded = try M(jsonString: json)
        #expect(decoded == message, "\(M.self) via \(json)")
        let pretty = try message.jsonString(pretty: true)
        #expect(try M(jsonString: pretty) == message)
    }

    @Test func decodingIsLenientWhereProto3JSONAllows() throws {
        // Original field names, numbers as strings, int64 as numbers, enum numbers, null.
        let request = try EchoRequest(jsonString: #"{"response_count": "7", "delayMs": 1e1, "text": null, "fail_with": {"code": 2}}"#)
        #expect(request == EchoRequest(responseCount: 7, delayMs: 10, failWith: EchoFailure(code: 2)))
        let admin = try Admin(jsonString: #"{"id": -9007199254740993, "createdAtUnixMs": "18446744073709551615"}"#)
        #expect(admin.id == -9_007_199_254_740_993)
        #expect(admin.createdAtUnixMs == UInt64.max)
        #expect(try HealthCheckResponse(jsonString: #"{"status": 2}"#).status == .notServing)
        #expect(try SystemStatus(jsonString: #"{"loadAverage1m": "Infinity"}"#).loadAverage1m == .infinity)
        // URL-safe, unpadded base64.
        #expect(try EchoRequest(jsonString: #"{"payload": "3q2-7w"}"#).payload == [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(try EchoRequest(jsonString: " { } ") == EchoRequest())
        #expect(try EchoRequest(jsonString: #"{"text": "\u00e9\ud83d\udc4b\t"}"#).text == "é👋\t")
    }

    /// The message of the ProtobufError `body` throws (nil when it does not throw one).
    static func error(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? ProtobufError)?.message
        }
    }

    @Test func errorsNameTheField() {
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"responseCount": true}"#) } == #"field "responseCount": expected a number"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"responseCount": "many"}"#) } == #"field "responseCount": expected a number"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"responseCount": -1}"#) } == #"field "responseCount": -1 is out of range for uint32"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"responseCount": 1.5}"#) } == #"field "responseCount": 1.5 is not a valid uint32"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"responseCount": 4294967296}"#) } == #"field "responseCount": 4294967296 is out of range for uint32"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"text": 5}"#) } == #"field "text": expected a string"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"payload": "!!"}"#) } == #"field "payload": invalid base64"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"failWith": {"code": "x"}}"#) } == #"field "failWith.code": expected a number"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"failWith": []}"#) } == #"field "failWith": expected an object"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"colour": 1}"#) } == #"unknown field "colour" in ova.v1.EchoRequest"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"text": "a", "text": "b"}"#) } == #"field "text": given more than once"#)
        #expect(Self.error { _ = try EchoResponse(jsonString: #"{"metadata": ["a"]}"#) } == #"field "metadata": expected an object"#)
        #expect(Self.error { _ = try ChatOptions(jsonString: #"{"stop": "a"}"#) } == #"field "stop": expected an array"#)
        #expect(Self.error { _ = try HealthCheckResponse(jsonString: #"{"status": "BUSY"}"#) } == #"field "status": unknown ova.v1.HealthCheckResponse.ServingStatus value "BUSY""#)
        #expect(Self.error { _ = try RecognizeRequest(jsonString: #"{"audio": "", "config": {}}"#) } == #"field "config": "audio" of the same oneof is already set"#)
        #expect(Self.error { _ = try ChatOptions(jsonString: #"{"temperature": 1e39}"#) } == #"field "temperature": 1e+39 is out of range for float"#)
        #expect(Self.error { _ = try EchoRequest(jsonString: "[]") } == "expected a JSON object for ova.v1.EchoRequest")
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"text": "a",}"#) }?.hasPrefix("invalid JSON at offset") == true)
        #expect(Self.error { _ = try EchoRequest(jsonString: #"{"text": "\ud83d"}"#) }?.contains("surrogate") == true)
        #expect(Self.error { _ = try EchoRequest(jsonString: String(repeating: "[", count: 5000)) } != nil)
    }

    @Test func descriptorLevelAPI() throws {
        let bytes = EchoSummary(messageCount: 3).serializedBytes()
        let json = try ProtobufJSON.encode(serialized: bytes, descriptor: EchoSummary.protobufCDescriptor)
        #expect(json == #"{"messageCount":"3"}"#)
        #expect(try ProtobufJSON.decode(json: json, descriptor: EchoSummary.protobufCDescriptor) == bytes)
        #expect(throws: ProtobufError.self) {
            try ProtobufJSON.encode(serialized: [0xFF], descriptor: EchoSummary.protobufCDescriptor)
        }
    }
}
