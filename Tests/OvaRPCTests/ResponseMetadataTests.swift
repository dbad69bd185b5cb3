import OvaProto
import OvaRPC
import OvaServer
import OvaServices
import OvaTestServer
import Testing

/// The response's initial metadata (HEADERS) reaches the Swift client, and its absence, which
/// docs/PROTOCOL.md §8.3 allows, reads as empty metadata.
@Suite("Response initial metadata")
struct ResponseMetadataTests {
    static let unary = MethodDescriptor(service: "test.Headers", name: "Unary", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    static let stream = MethodDescriptor(service: "test.Headers", name: "Stream", kind: .serverStreaming, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    static let failBeforeHeaders = MethodDescriptor(service: "test.Headers", name: "Fail", kind: .serverStreaming, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")

    /// The built-in services plus handlers that send initial metadata (its value is the
    /// request's text, so a mixed-up call would show).
    static func withHeadersServer(_ body: (RouterTestServer, RPCChannel) async throws -> Void) async throws {
        var router = ServiceRegistry().router
        router.registerUnary(Self.unary) { (request: EchoRequest, context: ServerContext) -> EchoResponse in
            context.addInitialMetadata(request.text, forKey: "x-initial")
            context.addInitialMetadata("second", forKey: "x-initial")
            var response = EchoResponse()
            response.text = request.text
            return response
        }
        router.registerServerStreaming(Self.stream) { (request: EchoRequest, writer: RPCResponseWriter<EchoResponse>, context: ServerContext) in
            try await writer.writeMetadata(Metadata(["x-initial": request.text]))
            for sequence in 0..<3 {
                var response = EchoResponse()
                response.sequence = UInt64(sequence)
                try await writer.write(response)
            }
        }
        router.registerServerStreaming(Self.failBeforeHeaders) { (request: EchoRequest, writer: RPCResponseWriter<EchoResponse>, context: ServerContext) in
            throw RPCError(code: .failedPrecondition, message: "no headers, no messages")
        }
        try await RouterTestServer.start(router: router).run(body)
    }

    static func request(_ text: String) -> EchoRequest {
        var request = EchoRequest()
        request.text = text
        return request
    }

    @Test func unaryHandlerMetadataReachesTheClient() async throws {
        try await Self.withHeadersServer { _, channel in
            let response = try await channel.unary(Self.unary, request: Self.request("u1")) { (response: RPCResponse<EchoResponse>) in
                response
            }
            #expect(response.metadata == Metadata(["x-initial": "u1", "x-initial": "second"]))
            #expect(response.message.text == "u1")
            // The plain call still returns just the message.
            let plain = try await channel.unary(Self.unary, request: Self.request("u2"), responseType: EchoResponse.self)
            #expect(plain.text == "u2")
        }
    }

    @Test func serverStreamingMetadataIsReadBeforeAndAfterTheMessages() async throws {
        try await Self.withHeadersServer { _, channel in
            let (before, sequences, after) = try await channel.serverStreaming(
                Self.stream, request: Self.request("s1"), responseType: EchoResponse.self
            ) { responses in
                let before = await responses.metadata
                var sequences: [UInt64] = []
                for try await response in responses { sequences.append(response.sequence) }
                return (before, sequences, await responses.metadata)
            }
            #expect(before.firstString(forKey: "x-initial") == "s1")
            // Reading the metadata took no message from the stream.
            #expect(sequences == [0, 1, 2])
            #expect(after == before)
        }
    }

    @Test func callsWithoutResponseHeadersHaveEmptyMetadata() async throws {
        try await Self.withHeadersServer { _, channel in
            let echo = EchoClient(channel: channel)
            // Echo sends no HEADERS: the generated stubs' metadata is empty, and the message intact.
            let unary = try await echo.unary(Self.request("plain")) { $0 }
            #expect(unary.metadata.isEmpty)
            #expect(unary.message.text == "plain")

            var streamRequest = Self.request("plain")
            streamRequest.responseCount = 2
            let (metadata, count) = try await echo.serverStream(streamRequest) { responses in
                let metadata = await responses.metadata
                var count = 0
                for try await _ in responses { count += 1 }
                return (metadata, count)
            }
            #expect(metadata.isEmpty)
            #expect(count == 2)

            let summary = try await echo.clientStream({ writer in
                try await writer.write(Self.request("one"))
            }, onResponse: { $0 })
            #expect(summary.metadata.isEmpty)
            #expect(summary.message.lastText == "one")
        }
    }

    @Test func aCallThatFailsBeforeHeadersHasEmptyMetadataAndItsError() async throws {
        try await Self.withHeadersServer { _, channel in
            let error = await #expect(throws: RPCError.self) {
                try await channel.serverStreaming(
                    Self.failBeforeHeaders, request: Self.request("f"), responseType: EchoResponse.self
                ) { responses in
                    #expect(await responses.metadata.isEmpty)
                    for try await _ in responses {}
                }
            }
            #expect(error?.code == .failedPrecondition)
        }
    }
}
