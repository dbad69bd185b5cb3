import OvaAudio
import OvaEngines
import OvaProto
import OvaRPC

/// `ova.v1.Speech`: streaming recognition (Google StreamingRecognize's shape: config first,
/// then audio; interim and final results) and synthesis streamed as it is produced.
public struct SpeechServiceHandler: SpeechHandler {
    let recognition: any SpeechRecognitionBackend
    let synthesis: any SpeechSynthesisBackend

    public init(recognition: any SpeechRecognitionBackend, synthesis: any SpeechSynthesisBackend) {
        self.recognition = recognition
        self.synthesis = synthesis
    }

    static let maxChunkBytes = 256 * 1024
    static let maxPhraseHints = 500
    static let maxPhraseCharacters = 100
    static let maxGrammarBytes = 64 * 1024
    static let maxTextCharacters = 5000
    static let providers: Set<String> = ["", "local", "huggingface"]

    // MARK: - Recognize

    public func recognize(
        requests: RPCRequestStream<RecognizeRequest>,
        responses: RPCResponseWriter<RecognizeResponse>,
        context: ServerContext
    ) async throws {
        _ = try context.requireAdmin()
        var messages = requests.makeAsyncIterator()
        guard let first = try await messages.next() else {
            throw RPCError(code: .invalidArgument, message: "the stream ended before its config message")
        }
        guard let config = first.config else {
            throw RPCError.invalidArgument("invalid stream", fieldViolations: [("config", "the first message must carry the recognition config; audio follows")])
        }
        let settings = try Self.recognitionSettings(config)
        var input = try AudioInput(encoding: config.encoding, sampleRateHz: config.sampleRateHz)
        let session: any SpeechRecognitionSession
        do {
            session = try await self.recognition.startSession(settings)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "speech recognition")
        }
        do {
            var lastInterim = ""
            var index = 1
            while let message = try await messages.next() {
                index += 1
                guard let audio = message.audio else {
                    throw RPCError.invalidArgument("invalid stream", fieldViolations: [("config", "only the first message may carry config (message \(index))")])
                }
                guard audio.count <= Self.maxChunkBytes else {
                    throw RPCError.invalidArgument("invalid audio", fieldViolations: [
                        ("audio", "chunks must be at most \(Self.maxChunkBytes) bytes (message \(index) has \(audio.count)); send 20-100 ms per message"),
                    ])
                }
                let samples = try input.append(audio)
                guard !samples.isEmpty else { continue }
                if let interim = try await session.accept(samples), config.interimResults, !interim.isEmpty, interim != lastInterim {
                    lastInterim = interim
                    try await responses.write(Self.interimResponse(interim, endMilliseconds: input.receivedMilliseconds, language: settings.languageCode))
                }
            }
            let tail = try input.finish()
            if !tail.isEmpty {
                _ = try await session.accept(tail)
            }
            let result = try await session.finish()
            try await responses.write(Self.finalResponse(result, endMilliseconds: input.receivedMilliseconds, language: settings.languageCode))
        } catch {
            await session.cancel()
            throw ProviderFailureMapping.rpcError(error, capability: "speech recognition")
        }
    }

    static func recognitionSettings(_ config: RecognitionConfig) throws -> RecognitionSettings {
        var validator = RequestValidator()
        let language = config.languageCode.isEmpty ? "en-US" : config.languageCode
        if language.count > 35 || !language.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }) {
            validator.fail("config.language_code", "must be a language tag such as en-US or es")
        }
        if config.phraseHints.count > Self.maxPhraseHints {
            validator.fail("config.phrase_hints", "at most \(Self.maxPhraseHints) phrases")
        }
        for (index, hint) in config.phraseHints.enumerated() where hint.count > Self.maxPhraseCharacters || hint.trimmingWhitespace().isEmpty {
            validator.fail("config.phrase_hints[\(index)]", "must be 1-\(Self.maxPhraseCharacters) characters")
        }
        if config.grammar.utf8.count > Self.maxGrammarBytes {
            validator.fail("config.grammar", "must be at most \(Self.maxGrammarBytes) bytes")
        }
        if !Self.providers.contains(config.provider) {
            validator.fail("config.provider", "must be empty (the configured chain), local or huggingface")
        }
        try validator.check("invalid recognition config")
        return RecognitionSettings(
            languageCode: language,
            phraseHints: config.phraseHints.map { $0.trimmingWhitespace() },
            grammar: config.grammar,
            provider: config.provider
        )
    }

    static func interimResponse(_ transcript: String, endMilliseconds: UInt32, language: String) -> RecognizeResponse {
        var alternative = SpeechAlternative()
        alternative.transcript = transcript
        var result = SpeechResult()
        result.alternatives = [alternative]
        result.isFinal = false
        result.stability = 0.5
        result.resultEndMs = endMilliseconds
        result.languageCode = language
        var response = RecognizeResponse()
        response.results = [result]
        return response
    }

    static func finalResponse(_ speech: RecognizedSpeech, endMilliseconds: UInt32, language: String) -> RecognizeResponse {
        var response = RecognizeResponse()
        response.results = [Self.finalResult(speech, endMilliseconds: endMilliseconds, language: language)]
        response.provider = speech.provider
        return response
    }

    static func finalResult(_ speech: RecognizedSpeech, endMilliseconds: UInt32, language: String) -> SpeechResult {
        var alternative = SpeechAlternative()
        alternative.transcript = speech.transcript
        alternative.confidence = speech.confidence
        alternative.words = speech.words.map { word in
            var info = WordInfo()
            info.word = word.word
            info.startMs = word.startMilliseconds
            info.endMs = word.endMilliseconds
            info.confidence = word.confidence
            return info
        }
        var result = SpeechResult()
        result.alternatives = [alternative]
        result.isFinal = true
        result.stability = 1
        result.resultEndMs = endMilliseconds
        result.languageCode = language
        return result
    }

    // MARK: - Synthesize

    /// The format first (and for WAV a streaming header as the first audio bytes), then audio
    /// chunks as the engine produces them, then a summary.
    public func synthesize(request: SynthesizeRequest, responses: RPCResponseWriter<SynthesizeResponse>, context: ServerContext) async throws {
        _ = try context.requireAdmin()
        let settings = try Self.synthesisSettings(request)
        let encoding: AudioEncoding = request.encoding == .wav ? .wav : .linear16
        var audioBytes: UInt64 = 0
        var samples: UInt64 = 0
        do {
            let audio = try await self.synthesis.synthesize(settings, deadline: context.continuousDeadline)
            var format = AudioFormat()
            format.encoding = encoding
            format.sampleRateHz = UInt32(audio.sampleRate)
            format.channels = 1
            var formatResponse = SynthesizeResponse()
            formatResponse.format = format
            try await responses.write(formatResponse)
            if encoding == .wav {
                let header = WAV.header(format: PCMFormat(sampleRate: audio.sampleRate, channels: 1), dataBytes: nil)
                var headerResponse = SynthesizeResponse()
                headerResponse.audio = header
                try await responses.write(headerResponse)
                audioBytes += UInt64(header.count)
            }
            for try await chunk in audio.chunks where !chunk.isEmpty {
                var response = SynthesizeResponse()
                response.audio = PCMEncoding.littleEndianBytes(chunk)
                try await responses.write(response)
                samples += UInt64(chunk.count)
                audioBytes += UInt64(chunk.count * 2)
            }
            var summary = SynthesisSummary()
            summary.durationMs = samples * 1000 / UInt64(max(1, audio.sampleRate))
            summary.sampleRateHz = UInt32(audio.sampleRate)
            summary.audioBytes = audioBytes
            summary.provider = audio.provider
            var summaryResponse = SynthesizeResponse()
            summaryResponse.summary = summary
            try await responses.write(summaryResponse)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "speech synthesis")
        }
    }

    static func synthesisSettings(_ request: SynthesizeRequest) throws -> SynthesisSettings {
        var validator = RequestValidator()
        let text = request.text.trimmingWhitespace()
        if text.isEmpty { validator.fail("text", "is required") }
        if text.count > Self.maxTextCharacters { validator.fail("text", "must be at most \(Self.maxTextCharacters) characters") }
        if request.voice.count > 100 { validator.fail("voice", "must be at most 100 characters") }
        if request.languageCode.count > 35 { validator.fail("language_code", "must be a language tag such as es or en-US") }
        if request.rateWpm != 0, !(80...450).contains(request.rateWpm) { validator.fail("rate_wpm", "must be 80-450 words per minute (0: default)") }
        if request.encoding != .unspecified, request.encoding != .linear16, request.encoding != .wav {
            validator.fail("encoding", "must be LINEAR16 or WAV")
        }
        if !Self.providers.contains(request.provider) { validator.fail("provider", "must be empty, local or huggingface") }
        try validator.check("invalid synthesis request")
        return SynthesisSettings(
            text: text, voice: request.voice, languageCode: request.languageCode,
            wordsPerMinute: request.rateWpm == 0 ? nil : Int(request.rateWpm), provider: request.provider
        )
    }

    public func listVoices(request: ListVoicesRequest, context: ServerContext) async throws -> ListVoicesResponse {
        _ = try context.requireAdmin()
        let voices: [SynthesisVoice]
        do {
            voices = try await self.synthesis.voices(languagePrefix: request.languageCode)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "speech synthesis")
        }
        var response = ListVoicesResponse()
        response.voices = voices.map { voice in
            var info = VoiceInfo()
            info.name = voice.name
            info.languageCodes = voice.languages
            info.gender = voice.gender
            info.provider = voice.provider
            return info
        }
        return response
    }
}
