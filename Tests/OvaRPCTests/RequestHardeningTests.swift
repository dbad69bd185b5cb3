import Logging
import OvaProto
import OvaServices
import OvaTestServer
import Synchronization
import Testing

@testable import OvaRPC

/// Issue 11 ("Protocol hardening"): strings are never changed silently, errors keep their cause
/// for the log, reserved metadata stays out of handlers, details carry the request id.
@Suite struct RequestHardeningTests {
    /// An Echo/Unary request whose `text` (field 1) is exactly `bytes`.
    static func echoRequest(text bytes: [UInt8]) -> RawMessage {
        RawMessage(bytes: [0x0A, UInt8(bytes.count)] + bytes)
    }

    static func failure(_ channel: RPCChannel, _ request: RawMessage) async -> RPCError? {
        do {
            _ = try await channel.unary(EchoService.Method.unary, request: request, responseType: EchoResponse.self)
            return nil
        } catch {
            return error as? RPCError
        }
    }

    // MARK: - Strings (PROTOCOL.md §11.1)

    @Test func aNulInAStringIsInvalidArgumentNamingTheField() async throws {
        try await withServer { _, channel in
            let error = await Self.failure(channel, Self.echoRequest(text: Array("Nul".utf8) + [0] + Array("Name".utf8)))
            #expect(error?.code == .invalidArgument)
            let violations = error?.errorDetails?.fieldViolations ?? []
            #expect(violations.map(\.field) == ["text"])
            #expect(violations.map(\.description) == ["contains a NUL byte"])
            #expect(error?.message.contains("text contains a NUL byte") == true)
            // The details carry the same request id as the trailer (§11.2).
            let trailerID = try #require(error?.metadata.firstString(forKey: "ova-request-id"))
            #expect(error?.errorDetails?.requestId == trailerID)
        }
    }

    @Test func invalidUTF8InAStringIsInvalidArgumentNamingTheField() async throws {
        try await withServer { _, channel in
            // "caf" + a truncated é
            let error = await Self.failure(channel, Self.echoRequest(text: [0x63, 0x61, 0x66, 0xC3]))
            #expect(error?.code == .invalidArgument)
            #expect(error?.errorDetails?.fieldViolations.map(\.field) == ["text"])
            #expect(error?.errorDetails?.fieldViolations.map(\.description) == ["is not valid UTF-8"])
            // The connection is fine and valid text still round-trips unchanged.
            let echoed = try await EchoClient(channel: channel).unary(EchoRequest(text: "café 👋")).text
            #expect(echoed == "café 👋")
        }
    }

    // MARK: - Request id in the details (§11.2)

    @Test func validationErrorsCarryTheRequestIDInTheirDetails() async throws {
        try await withServer { _, channel in
            var invalid = EchoRequest()
            invalid.responseCount = EchoServiceHandler.maxResponseCount + 1
            let error = await #expect(throws: RPCError.self) { try await EchoClient(channel: channel).unary(invalid) }
            let trailerID = try #require(error?.metadata.firstString(forKey: "ova-request-id"))
            #expect(!trailerID.isEmpty)
            #expect(error?.errorDetails?.requestId == trailerID)
            #expect(error?.errorDetails?.fieldViolations.map(\.field) == ["response_count"])
        }
    }

    @Test func errorsWithoutDetailsGetNoneAdded() async throws {
        try await withServer { _, channel in
            var failing = EchoRequest()
            failing.failWith = EchoFailure(code: UInt32(StatusCode.notFound.rawValue), message: "no such thing")
            let error = await #expect(throws: RPCError.self) { try await EchoClient(channel: channel).unary(failing) }
            #expect(error?.code == .notFound)
            #expect(error?.details.isEmpty == true)
            #expect(error?.metadata.firstString(forKey: "ova-request-id")?.isEmpty == false)
        }
    }

    @Test func theRuntimesErrorDetailsDecodeAsTheSchemasErrorDetails() throws {
        let violation = ErrorDetailsEncoding.fieldViolation(field: "messages[2].content", description: "is not valid UTF-8")
        let decoded = try ErrorDetails(serializedBytes: violation)
        #expect(decoded.fieldViolations.map(\.field) == ["messages[2].content"])
        #expect(decoded.fieldViolations.map(\.description) == ["is not valid UTF-8"])

        var existing = ErrorDetails()
        existing.reason = "RATE_LIMITED"
        existing.requestId = "stale"
        let updated = try ErrorDetails(serializedBytes: ErrorDetailsEncoding.settingRequestID("abc-7", in: existing.serializedBytes()))
        #expect(updated.requestId == "abc-7")
        #expect(updated.reason == "RATE_LIMITED")
    }

