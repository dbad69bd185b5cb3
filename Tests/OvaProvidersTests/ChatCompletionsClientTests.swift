import OvaFakeUpstream
import Foundation
import Synchronization
import Testing

@testable import OvaProviders

@Suite("ChatCompletionsClient")
struct ChatCompletionsClientTests {
    let http = CurlHTTPClient()

    func makeClient(_ server: FakeHTTPServer, apiKey: String? = "sk-local", model: String = "qwen2.5-1.5b") -> ChatCompletionsClient {
        ChatCompletionsClient(
            configuration: ChatCompletionsConfiguration(baseURL: server.baseURL + "/v1", apiKey: apiKey, model: model),
            http: self.http
        )
    }

    static let sseHead = FakeHTTPServer.Step.head(status: 200, headers: [("Content-Type", "text/event-stream")])

    static func chunk(_ content: String?, finish: String? = nil) -> FakeHTTPServer.Step {
        var delta: [String: Any] = [:]
        if let content { delta["content"] = content }
        let choice: [String: Any] = ["index": 0, "delta": delta, "finish_reason": finish ?? NSNull()]
        let object: [String: Any] = ["id": "c1", "object": "chat.completion.chunk", "choices": [choice]]
        let json = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return .text("data: \(String(decoding: json, as: UTF8.self))\n\n")
    }

    static let usageChunk = FakeHTTPServer.Step.text(
        #"data: {"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"# + "\n\n"
    )
    static let done = FakeHTTPServer.Step.text("data: [DONE]\n\n")

