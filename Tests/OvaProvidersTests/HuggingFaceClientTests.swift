import OvaFakeUpstream
import Foundation
import Testing

@testable import OvaProviders

@Suite("HuggingFaceClient")
struct HuggingFaceClientTests {
    static let key = "hf_testkey_0123456789"
    let http = CurlHTTPClient()

    func makeClient(
        _ server: FakeHTTPServer,
        apiKey: String? = HuggingFaceClientTests.key,
        sttModel: String? = "openai/whisper-small",
        ttsModel: String? = "facebook/mms-tts-spa",
        timeout: Duration = .seconds(10)
    ) -> HuggingFaceClient {
        HuggingFaceClient(
            configuration: HuggingFaceConfiguration(
                baseURL: server.baseURL + "/",
                apiKey: apiKey,
                sttModel: sttModel,
                ttsModel: ttsModel,
                requestTimeout: timeout
            ),
            http: self.http
        )
    }

    /// Checks what every HF call must send.
    func expectCall(_ request: FakeHTTPServer.RecordedRequest?, contentType: String) {
        #expect(request?.method == "POST")
        #expect(request?.header("Authorization") == "Bearer \(Self.key)")
        #expect(request?.header("Content-Type") == contentType)
        #expect(request?.header("User-Agent") == "ova/0.1")
    }

    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4]

    // MARK: - The five calls

    @Test func transcribe() async throws {
        try await withFakeServer { server in
            server.route("/models/openai/whisper-small", FakeHTTPServer.json(#"{"text": "hola mundo"}"#))
            let audio: [UInt8] = Array("RIFF....WAVEfmt ".utf8) + [0, 1, 2, 255]
            let text = try await makeClient(server).transcribe(audio: audio)
            #expect(text == "hola mundo")
            let request = server.requests("/models/openai/whisper-small").first
            expectCall(request, contentType: "audio/wav")
            #expect(request?.body == audio)
        }
    }

    @Test func synthesize() async throws {
        try await withFakeServer { server in
            let audio: [UInt8] = Array("fLaC".utf8) + [0, 0, 0, 34, 9, 9]
            server.route(
                "/models/facebook/mms-tts-spa",
                FakeHTTPServer.respond(status: 200, headers: [("Content-Type", "audio/flac")], body: audio)
            )
            let result = try await makeClient(server).synthesize(text: "¿Qué tal? \"citado\"")
            #expect(result.audio == audio)
            #expect(result.contentType == "audio/flac")
            let request = server.requests("/models/facebook/mms-tts-spa").first
            expectCall(request, contentType: "application/json")
            let json = try JSONSerialization.jsonObject(with: Data(request?.body ?? [])) as? [String: String]
            #expect(json == ["inputs": "¿Qué tal? \"citado\""])
        }
    }

    @Test func synthesizeRefusesNonAudio() async throws {
        try await withFakeServer { server in
            server.route("/models/facebook/mms-tts-spa", FakeHTTPServer.json(#"{"warning": "not audio"}"#))
            let error = await providerError { try await makeClient(server).synthesize(text: "x") }
            guard case .malformedResponse = error else {
                Issue.record("expected .malformedResponse, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func detectObjects() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/facebook/detr-resnet-50",
                FakeHTTPServer.json(
                    #"""
                    [{"score":0.71,"label":"dog","box":{"xmin":10,"ymin":20,"xmax":30,"ymax":40}},
                     {"score":0.99,"label":"cat","box":{"xmin":1,"ymin":2,"xmax":3,"ymax":4.5}}]
                    """#
                )
            )
            let objects = try await makeClient(server).detectObjects(image: Self.jpeg)
            #expect(
                objects == [
                    DetectedObject(label: "cat", score: 0.99, box: .init(xmin: 1, ymin: 2, xmax: 3, ymax: 4.5)),
                    DetectedObject(label: "dog", score: 0.71, box: .init(xmin: 10, ymin: 20, xmax: 30, ymax: 40)),
                ]
            )
            let request = server.requests("/models/facebook/detr-resnet-50").first
            expectCall(request, contentType: "image/jpeg")
            #expect(request?.body == Self.jpeg)
        }
    }

    @Test func caption() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/nlpconnect/vit-gpt2-image-captioning",
                FakeHTTPServer.json(#"[{"generated_text": "a cat on a sofa"}]"#)
            )
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            let text = try await makeClient(server).caption(image: png)
            #expect(text == "a cat on a sofa")
            let request = server.requests("/models/nlpconnect/vit-gpt2-image-captioning").first
            expectCall(request, contentType: "image/png")
            #expect(request?.body == png)
        }
    }

    @Test func classifySortsByScore() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/RavenOnur/Sign-Language",
                FakeHTTPServer.json(#"[{"label":"B","score":0.05},{"label":"A","score":0.9},{"label":"C","score":0.05e-1}]"#)
            )
            let labels = try await makeClient(server).classify(image: Self.jpeg)
            #expect(labels.map(\.label) == ["A", "B", "C"])
            #expect(labels.map(\.score) == [0.9, 0.05, 0.005])
            let request = server.requests("/models/RavenOnur/Sign-Language").first
            expectCall(request, contentType: "image/jpeg")
            #expect(request?.body == Self.jpeg)
        }
    }

    // MARK: - Errors

    @Test func rateLimitedWithRetryAfter() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/openai/whisper-small",
                FakeHTTPServer.json(status: 429, headers: [("Retry-After", "7")], #"{"error": "Rate limit reached"}"#)
            )
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            #expect(error == .http(status: 429, message: "Rate limit reached", retryAfter: .seconds(7)))
            #expect(error?.isRetryable == true)
            #expect(error?.retryAfter == .seconds(7))
        }
    }

    @Test func modelLoading() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/openai/whisper-small",
                FakeHTTPServer.json(
                    status: 503,
                    #"{"error": "Model openai/whisper-small is currently loading", "estimated_time": 20.0}"#
                )
            )
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            #expect(error == .modelLoading(estimatedSeconds: 20))
            #expect(error?.isRetryable == true)
            #expect(error?.retryAfter == .seconds(20))
        }
    }

    @Test(arguments: [(500, false), (502, true), (503, true), (504, true), (404, false), (401, false)])
    func statusRetryability(status: Int, retryable: Bool) async throws {
        try await withFakeServer { server in
            server.route("/models/openai/whisper-small", FakeHTTPServer.json(status: status, #"{"error": "upstream said no"}"#))
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            #expect(error == .http(status: status, message: "upstream said no", retryAfter: nil))
            #expect(error?.isRetryable == retryable)
        }
    }

    @Test func badRequestCarriesTheJSONMessage() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/openai/whisper-small",
                FakeHTTPServer.json(status: 400, #"{"error": {"message": "audio is not decodable", "type": "invalid"}}"#)
            )
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            #expect(error == .http(status: 400, message: "audio is not decodable", retryAfter: nil))
            #expect(error?.isRetryable == false)
        }
    }

    @Test func nonJSONErrorBodyIsCutTo200Bytes() async throws {
        try await withFakeServer { server in
            let html = "<html>" + String(repeating: "x", count: 1000)
            server.route(
                "/models/openai/whisper-small",
                FakeHTTPServer.respond(status: 502, headers: [("Content-Type", "text/html")], body: Array(html.utf8))
            )
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            guard case .http(502, let message, nil) = error else {
                Issue.record("expected .http(502), got \(String(describing: error))")
                return
            }
            #expect(message == String(html.prefix(200)))
        }
    }

    @Test func echoedKeyIsRedacted() async throws {
        try await withFakeServer { server in
            server.route(
                "/models/openai/whisper-small",
                FakeHTTPServer.json(status: 401, "{\"error\": \"Invalid token Bearer \(Self.key)\"}")
            )
            let error = await providerError { try await makeClient(server).transcribe(audio: [1]) }
            #expect(error == .http(status: 401, message: "Invalid token Bearer [redacted]", retryAfter: nil))
            #expect(error.map { "\($0)" }?.contains(Self.key) == false)
        }
    }

    @Test func hangTimesOutWithinTheRequestTimeout() async throws {
        try await withFakeServer { server in
            server.route("/models/openai/whisper-small", [.hang])
            let client = makeClient(server, timeout: .seconds(30))
            let start = ContinuousClock.now
            let error = await providerError { try await client.transcribe(audio: [1], timeout: .milliseconds(500)) }
            #expect(error == .timeout)
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func malformedJSON() async throws {
        try await withFakeServer { server in
            server.route("/models/openai/whisper-small", FakeHTTPServer.json(#"{"text": "unterminated"#))
            server.route("/models/facebook/detr-resnet-50", FakeHTTPServer.json(#"{"not": "a list"}"#))
            server.route("/models/nlpconnect/vit-gpt2-image-captioning", FakeHTTPServer.json("[]"))
            let client = makeClient(server)
            let errors = [
                await providerError { try await client.transcribe(audio: [1]) },
                await providerError { try await client.detectObjects(image: Self.jpeg) },
                await providerError { try await client.caption(image: Self.jpeg) },
            ]
            for error in errors {
                guard case .malformedResponse = error else {
                    Issue.record("expected .malformedResponse, got \(String(describing: error))")
                    continue
                }
                #expect(error?.isRetryable == false)
            }
        }
    }

    @Test func connectionRefused() async throws {
        let server = try await FakeHTTPServer.start()
        let client = makeClient(server)
        await server.stop()
        let error = await providerError { try await client.transcribe(audio: [1]) }
        guard case .connect = error else {
            Issue.record("expected .connect, got \(String(describing: error))")
            return
        }
        #expect(error?.isRetryable == true)
    }

    @Test func missingSettingsFailBeforeAnyRequest() async throws {
        try await withFakeServer { server in
            let noKey = makeClient(server, apiKey: nil)
            #expect(await providerError { try await noKey.transcribe(audio: [1]) } == .notConfigured(setting: "HF_API_KEY"))
            let emptyKey = makeClient(server, apiKey: "")
            #expect(await providerError { try await emptyKey.caption(image: [1]) } == .notConfigured(setting: "HF_API_KEY"))
            let noModels = makeClient(server, sttModel: nil, ttsModel: " ")
            #expect(await providerError { try await noModels.transcribe(audio: [1]) } == .notConfigured(setting: "HF_MODELO_STT"))
            #expect(await providerError { try await noModels.synthesize(text: "x") } == .notConfigured(setting: "HF_MODELO_TTS"))
            #expect(server.requests().isEmpty)
        }
    }

    @Test func modelNamesThatWouldChangeTheURLAreRefused() async throws {
        try await withFakeServer { server in
            let client = makeClient(server, sttModel: "../admin?x=1")
            let error = await providerError { try await client.transcribe(audio: [1]) }
            guard case .invalidRequest = error else {
                Issue.record("expected .invalidRequest, got \(String(describing: error))")
                return
            }
            #expect(server.requests().isEmpty)
        }
    }
}
