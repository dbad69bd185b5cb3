import OvaAudio
import OvaEngines
import OvaProviders
import OvaRPC
import OvaResilience
import Synchronization

/// Speech recognition across the configured providers: the Hugging Face model when
/// `HF_MODELO_STT` is set (with the local engine as the fallback for English), otherwise the
/// local pocketsphinx engine (English only). A language nobody serves is FAILED_PRECONDITION
/// naming the setting.
public struct SpeechRecognitionChain: SpeechRecognitionBackend {
    let local: PocketSphinxRecognizer?
    /// Why the local engine is missing, for the error.
    let localUnavailableReason: String
    let providers: RemoteProviders

    public init(local: PocketSphinxRecognizer?, localUnavailableReason: String, providers: RemoteProviders) {
        self.local = local
        self.localUnavailableReason = localUnavailableReason
        self.providers = providers
    }

    var remoteConfigured: Bool {
        self.providers.huggingFaceConfiguration.apiKey != nil && self.providers.huggingFaceConfiguration.sttModel != nil
    }

    public func startSession(_ settings: RecognitionSettings) async throws -> any SpeechRecognitionSession {
        let english = settings.primaryLanguage == "en"
        let grammar: RecognitionGrammar? = !settings.grammar.isEmpty ? .jsgf(settings.grammar)
            : settings.phraseHints.isEmpty ? nil : .phrases(settings.phraseHints)
        switch settings.provider {
        case "local":
            return try await self.localSession(grammar: grammar, english: english)
        case "huggingface":
            guard self.remoteConfigured else { throw Self.remoteNotConfigured }
            return RemoteRecognitionSession(providers: self.providers, fallback: nil)
        default:
            if self.remoteConfigured {
                let fallback = english ? self.local.map { LocalFallback(recognizer: $0, grammar: grammar) } : nil
                return RemoteRecognitionSession(providers: self.providers, fallback: fallback)
            }
            guard english else {
                throw ProviderError.notConfigured(
                    setting: "HF_API_KEY and HF_MODELO_STT (the local recognizer only has an English model; language \(settings.languageCode))"
                )
            }
            return try await self.localSession(grammar: grammar, english: english)
        }
    }

    private func localSession(grammar: RecognitionGrammar?, english: Bool) async throws -> any SpeechRecognitionSession {
        guard let local = self.local else { throw EngineError.unavailable(self.localUnavailableReason) }
        guard english else {
            throw RPCError(code: .failedPrecondition, message: "the local recognizer (pocketsphinx) only has an English model; set HF_API_KEY and HF_MODELO_STT for other languages")
        }
        return LocalRecognitionSession(session: try await local.makeSession(grammar: grammar))
    }

    static let remoteNotConfigured = ProviderError.notConfigured(setting: "HF_API_KEY and HF_MODELO_STT")
}

/// The local engine, recognizing incrementally.
struct LocalRecognitionSession: SpeechRecognitionSession {
    let session: RecognitionSession
    var provider = "pocketsphinx"

    func accept(_ samples: [Int16]) async throws -> String? {
        try await self.session.accept(samples16kHz: samples)?.text
    }

    func finish() async throws -> RecognizedSpeech {
        let final = try await self.session.finish()
        return RecognizedSpeech(
            transcript: final.text,
            confidence: Float(final.confidence),
            words: final.words.map {
                RecognizedSpeech.Word(
                    word: $0.word, startMilliseconds: UInt32(clamping: $0.startMs), endMilliseconds: UInt32(clamping: $0.endMs),
                    confidence: Float($0.confidence)
                )
            },
            provider: self.provider
        )
    }

    func cancel() async {
        self.session.cancel()
    }
}

/// How to redo an utterance locally when the remote provider fails.
struct LocalFallback: Sendable {
    let recognizer: PocketSphinxRecognizer
    let grammar: RecognitionGrammar?
}

/// The Hugging Face model: it transcribes whole files, so the utterance is buffered and sent
/// at the end (no interim results); on failure the buffered audio goes to the local engine.
final class RemoteRecognitionSession: SpeechRecognitionSession {
    private let providers: RemoteProviders
    private let fallback: LocalFallback?
    private let buffer = BufferedSamples()

    init(providers: RemoteProviders, fallback: LocalFallback?) {
        self.providers = providers
        self.fallback = fallback
    }

    func accept(_ samples: [Int16]) async throws -> String? {
        self.buffer.append(samples)
        return nil
    }

    func finish() async throws -> RecognizedSpeech {
        let samples = self.buffer.take()
        guard !samples.isEmpty else {
            return RecognizedSpeech(transcript: "", confidence: 0, words: [], provider: "huggingface")
        }
        let wav = WAV.header(format: PCMFormat.recognizer, dataBytes: UInt32(clamping: samples.count * 2))
            + PCMEncoding.littleEndianBytes(samples)
        let client = self.providers.huggingFace
        do {
            guard let executor = self.providers.executor(RemoteProviders.Name.speechToText) else {
                throw SpeechRecognitionChain.remoteNotConfigured
            }
            let text = try await executor.run { _ in try await client.transcribe(audio: wav, contentType: "audio/wav", timeout: nil) }
            return RecognizedSpeech(transcript: text.trimmingWhitespace(), confidence: 0, words: [], provider: "huggingface")
        } catch {
            guard let fallback = self.fallback, !(error is CancellationError) else { throw error }
            var local = LocalRecognitionSession(session: try await fallback.recognizer.makeSession(grammar: fallback.grammar))
            local.provider = "pocketsphinx (fallback: huggingface failed)"
            var offset = 0
            while offset < samples.count {
                let end = min(samples.count, offset + 16_000)
                _ = try await local.accept(Array(samples[offset..<end]))
                offset = end
            }
            return try await local.finish()
        }
    }

    func cancel() async {
        _ = self.buffer.take()
    }
}

/// Samples waiting for the end of the utterance.
private final class BufferedSamples: Sendable {
    private let samples = Mutex<[Int16]>([])

    func append(_ more: [Int16]) {
        self.samples.withLock { $0 += more }
    }

    func take() -> [Int16] {
        self.samples.withLock { samples in
            defer { samples = [] }
            return samples
        }
    }
}
