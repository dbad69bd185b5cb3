import Foundation
import OvaFakeUpstream
import OvaProto
import OvaRPC
import OvaTestServer
import OvaTestSupport

/// A real ova-server whose remote providers point at a loopback fake (Hugging Face and an
/// OpenAI-compatible chat API), logged in as the superadmin.
func withMultimodalServer(
    _ environment: [String: String] = [:],
    configureProviders: Bool = true,
    _ body: (AccountsServer, RPCChannel, CallOptions, FakeHTTPServer) async throws -> Void
) async throws {
    let upstream = try await FakeHTTPServer.start()
    var settings: [String: String] = ["OVA_PROVIDER_RETRIES": "0", "OVA_PROVIDER_TIMEOUT_SECONDS": "10"]
    if configureProviders {
        settings["HF_API_KEY"] = "hf_test_key"
        settings["OVA_HF_BASE_URL"] = upstream.baseURL
        settings["OVA_LLM_BASE_URL"] = upstream.baseURL + "/v1"
        settings["HF_MODELO_LLM"] = "test/chat-model"
    }
    settings.merge(environment) { $1 }
    try await withAsyncCleanup {
        try await withAccountsServer(settings) { server, channel in
            let root = try await rootOptions(channel)
            try await body(server, channel, root, upstream)
        }
    } cleanup: {
        await upstream.stop()
    }
}

enum SSE {
    static func token(_ text: String) -> FakeHTTPServer.Step {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return .text("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\(escaped)\"},\"finish_reason\":null}]}\n\n")
    }

    static let head = FakeHTTPServer.Step.head(status: 200, headers: [("Content-Type", "text/event-stream")])
    static let stop = FakeHTTPServer.Step.text("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
    static let usage = FakeHTTPServer.Step.text("data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n")
    static let done = FakeHTTPServer.Step.text("data: [DONE]\n\n")

    /// A complete answer, one token per word.
    static func answer(_ text: String) -> [FakeHTTPServer.Step] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).enumerated().map { index, word in
            index == 0 ? String(word) : " " + word
        }
        return [head] + words.map(token) + [stop, usage, done, .end]
    }
}

/// A question asked of Chat/Complete.
func chatRequest(_ question: String) -> ChatRequest {
    var message = ChatMessage()
    message.role = .user
    message.content = question
    var request = ChatRequest()
    request.messages = [message]
    return request
}

/// Synthesizes `text` with the local engine through the RPC; returns the PCM and its rate.
func synthesize(_ text: String, channel: RPCChannel, options: CallOptions) async throws -> (pcm: [UInt8], sampleRate: UInt32, responses: [SynthesizeResponse]) {
    var request = SynthesizeRequest()
    request.text = text
    request.languageCode = "en"
    request.provider = "local"
    let responses = try await SpeechClient(channel: channel).synthesize(request, options: options) { stream in
        var all: [SynthesizeResponse] = []
        for try await response in stream { all.append(response) }
        return all
    }
    let pcm = responses.compactMap(\.audio).flatMap { $0 }
    return (pcm, responses.first?.format?.sampleRateHz ?? 0, responses)
}

/// Streams `pcm` (LINEAR16) to Speech/Recognize in 100 ms chunks; returns every response.
func recognize(
    _ pcm: [UInt8], sampleRate: UInt32, phrases: [String] = [], language: String = "en-US", provider: String = "",
    encoding: AudioEncoding = .linear16, channel: RPCChannel, options: CallOptions
) async throws -> [RecognizeResponse] {
    var config = RecognitionConfig()
    config.encoding = encoding
    config.sampleRateHz = sampleRate
    config.languageCode = language
    config.interimResults = true
    config.phraseHints = phrases
    config.provider = provider
    let chunkBytes = max(2, Int(sampleRate) / 10 * 2)
    let firstConfig = config
    return try await SpeechClient(channel: channel).recognize(options: options) { requests, responses in
        var first = RecognizeRequest()
        first.config = firstConfig
        try await requests.write(first)
        var offset = 0
        while offset < pcm.count {
            var message = RecognizeRequest()
            message.audio = Array(pcm[offset..<min(pcm.count, offset + chunkBytes)])
            try await requests.write(message)
            offset += chunkBytes
        }
        requests.finish()
        var all: [RecognizeResponse] = []
        for try await response in responses { all.append(response) }
        return all
    }
}

/// Opens Voice/Converse with a LINEAR16 config and phrase hints, says `pcm` as one utterance
/// (audio, then END_OF_UTTERANCE), and hands each event with those before it to `react`, which
/// may write more requests or finish them; returns every event.
func converse(
    _ pcm: [UInt8], sampleRate: UInt32, phrases: [String], channel: RPCChannel, options: CallOptions,
    react: @escaping @Sendable (VoiceEvent, [VoiceEvent], RPCRequestWriter<VoiceRequest>) async throws -> Void
) async throws -> [VoiceEvent] {
    var recognition = RecognitionConfig()
    recognition.encoding = .linear16
    recognition.sampleRateHz = sampleRate
    recognition.phraseHints = phrases
    var config = VoiceConfig()
    config.recognition = recognition
    let firstConfig = config
    return try await VoiceClient(channel: channel).converse(options: options) { requests, responses in
        var first = VoiceRequest()
        first.config = firstConfig
        try await requests.write(first)
        var audio = VoiceRequest()
        audio.audio = pcm
        try await requests.write(audio)
        var end = VoiceRequest()
        end.control = .endOfUtterance
        try await requests.write(end)
        var events: [VoiceEvent] = []
        for try await event in responses {
            let earlier = events
            events.append(event)
            try await react(event, earlier, requests)
        }
        return events
    }
}
