import Foundation
import OvaAudio
import OvaFakeUpstream
import OvaProto
import OvaRPC
import OvaTestServer
import Testing

@Suite("Speech and the voice pipeline with the real local engines")
struct SpeechAndVoiceTests {
    @Test("espeak-ng streams audio as it synthesizes: format first, several chunks, a summary of plausible duration")
    func synthesisStreams() async throws {
        try await withMultimodalServer { _, channel, root, _ in
            let (pcm, rate, responses) = try await synthesize("hello world", channel: channel, options: root)
            #expect(responses.first?.format?.sampleRateHz == 22050)
            #expect(responses.first?.format?.encoding == .linear16)
            #expect(responses.compactMap(\.audio).count > 2)
            let summary = try #require(responses.last?.summary)
            #expect(summary.provider == "espeak-ng")
            #expect((400...4000).contains(summary.durationMs))
            #expect(summary.audioBytes == UInt64(pcm.count))
            #expect(rate == 22050)

            var wav = SynthesizeRequest()
            wav.text = "hola, ¿cómo estás?"
            wav.languageCode = "es"
            wav.encoding = .wav
            let spanish = try await SpeechClient(channel: channel).synthesize(wav, options: root) { stream in
                var audio: [UInt8] = []
                for try await response in stream { audio += response.audio ?? [] }
                return audio
            }
            let header = try WAV.parse(spanish)
            #expect(header.format == PCMFormat(sampleRate: 22050, channels: 1))
            #expect(spanish.count > 22050)

            var voicesRequest = ListVoicesRequest()
            voicesRequest.languageCode = "es"
            let voices = try await SpeechClient(channel: channel).listVoices(voicesRequest, options: root).voices
            #expect(!voices.isEmpty)
            #expect(voices.allSatisfy { $0.provider == "espeak-ng" && $0.languageCodes.contains { $0.hasPrefix("es") } })

            var empty = SynthesizeRequest()
            empty.text = "   "
            let refused = await rpcError { try await SpeechClient(channel: channel).synthesize(empty, options: root) { stream in for try await _ in stream {} } }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.errorDetails?.fieldViolations.first?.field == "text")
        }
    }

    @Test("synthesized speech streamed back through recognition with phrase hints yields the exact phrase; interim results come first")
    func roundTrip() async throws {
        try await withMultimodalServer { _, channel, root, _ in
            let (pcm, rate, _) = try await synthesize("open the door", channel: channel, options: root)
            let responses = try await recognize(
                pcm, sampleRate: rate, phrases: ["hello world", "open the door", "good morning"], channel: channel, options: root
            )
            let results = responses.flatMap(\.results)
            let final = try #require(results.last)
            #expect(final.isFinal)
            #expect(final.alternatives.first?.transcript == "open the door")
            #expect(final.alternatives.first?.words.map(\.word) == ["open", "the", "door"])
            #expect(responses.last?.provider == "pocketsphinx")
            #expect(results.dropLast().contains { !$0.isFinal && !($0.alternatives.first?.transcript ?? "").isEmpty })
            #expect(results.filter(\.isFinal).count == 1)
            #expect(final.resultEndMs > 300)
        }
    }

    @Test("silence yields no words; malformed audio and streams are INVALID_ARGUMENT")
    func silenceAndBadInput() async throws {
        try await withMultimodalServer { _, channel, root, _ in
            let silence = [UInt8](repeating: 0, count: 16000 * 2 * 2)
            let responses = try await recognize(silence, sampleRate: 16000, phrases: ["hello world"], channel: channel, options: root)
            #expect(responses.flatMap(\.results).last?.alternatives.first?.transcript == "")

            let odd = await rpcError { try await recognize([1, 2, 3], sampleRate: 16000, channel: channel, options: root) }
            #expect(odd?.code == .invalidArgument)
            #expect(odd?.message.contains("odd byte count") == true)

            let notWAV = await rpcError {
                try await recognize(Array("RIFF\u{0}\u{0}\u{0}\u{0}AVI LIST".utf8) + [UInt8](repeating: 0, count: 64), sampleRate: 16000,
                                    encoding: .wav, channel: channel, options: root)
            }
            #expect(notWAV?.code == .invalidArgument)

            let badRate = await rpcError { try await recognize([0, 0], sampleRate: 96000, channel: channel, options: root) }
            #expect(badRate?.errorDetails?.fieldViolations.first?.field == "config.sample_rate_hz")

            let noConfig = await rpcError {
                try await SpeechClient(channel: channel).recognize(options: root) { requests, responses in
                    var audio = RecognizeRequest()
                    audio.audio = [0, 0]
                    try await requests.write(audio)
                    requests.finish()
                    for try await _ in responses {}
                }
            }
            #expect(noConfig?.code == .invalidArgument)

            let spanish = await rpcError { try await recognize([0, 0], sampleRate: 16000, language: "es-ES", channel: channel, options: root) }
            #expect(spanish?.code == .failedPrecondition)
            #expect(spanish?.message.contains("HF_MODELO_STT") == true)
        }
    }

    @Test("with HF_MODELO_STT the remote model transcribes the utterance as WAV")
    func remoteRecognition() async throws {
        try await withMultimodalServer(["HF_MODELO_STT": "openai/whisper-small"]) { _, channel, root, upstream in
            upstream.route("/models/openai/whisper-small", FakeHTTPServer.json(#"{"text":" hola mundo "}"#))
            let audio = [UInt8](repeating: 1, count: 16000)
            let responses = try await recognize(audio, sampleRate: 16000, language: "es", channel: channel, options: root)
            #expect(responses.last?.results.last?.alternatives.first?.transcript == "hola mundo")
            #expect(responses.last?.provider == "huggingface")
            let sent = try #require(upstream.requests("/models/openai/whisper-small").first)
            let header = try WAV.parse(sent.body)
            #expect(header.format == PCMFormat(sampleRate: 16000, channels: 1))
            #expect(header.dataLength == 16000)
        }
    }

    @Test("voice pipeline: speech in, transcript, streamed answer tokens, spoken sentences, turn completed")
    func voicePipeline() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/v1/chat/completions", SSE.answer("Hello to you too. How can I help you today?"))
            let (pcm, rate, _) = try await synthesize("hello world", channel: channel, options: root)
            var recognition = RecognitionConfig()
            recognition.encoding = .linear16
            recognition.sampleRateHz = rate
            recognition.languageCode = "en-US"
            recognition.phraseHints = ["hello world", "good morning"]
            var synthesis = SynthesizeRequest()
            synthesis.languageCode = "en"
            var config = VoiceConfig()
            config.recognition = recognition
            config.synthesis = synthesis
            config.systemPrompt = "You are OVA."
            let firstConfig = config
            let events = try await VoiceClient(channel: channel).converse(options: root) { requests, responses in
                var first = VoiceRequest()
                first.config = firstConfig
                try await requests.write(first)
                var offset = 0
                while offset < pcm.count {
                    var audio = VoiceRequest()
                    audio.audio = Array(pcm[offset..<min(pcm.count, offset + 4410)])
                    try await requests.write(audio)
                    offset += 4410
                }
                var end = VoiceRequest()
                end.control = .endOfUtterance
                try await requests.write(end)
                requests.finish()
                var events: [VoiceEvent] = []
                for try await event in responses { events.append(event) }
                return events
            }
            let transcript = try #require(events.compactMap(\.transcript).last)
            #expect(transcript.isFinal)
            #expect(transcript.alternatives.first?.transcript == "hello world")
            let tokens = events.compactMap(\.token).map(\.content).joined()
            #expect(tokens == "Hello to you too. How can I help you today?")
            let audio = events.compactMap(\.audio)
            #expect(Set(audio.map(\.sentenceIndex)) == [0, 1])
            #expect(audio.first?.format?.sampleRateHz == 22050)
            let completed = try #require(events.compactMap(\.completed).last)
            #expect(completed.transcript == "hello world")
            #expect(completed.answer == tokens)
            #expect(completed.finishReason == .stop)
            // The first sentence's audio is streamed before the turn completes.
            let firstAudio = try #require(events.firstIndex { $0.audio != nil })
            let done = try #require(events.firstIndex { $0.completed != nil })
            #expect(firstAudio < done)
            // The LLM got the system prompt and the transcript.
            let body = String(decoding: try #require(upstream.requests("/v1/chat/completions").first).body, as: UTF8.self)
            #expect(body.contains("You are OVA."))
            #expect(body.contains("hello world"))
        }
    }

    @Test("voice barge-in: CANCEL_ANSWER stops the answer being spoken")
    func bargeIn() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            upstream.route("/v1/chat/completions", [SSE.head, SSE.token("Let me tell you a very long story. "), .hang])
            let (pcm, rate, _) = try await synthesize("good morning", channel: channel, options: root)
            let events = try await converse(pcm, sampleRate: rate, phrases: ["hello world", "good morning"], channel: channel, options: root) {
                event, earlier, requests in
                if event.token != nil, !earlier.contains(where: { $0.interrupted != nil }) {
                    var cancel = VoiceRequest()
                    cancel.control = .cancelAnswer
                    try await requests.write(cancel)
                }
                if event.interrupted != nil {
                    requests.finish()
                }
            }
            #expect(events.compactMap(\.transcript).last?.alternatives.first?.transcript == "good morning")
            #expect(events.compactMap(\.interrupted).first?.turn == 1)
            #expect(events.compactMap(\.completed).isEmpty)
            #expect(await upstream.waitForClientDisconnect("/v1/chat/completions"))
        }
    }

    @Test("voice barge-in: new speech while the answer plays interrupts it")
    func bargeInBySpeech() async throws {
        try await withMultimodalServer { _, channel, root, upstream in
            // The first answer stalls after one sentence until the gate opens; the interruption
            // comes before that. The interrupting speech is itself a question, answered in turn 2.
            let gate = Gate()
            let abandoned = Gate()
            upstream.route("/v1/chat/completions", [SSE.head, SSE.token("Let me tell you a very long story. "), .wait(gate), SSE.token("The end."), SSE.stop, SSE.done, .end])
            let (pcm, rate, _) = try await synthesize("good morning", channel: channel, options: root)
            let events = try await converse(pcm, sampleRate: rate, phrases: ["hello world", "good morning"], channel: channel, options: root) {
                event, earlier, requests in
                if event.token != nil, !earlier.contains(where: { $0.token != nil }) {
                    // The user starts talking over the answer.
                    var audio = VoiceRequest()
                    audio.audio = pcm
                    try await requests.write(audio)
                }
                if event.interrupted != nil {
                    // The gate stays shut until the abandoned request is gone, so the rest of the
                    // first answer cannot reach the server before its abort does.
                    if await upstream.waitForClientDisconnect("/v1/chat/completions") { abandoned.open() }
                    gate.open()
                    var end = VoiceRequest()
                    end.control = .endOfUtterance
                    try await requests.write(end)
                    requests.finish()
                }
            }
            #expect(events.compactMap(\.interrupted).map(\.turn) == [1])
            let completed = events.compactMap(\.completed)
            #expect(completed.map(\.turn) == [2])
            #expect(completed.first?.transcript == "good morning")
            #expect(upstream.requests("/v1/chat/completions").count == 2)
            // The interrupted answer's upstream request was abandoned, not read to the end.
            #expect(abandoned.opened)
        }
    }
}
