import OvaProto
import OvaServices
import Testing

@testable import OvaRPC

@Suite("Call kinds over TLS")
struct CallKindTests {
    @Test func unaryEchoesTextAndPayload() async throws {
        try await withServer { _, channel in
            var request = EchoRequest()
            request.text = "hola ñandú 🦤"
            request.payload = Array(0...255)
            let response = try await EchoClient(channel: channel).unary(request)
            #expect(response.text == request.text)
            #expect(response.payload == request.payload)
            #expect(response.sequence == 0)
        }
    }

    @Test func serverStreamingSendsEveryResponseInOrder() async throws {
        try await withServer { _, channel in
            var request = EchoRequest()
            request.text = "tick"
            request.responseCount = 25
            let sequences = try await EchoClient(channel: channel).serverStream(request) { responses in
                var sequences: [UInt64] = []
                for try await response in responses {
                    #expect(response.text == "tick")
                    sequences.append(response.sequence)
                }
                return sequences
            }
            #expect(sequences == Array(0..<25))
        }
    }

    @Test func clientStreamingCountsEveryMessage() async throws {
        try await withServer { _, channel in
            let summary = try await EchoClient(channel: channel).clientStream { writer in
                for index in 0..<40 {
                    var request = EchoRequest()
                    request.text = "chunk \(index)"
                    request.payload = [UInt8](repeating: UInt8(index), count: 3200)
                    try await writer.write(request)
                }
            }
            #expect(summary.messageCount == 40)
            #expect(summary.byteCount == 40 * 3200)
            #expect(summary.lastText == "chunk 39")
        }
    }

    @Test func bidiStreamingAnswersEachRequestInTurn() async throws {
        try await withServer { _, channel in
            let texts = try await EchoClient(channel: channel).bidi { writer, responses in
                var iterator = responses.makeAsyncIterator()
                var texts: [String] = []
                for index in 0..<10 {
                    var request = EchoRequest()
                    request.text = "ping \(index)"
                    try await writer.write(request)
                    // Ping-pong: the answer arrives before the next request is sent.
                    let response = try await iterator.next()
                    texts.append(response?.text ?? "<none>")
                }
                writer.finish()
                let observed1 = try await iterator.next()
                #expect(observed1 == nil)
                return texts
            }
            #expect(texts == (0..<10).map { "ping \($0)" })
        }
    }

    @Test func twoHundredConcurrentStreamsOnOneConnection() async throws {
        try await withServer { _, channel in
            let client = EchoClient(channel: channel)
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        var request = EchoRequest()
                        request.text = "call \(index)"
                        request.delayMs = 50  // keeps all 200 open at once
                        if index % 2 == 0 {
                            return try await client.unary(request).text
                        }
                        request.responseCount = 3
                        return try await client.serverStream(request) { responses in
                            var last = ""
                            for try await response in responses { last = response.text }
                            return last
                        }
                    }
                }
                var texts: Set<String> = []
                for try await text in group { texts.insert(text) }
                return texts
            }
            #expect(results == Set((0..<200).map { "call \($0)" }))
        }
    }

    @Test func errorsCarryStatusMessageAndFieldViolations() async throws {
        try await withServer { _, channel in
            let client = EchoClient(channel: channel)
            var failing = EchoRequest()
            var failure = EchoFailure()
            failure.code = UInt32(StatusCode.notFound.rawValue)
            failure.message = "no such thing"
            failing.failWith = failure
            let notFound = await #expect(throws: RPCError.self) { try await client.unary(failing) }
            #expect(notFound?.code == .notFound)
            #expect(notFound?.message == "no such thing")
            #expect(notFound?.metadata.firstString(forKey: "ova-request-id")?.isEmpty == false)

            var invalid = EchoRequest()
            invalid.responseCount = EchoServiceHandler.maxResponseCount + 1
            let error = await #expect(throws: RPCError.self) { try await client.unary(invalid) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.errorDetails?.fieldViolations.map(\.field) == ["response_count"])
        }
    }

    @Test func metadataReachesTheHandler() async throws {
        try await withServer { _, channel in
            var request = EchoRequest()
            request.echoMetadata = true
            var metadata = Metadata()
            metadata.addString("Bearer abc", forKey: "authorization")
            metadata.addString("tests", forKey: "x-team")
            let response = try await EchoClient(channel: channel).unary(request, options: CallOptions(metadata: metadata))
            #expect(response.metadata["authorization"] == "Bearer abc")
            #expect(response.metadata["x-team"] == "tests")
        }
    }

    @Test func healthAndReflectionDescribeTheServer() async throws {
        try await withServer { _, channel in
            let health = try await HealthClient(channel: channel).check(HealthCheckRequest())
            #expect(health.status == .serving)
            var unknown = HealthCheckRequest()
            unknown.service = "ova.v1.Nope"
            let error = await #expect(throws: RPCError.self) { try await HealthClient(channel: channel).check(unknown) }
            #expect(error?.code == .notFound)

            let services = try await ReflectionClient(channel: channel).listServices(ListServicesRequest()).services
            let names = Set(services.map(\.name))
            for expected in ["ova.v1.Auth", "ova.v1.Audit", "ova.v1.Users", "ova.v1.Contacts", "ova.v1.Admins",
                             "ova.v1.Messages", "ova.v1.Speech", "ova.v1.Chat", "ova.v1.Voice", "ova.v1.Vision",
                             "ova.v1.Sign", "ova.v1.Status", "ova.v1.Health", "ova.v1.Reflection", "ova.v1.Echo"] {
                #expect(names.contains(expected), "missing \(expected)")
            }
            let echo = try #require(services.first { $0.name == "ova.v1.Echo" })
            #expect(echo.implemented)
            let kinds = Dictionary(uniqueKeysWithValues: echo.methods.map { ($0.name, $0.kind) })
            #expect(kinds["Unary"] == .unary)
            #expect(kinds["ServerStream"] == .serverStreaming)
            #expect(kinds["ClientStream"] == .clientStreaming)
            #expect(kinds["Bidi"] == .bidiStreaming)
            let speech = try #require(services.first { $0.name == "ova.v1.Speech" })
            #expect(speech.methods.first { $0.name == "Recognize" }?.kind == .bidiStreaming)
        }
    }
}