    // MARK: - Reserved metadata (§15)

    @Test func reservedKeysNeverReachTheHandler() async throws {
        try await withServer { _, channel in
            var request = EchoRequest()
            request.echoMetadata = true
            var metadata = Metadata()
            metadata.addString("forged", forKey: "ova-request-id")
            metadata.addString("x", forKey: "ova-foo")
            metadata.addString("tests", forKey: "x-team")
            metadata.addString("kept", forKey: "nova-key")
            let response = try await EchoClient(channel: channel).unary(request, options: CallOptions(metadata: metadata))
            #expect(response.metadata["ova-request-id"] == nil)
            #expect(response.metadata["ova-foo"] == nil)
            #expect(response.metadata["x-team"] == "tests")
            #expect(response.metadata["nova-key"] == "kept")
        }
    }

    @Test func sanitizingKeepsOrderAndDuplicatesOfOtherKeys() {
        let clean = Metadata(["authorization": "Bearer a", "x-a": "1", "x-a": "2"])
        #expect(RequestMetadata.sanitized(clean) == clean)
        let mixed = Metadata(["ova-x": "0", "x-a": "1", "ova-request-id": "f", "x-a": "2", "ova": "bare"])
        #expect(RequestMetadata.sanitized(mixed) == Metadata(["x-a": "1", "x-a": "2", "ova": "bare"]))
    }

    // MARK: - Causes in the log

    @Test func serverFaultsAreLoggedWithTheirCauseAndRequestID() async throws {
        let records = CapturedRecords()
        var logger = Logger(label: "ova.test") { _ in CapturingLogHandler(records: records) }
        logger.logLevel = .info
        try await TestServer.start(logger: logger).run { _, channel in
            let expectations: [(StatusCode, Logger.Level?)] = [(.internalError, .error), (.unavailable, .warning), (.unknown, .error), (.notFound, nil)]
            for (code, level) in expectations {
                var request = EchoRequest()
                request.text = "probe \(code.name)"
                request.responseCount = UInt32(code.rawValue)
                let error = await #expect(throws: RPCError.self) {
                    _ = try await channel.unary(ProbeRecorder.fail, request: request, responseType: EchoResponse.self)
                }
                #expect(error?.code == code)
                // The cause never reaches the client.
                #expect(error?.message == "probe \(code.name)")
                #expect(error?.cause == nil)
                let requestID = try #require(error?.metadata.firstString(forKey: "ova-request-id"))
                let lines = records.all.filter { $0.message == "call failed" && $0.metadata["request_id"] == requestID }
                if let level {
                    #expect(lines.count == 1)
                    #expect(lines.first?.level == level)
                    #expect(lines.first?.metadata["cause"]?.contains("disk I/O error in probe.sqlite3") == true)
                    #expect(lines.first?.metadata["status"] == code.name)
                } else {
                    #expect(lines.isEmpty)
                }
            }
        }
    }

    @Test func causeTakesNoPartInEquality() {
        let plain = RPCError(code: .internalError, message: "m")
        let caused = RPCError(code: .internalError, message: "m", cause: ProbeCause(detail: "x"))
        #expect(plain == caused)
        #expect(plain.hashValue == caused.hashValue)
        #expect(!caused.description.contains("ProbeCause"))
        // Convertible and foreign errors keep what they were made from.
        #expect(RPCError.from(ProbeCause(detail: "y")).cause is ProbeCause)
        #expect(RPCError.from(ProbeCause(detail: "y")).code == .unknown)
    }
}

/// Log records kept for assertions.
final class CapturedRecords: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { self.records.withLock { $0 } }

    func append(_ record: Record) {
        self.records.withLock { $0.append(record) }
    }
}

struct CapturingLogHandler: LogHandler {
    let records: CapturedRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        merged.merge(event.metadata ?? [:]) { $1 }
        self.records.append(.init(
            level: event.level,
            message: event.message.description,
            metadata: merged.mapValues { "\($0)" }
        ))
    }
}
