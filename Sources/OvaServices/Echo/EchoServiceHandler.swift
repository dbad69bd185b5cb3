import OvaProto
import OvaRPC

/// The diagnostic Echo service: every request scripts the server's answer (count, size,
/// delay, final status), so one service exercises all four call kinds in tests and benchmarks.
public struct EchoServiceHandler: EchoHandler {
    /// Upper bounds that keep a scripted request from turning into a denial of service.
    public static let maxResponseCount: UInt32 = 10_000_000
    public static let maxDelayMilliseconds: UInt32 = 60_000

    public init() {}

    public func unary(request: EchoRequest, context: OvaRPC.ServerContext) async throws -> EchoResponse {
        try Self.validate(request)
        try await Self.delay(request)
        try Self.failIfAsked(request)
        return Self.response(to: request, sequence: 0, context: context)
    }

    public func serverStream(
        request: EchoRequest,
        responses: RPCResponseWriter<EchoResponse>,
        context: OvaRPC.ServerContext
    ) async throws {
        try Self.validate(request)
        let count = max(1, request.responseCount)
        // Every response is the same but for its sequence number: build it once.
        var response = Self.response(to: request, sequence: 0, context: context)
        for sequence in 0..<UInt64(count) {
            try await Self.delay(request)
            response.sequence = sequence
            try await responses.write(response)
        }
        try Self.failIfAsked(request)
    }

    public func clientStream(
        requests: RPCRequestStream<EchoRequest>,
        context: OvaRPC.ServerContext
    ) async throws -> EchoSummary {
        var summary = EchoSummary()
        var last: EchoRequest?
        for try await request in requests {
            summary.messageCount += 1
            summary.byteCount += UInt64(request.payload.count)
            summary.lastText = request.text
            last = request
        }
        if let last {
            try Self.validate(last)
            try await Self.delay(last)
            try Self.failIfAsked(last)
        }
        return summary
    }

    public func bidi(
        requests: RPCRequestStream<EchoRequest>,
        responses: RPCResponseWriter<EchoResponse>,
        context: OvaRPC.ServerContext
    ) async throws {
        var sequence: UInt64 = 0
        for try await request in requests {
            try Self.validate(request)
            try await Self.delay(request)
            try Self.failIfAsked(request)
            try await responses.write(Self.response(to: request, sequence: sequence, context: context))
            sequence += 1
        }
    }

    // MARK: - Scripting

    static func validate(_ request: EchoRequest) throws {
        var violations: [(String, String)] = []
        if request.responseCount > Self.maxResponseCount {
            violations.append(("response_count", "must be at most \(Self.maxResponseCount)"))
        }
        if request.delayMs > Self.maxDelayMilliseconds {
            violations.append(("delay_ms", "must be at most \(Self.maxDelayMilliseconds)"))
        }
        if let failure = request.failWith, failure.code > 16 {
            violations.append(("fail_with.code", "must be a status code 0-16"))
        }
        if !violations.isEmpty {
            throw RPCError.invalidArgument("invalid echo request", fieldViolations: violations)
        }
    }

    static func delay(_ request: EchoRequest) async throws {
        guard request.delayMs > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int(request.delayMs)))
    }

    static func failIfAsked(_ request: EchoRequest) throws {
        guard let failure = request.failWith, failure.code != 0,
              let code = StatusCode(rawValue: UInt8(clamping: failure.code))
        else { return }
        throw RPCError(code: code, message: failure.message)
    }

    static func response(to request: EchoRequest, sequence: UInt64, context: OvaRPC.ServerContext) -> EchoResponse {
        var response = EchoResponse()
        response.text = request.text
        response.payload = request.responseSize > 0 ? [UInt8](repeating: 0x2A, count: Int(request.responseSize)) : request.payload
        response.sequence = sequence
        if request.echoMetadata {
            for (key, value) in context.requestMetadata {
                if case .string(let text) = value { response.metadata[key] = text }
            }
        }
        return response
    }
}