    /// Collects the events, or the error that ended the stream.
    static func collect(
        _ stream: AsyncThrowingStream<ChatStreamEvent, any Error>
    ) async -> (events: [ChatStreamEvent], error: (any Error)?) {
        var events: [ChatStreamEvent] = []
        do {
            for try await event in stream { events.append(event) }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    @Test func tokensArriveIncrementally() async throws {
        try await withFakeServer { server in
            let firstDeltaSeen = Gate()
            let lastTokenSent = Atomic<Bool>(false)
            server.route(
                "/v1/chat/completions",
                [
                    Self.sseHead,
                    Self.chunk(nil),  // the role-only first chunk
                    Self.chunk("Hola"),
                    // Holds the last token until the client has shown the first one, or 5 s.
                    .wait(firstDeltaSeen),
                    .sleep(.milliseconds(300)),
                    .run { lastTokenSent.store(true, ordering: .sequentiallyConsistent) },
                    Self.chunk(", mundo", finish: "stop"),
                    Self.usageChunk,
                    Self.done,
                    .end,
                ]
            )
            var events: [ChatStreamEvent] = []
            let stream = makeClient(server).stream(messages: [(role: "user", content: "hola")])
            for try await event in stream {
                if events.isEmpty {
                    #expect(event == .delta("Hola"))
                    // Proves streaming: the server has not sent the last token yet.
                    let sent = lastTokenSent.load(ordering: .sequentiallyConsistent)
                    #expect(!sent)
                    firstDeltaSeen.open()
                }
                events.append(event)
            }
            #expect(
                events == [
                    .delta("Hola"),
                    .delta(", mundo"),
                    .finished(reason: "stop", usage: ChatUsage(promptTokens: 12, completionTokens: 3, totalTokens: 15)),
                ]
            )
        }
    }

    @Test func requestCarriesModelOptionsAndKey() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, Self.chunk("ok", finish: "length"), Self.done, .end])
            let stream = makeClient(server).stream(
                messages: [(role: "system", content: "Eres un asistente."), (role: "user", content: "¿Qué hora es?")],
                model: "mistral-7b",
                temperature: 0.7,
                topP: 0.95,
                maxTokens: 512,
                stop: ["</s>"]
            )
            let (events, error) = await Self.collect(stream)
            #expect(error == nil)
            #expect(events == [.delta("ok"), .finished(reason: "length", usage: nil)])
            let request = try #require(server.requests("/v1/chat/completions").first)
            #expect(request.method == "POST")
            #expect(request.header("Authorization") == "Bearer sk-local")
            #expect(request.header("Content-Type") == "application/json")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
            #expect(body["model"] as? String == "mistral-7b")
            #expect(body["stream"] as? Bool == true)
            #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            #expect(ProviderResponse.double(body["temperature"]) == 0.7)
            #expect(ProviderResponse.double(body["top_p"]) == 0.95)
            #expect(ProviderResponse.int(body["max_tokens"]) == 512)
            #expect(body["stop"] as? [String] == ["</s>"])
            let messages = body["messages"] as? [[String: String]]
            #expect(messages == [["role": "system", "content": "Eres un asistente."], ["role": "user", "content": "¿Qué hora es?"]])
        }
    }

    @Test func noKeyMeansNoAuthorizationHeaderAndDefaultModel() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, Self.chunk("x", finish: "stop"), Self.done, .end])
            let (_, error) = await Self.collect(makeClient(server, apiKey: nil).stream(messages: [(role: "user", content: "a")]))
            #expect(error == nil)
            let request = try #require(server.requests("/v1/chat/completions").first)
            #expect(request.header("Authorization") == nil)
            let body = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
            #expect(body?["model"] as? String == "qwen2.5-1.5b")
            #expect(body?["temperature"] == nil)
            #expect(body?["stop"] == nil)
        }
    }

    @Test func truncatedStreamIsAnError() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, Self.chunk("Ho"), Self.chunk("la"), .close])
            let (events, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            #expect(events == [.delta("Ho"), .delta("la")])
            // The chunked body was cut off: the network failed, which curl reports (a body that
            // ends cleanly without [DONE] is the next test).
            guard case .connect = error as? ProviderError else {
                Issue.record("expected .connect, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func cleanEndWithoutDoneOrFinishReasonIsMalformed() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, Self.chunk("Ho"), .end])
            let (events, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            #expect(events == [.delta("Ho")])
            #expect(error as? ProviderError == .malformedResponse("stream ended early"))
        }
    }

    @Test func finishReasonWithoutDoneStillFinishes() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, Self.chunk("fin", finish: "stop"), .end])
            let (events, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            #expect(error == nil)
            #expect(events == [.delta("fin"), .finished(reason: "stop", usage: nil)])
        }
    }

    @Test func errorStatusCarriesTheJSONMessage() async throws {
        try await withFakeServer { server in
            server.route(
                "/v1/chat/completions",
                FakeHTTPServer.json(
                    status: 401,
                    #"{"error": {"message": "Incorrect API key provided: sk-local", "type": "invalid_request_error"}}"#
                )
            )
            let (events, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            #expect(events.isEmpty)
            let providerError = error as? ProviderError
            #expect(providerError == .http(status: 401, message: "Incorrect API key provided: [redacted]", retryAfter: nil))
            #expect(providerError?.isRetryable == false)
        }
    }

    @Test func overloadedServerIsRetryableWithDelay() async throws {
        try await withFakeServer { server in
            server.route(
                "/v1/chat/completions",
                FakeHTTPServer.json(status: 503, headers: [("Retry-After", "3")], #"{"message": "busy"}"#)
            )
            let (_, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            let providerError = error as? ProviderError
            #expect(providerError == .http(status: 503, message: "busy", retryAfter: .seconds(3)))
            #expect(providerError?.isRetryable == true)
        }
    }

    @Test func errorEventMidStream() async throws {
        try await withFakeServer { server in
            server.route(
                "/v1/chat/completions",
                [Self.sseHead, Self.chunk("a"), .text(#"data: {"error": {"message": "context overflow", "code": 400}}"# + "\n\n"), .end]
            )
            let (events, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            #expect(events == [.delta("a")])
            #expect(error as? ProviderError == .http(status: 400, message: "context overflow", retryAfter: nil))
        }
    }

    @Test func nonJSONEventIsMalformed() async throws {
        try await withFakeServer { server in
            server.route("/v1/chat/completions", [Self.sseHead, .text("data: {not json\n\n"), .end])
            let (_, error) = await Self.collect(makeClient(server).stream(messages: [(role: "user", content: "a")]))
            guard case .malformedResponse = error as? ProviderError else {
                Issue.record("expected .malformedResponse, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func cancellingTheConsumerAbortsTheUpstreamRequest() async throws {
        try await withFakeServer { server in
            var steps: [FakeHTTPServer.Step] = [Self.sseHead, Self.chunk("t0")]
            for index in 1...100 {
                steps += [.sleep(.milliseconds(200)), Self.chunk("t\(index)")]
            }
            server.route("/v1/chat/completions", steps + [Self.done, .end])
            let stream = makeClient(server).stream(messages: [(role: "user", content: "a")])
            let firstDelta = Gate()
            let task = Task { () async -> [ChatStreamEvent] in
                var events: [ChatStreamEvent] = []
                do {
                    for try await event in stream {
                        events.append(event)
                        firstDelta.open()
                    }
                } catch {}
                return events
            }
            #expect(await firstDelta.wait(within: .seconds(30)))
            task.cancel()
            let events = await task.value
            #expect(events.first == .delta("t0"))
            #expect(!events.contains { if case .finished = $0 { return true } else { return false } })
            #expect(await server.waitForClientDisconnect("/v1/chat/completions"))
        }
    }

    @Test func missingSettings() async throws {
        let noBase = ChatCompletionsClient(
            configuration: ChatCompletionsConfiguration(baseURL: "", model: "m"),
            http: self.http
        )
        let (_, baseError) = await Self.collect(noBase.stream(messages: [(role: "user", content: "a")]))
        #expect(baseError as? ProviderError == .notConfigured(setting: "OVA_LLM_BASE_URL"))
        let noModel = ChatCompletionsClient(
            configuration: ChatCompletionsConfiguration(baseURL: "http://127.0.0.1:1/v1", model: ""),
            http: self.http
        )
        let (_, modelError) = await Self.collect(noModel.stream(messages: [(role: "user", content: "a")]))
        #expect(modelError as? ProviderError == .notConfigured(setting: "HF_MODELO_LLM"))
    }
}
