import Foundation
import OvaFakeUpstream
import OvaProto
import OvaRPC
import OvaTestServer
import Synchronization
import Testing

@Suite("Chat, vision, sign and status against a loopback provider")
struct ChatAndVisionTests {
    @Test("chat tokens arrive while the upstream is still generating; the done message has reason and usage")
    func tokensStreamIncrementally() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            let gate = Gate()
            upstream.route("/v1/chat/completions", [SSE.head, SSE.token("Hola"), .wait(gate), SSE.token(", mundo"), SSE.stop, SSE.usage, SSE.done, .end])
            let (deltas, done, gateWasClosedAtFirstToken) = try await ChatClient(channel: channel).complete(chatRequest("Saluda"), options: root) { stream in
                var deltas: [String] = []
                var done = ChatCompletion()
                var closedAtFirst = false
                for try await response in stream {
                    if let delta = response.delta {
                        if deltas.isEmpty {
                            // The upstream is parked on the gate: this token cannot be the
                            // product of a buffered, finished response.
                            closedAtFirst = !gate.opened
                            gate.open()
                        }
                        deltas.append(delta.content)
                    } else if let last = response.done {
                        done = last
                    }
                }
                return (deltas, done, closedAtFirst)
            }
            #expect(gateWasClosedAtFirstToken)
            #expect(deltas == ["Hola", ", mundo"])
            #expect(done.finishReason == .stop)
            #expect(done.usage?.promptTokens == 5)
            #expect(done.usage?.completionTokens == 3)
            #expect(done.model == "test/chat-model")
            let sent = try #require(upstream.requests("/v1/chat/completions").first)
            #expect(sent.header("authorization") == "Bearer hf_test_key")
            let body = String(decoding: sent.body, as: UTF8.self)
            #expect(body.contains("\"stream\":true"))
            #expect(body.contains("Saluda"))
        }
    }

    @Test("cancelling the call aborts the upstream request")
    func cancelAbortsUpstream() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/v1/chat/completions", [SSE.head, SSE.token("Once upon"), .hang])
            let task = Task {
                try await ChatClient(channel: channel).complete(chatRequest("Tell a long story"), options: root) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(await FakeHTTPServer.poll(within: .seconds(30)) { upstream.requests("/v1/chat/completions").count == 1 })
            task.cancel()
            _ = await task.result
            #expect(await upstream.waitForClientDisconnect("/v1/chat/completions"))
        }
    }

    @Test("nothing configured: chat and vision fail with FAILED_PRECONDITION naming the setting")
    func notConfigured() async throws {
        try await withMultimodalServer(configureProviders: false) { _, channel, root, _ in
            let chat = await rpcError { try await ChatClient(channel: channel).complete(chatRequest("hi"), options: root) { stream in
                for try await _ in stream {}
            } }
            #expect(chat?.code == .failedPrecondition)
            #expect(chat?.message.contains("HF_MODELO_LLM") == true)
            var analyze = AnalyzeImageRequest()
            analyze.image = TestImages.png
            let vision = await rpcError { try await VisionClient(channel: channel).analyzeImage(analyze, options: root) }
            #expect(vision?.code == .failedPrecondition)
            #expect(vision?.message.contains("HF_API_KEY") == true)
        }
    }

    @Test("429 with Retry-After is RESOURCE_EXHAUSTED with the delay")
    func rateLimited() async throws {
        // The harness's 10 s provider timeout: on a loaded machine a 1 s budget once cut the
        // 429 answer off as a timeout, and this test is about the 429.
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/v1/chat/completions", FakeHTTPServer.json(status: 429, headers: [("Retry-After", "7")], #"{"error":{"message":"slow down"}}"#))
            let limited = await rpcError { try await ChatClient(channel: channel).complete(chatRequest("hi"), options: root) { stream in
                for try await _ in stream {}
            } }
            #expect(limited?.code == .resourceExhausted)
            #expect(limited?.errorDetails?.retryInfo?.retryDelayMs == 7000)
            #expect(limited?.message.contains("slow down") == true)
        }
    }

    @Test("a hung upstream times out as UNAVAILABLE")
    func hungUpstreamTimesOut() async throws {
        try await withMultimodalServer(["OVA_PROVIDER_TIMEOUT_SECONDS": "1"]) { _, channel, root, upstream in
            upstream.route("/models/facebook/detr-resnet-50", [.hang])
            var analyze = AnalyzeImageRequest()
            analyze.image = TestImages.png
            analyze.detectObjects = true
            // The upstream never answers: only the provider timeout can end this call.
            let hung = await rpcError { try await VisionClient(channel: channel).analyzeImage(analyze, options: root) }
            #expect(hung?.code == .unavailable)
        }
    }

    @Test("repeated upstream failures open the breaker: calls then fail fast; Status shows it; a reset closes it")
    func circuitBreaker() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/v1/chat/completions", FakeHTTPServer.json(status: 502, #"{"error":"bad gateway"}"#))
            let chat = ChatClient(channel: channel)
            for _ in 0..<10 {
                let error = await rpcError { try await chat.complete(chatRequest("hi"), options: root) { stream in for try await _ in stream {} } }
                #expect(error?.code == .unavailable)
            }
            let open = await rpcError { try await chat.complete(chatRequest("hi"), options: root) { stream in for try await _ in stream {} } }
            #expect(open?.code == .unavailable)
            #expect(open?.message.contains("circuit open") == true)
            #expect((open?.errorDetails?.retryInfo?.retryDelayMs ?? 0) > 0)
            #expect(upstream.requests("/v1/chat/completions").count == 10)

            let status = StatusClient(channel: channel)
            let llm = try #require(try await status.getStatus(GetStatusRequest(), options: root).providers.first { $0.name == "llm" })
            #expect(llm.circuitState == .open)
            #expect(llm.failuresTotal == 10)
            #expect(llm.errorRate == 1)
            #expect(llm.lastError.contains("502"))

            var reset = ResetCircuitBreakerRequest()
            reset.provider = "llm"
            #expect(try await status.resetCircuitBreaker(reset, options: root).circuitState == .closed)
            upstream.route("/v1/chat/completions", SSE.answer("Back again"))
            let text = try await chat.complete(chatRequest("hi"), options: root) { stream in
                var text = ""
                for try await response in stream { text += response.delta?.content ?? "" }
                return text
            }
            #expect(text == "Back again")
        }
    }

    @Test("vision: detections filtered by score, a failing caption gives a partial result; bad images are refused")
    func visionPartialResult() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/models/facebook/detr-resnet-50", FakeHTTPServer.json(#"""
                [{"score":0.98,"label":"cat","box":{"xmin":10,"ymin":20,"xmax":110,"ymax":220}},
                 {"score":0.2,"label":"remote","box":{"xmin":1,"ymin":2,"xmax":3,"ymax":4}}]
                """#))
            upstream.route("/models/nlpconnect/vit-gpt2-image-captioning", FakeHTTPServer.json(status: 500, #"{"error":"internal"}"#))
            var request = AnalyzeImageRequest()
            request.image = TestImages.png
            let response = try await VisionClient(channel: channel).analyzeImage(request, options: root)
            #expect(response.imageFormat == "png")
            #expect(response.detections.map(\.label) == ["cat"])
            #expect(response.detections.first?.box?.xmax == 110)
            #expect(response.detectionStatus?.code == 0)
            #expect(response.captionStatus?.code == UInt32(StatusCode.unavailable.rawValue))
            #expect(response.caption.isEmpty)
            let sent = try #require(upstream.requests("/models/facebook/detr-resnet-50").first)
            #expect(sent.body == TestImages.png)

            var gif = AnalyzeImageRequest()
            gif.image = Array("GIF89a....".utf8)
            let refused = await rpcError { try await VisionClient(channel: channel).analyzeImage(gif, options: root) }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.errorDetails?.fieldViolations.first?.field == "image")
        }
    }

    @Test("sign: one image gives the best letter; a stream of frames is debounced into letters and a word")
    func sign() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/models/RavenOnur/Sign-Language", FakeHTTPServer.json(#"[{"label":"B","score":0.2},{"label":"A","score":0.93}]"#))
            var single = RecognizeSignRequest()
            single.image = TestImages.jpeg
            let prediction = try await SignClient(channel: channel).recognizeSign(single, options: root)
            #expect(prediction.label == "A")
            #expect(prediction.alternatives.map(\.label) == ["A", "B"])

            let events = try await SignClient(channel: channel).recognizeSignStream(options: root) { requests, responses in
                for index in 0..<4 {
                    var frame = SignFrame()
                    frame.image = TestImages.jpeg
                    frame.timestampMs = UInt64(index * 100)
                    try await requests.write(frame)
                }
                requests.finish()
                var events: [SignStreamEvent] = []
                for try await event in responses { events.append(event) }
                return events
            }
            #expect(events.compactMap { $0.letter?.label } == ["A"])
            #expect(events.compactMap(\.word) == ["A"])
        }
    }

    @Test("status reports the server, the database and every provider; resetting needs a superadmin")
    func status() async throws {
        try await withMultimodalServer { _, channel, root, _ in
            let status = try await StatusClient(channel: channel).getStatus(GetStatusRequest(), options: root)
            #expect(status.database?.up == true)
            #expect(status.database?.backend == "sqlite")
            #expect(status.system?.cpuCount ?? 0 > 0)
            #expect((status.system?.residentMemoryBytes ?? 0) > 1_000_000)
            #expect(Set(status.providers.map(\.name)) == ["huggingface-stt", "huggingface-tts", "huggingface-detection", "huggingface-caption", "huggingface-sign", "llm"])
            #expect(status.providers.first { $0.name == "llm" }?.configured == true)
            #expect(status.providers.first { $0.name == "huggingface-stt" }?.configured == false)
            #expect(status.openConnections >= 1)

            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            var reset = ResetCircuitBreakerRequest()
            reset.provider = "llm"
            #expect(await statusCode { try await StatusClient(channel: channel).resetCircuitBreaker(reset, options: staff.options) } == .permissionDenied)
            #expect(await statusCode { try await StatusClient(channel: channel).getStatus(GetStatusRequest()) } == .unauthenticated)
        }
    }
}

/// Tiny images with the right magic bytes (the fake provider does not decode them).
enum TestImages {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 24)
    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0, count: 28)
}
