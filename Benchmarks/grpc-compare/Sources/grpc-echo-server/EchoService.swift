import EchoProto
import Foundation
import GRPCCore

/// The Echo service with the same scripted semantics as OVA's EchoServiceHandler
/// (Sources/OvaServices/Echo/EchoServiceHandler.swift): each request says how many responses,
/// of what size, after what delay, ending with what status.
///
/// It conforms at the middle layer (`ServiceProtocol`) rather than the simple one because
/// `echo_metadata` needs the request metadata.
struct EchoService: Ova_V1_Echo.ServiceProtocol {
    static let maxResponseCount: UInt32 = 10_000_000
    static let maxDelayMilliseconds: UInt32 = 60_000

    func unary(
        request: ServerRequest<Ova_V1_EchoRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Ova_V1_EchoResponse> {
        let message = request.message
        try Self.validate(message)
        try await Self.delay(message)
        try Self.failIfAsked(message)
        return ServerResponse(message: Self.response(to: message, sequence: 0, metadata: request.metadata), metadata: [:])
    }

    func serverStream(
        request: ServerRequest<Ova_V1_EchoRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Ova_V1_EchoResponse> {
        let message = request.message
        try Self.validate(message)
        let metadata = request.metadata
        return StreamingServerResponse(metadata: [:]) { writer in
            let count = max(1, message.responseCount)
            for sequence in 0..<UInt64(count) {
                // grpc-swift cancels the handler's task when the client resets the stream, but
                // writes are not guaranteed to fail promptly after that: stop producing.
                try Task.checkCancellation()
                try await Self.delay(message)
                try await writer.write(Self.response(to: message, sequence: sequence, metadata: metadata))
            }
            try Self.failIfAsked(message)
            return [:]
        }
    }

    func clientStream(
        request: StreamingServerRequest<Ova_V1_EchoRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Ova_V1_EchoSummary> {
        var summary = Ova_V1_EchoSummary()
        var last: Ova_V1_EchoRequest?
        for try await message in request.messages {
            summary.messageCount += 1
            summary.byteCount += UInt64(message.payload.count)
            summary.lastText = message.text
            last = message
        }
        if let last {
            try Self.validate(last)
            try await Self.delay(last)
            try Self.failIfAsked(last)
        }
        return ServerResponse(message: summary, metadata: [:])
    }

    func bidi(
        request: StreamingServerRequest<Ova_V1_EchoRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Ova_V1_EchoResponse> {
        let metadata = request.metadata
        return StreamingServerResponse(metadata: [:]) { writer in
            var sequence: UInt64 = 0
            for try await message in request.messages {
                try Self.validate(message)
                try await Self.delay(message)
                try Self.failIfAsked(message)
                try await writer.write(Self.response(to: message, sequence: sequence, metadata: metadata))
                sequence += 1
            }
            return [:]
        }
    }

    // MARK: - Scripting

    static func validate(_ request: Ova_V1_EchoRequest) throws {
        var violations: [String] = []
        if request.responseCount > Self.maxResponseCount {
            violations.append("response_count must be at most \(Self.maxResponseCount)")
        }
        if request.delayMs > Self.maxDelayMilliseconds {
            violations.append("delay_ms must be at most \(Self.maxDelayMilliseconds)")
        }
        if request.hasFailWith, request.failWith.code > 16 {
            violations.append("fail_with.code must be a status code 0-16")
        }
        if !violations.isEmpty {
            throw RPCError(code: .invalidArgument, message: "invalid echo request: " + violations.joined(separator: "; "))
        }
    }

    static func delay(_ request: Ova_V1_EchoRequest) async throws {
        guard request.delayMs > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int(request.delayMs)))
    }

    static func failIfAsked(_ request: Ova_V1_EchoRequest) throws {
        guard request.hasFailWith, request.failWith.code != 0,
              let status = Status.Code(rawValue: Int(request.failWith.code)),
              let code = RPCError.Code(status)
        else { return }
        throw RPCError(code: code, message: request.failWith.message)
    }

    static func response(to request: Ova_V1_EchoRequest, sequence: UInt64, metadata: Metadata) -> Ova_V1_EchoResponse {
        var response = Ova_V1_EchoResponse()
        response.text = request.text
        response.payload = request.responseSize > 0 ? Data(repeating: 0x2A, count: Int(request.responseSize)) : request.payload
        response.sequence = sequence
        if request.echoMetadata {
            for (key, value) in metadata {
                if case .string(let text) = value { response.metadata[key] = text }
            }
        }
        return response
    }
}
