import NIOCore
import OvaRPC

/// What the multimodal services need from a provider, whatever serves it (a remote API behind
/// resilience, or a local engine). Handlers see only these protocols; `OvaServer` wires the
/// configured providers into chains.

/// One recognition stream: 16 kHz mono 16-bit samples in, hypotheses out.
public protocol SpeechRecognitionSession: Sendable {
    /// Feeds audio; returns the current interim transcript when it changed (engines that only
    /// decode at the end return nil).
    func accept(_ samples: [Int16]) async throws -> String?
    /// Ends the utterance and returns the final result.
    func finish() async throws -> RecognizedSpeech
    func cancel() async
}

/// The final transcript of an utterance.
public struct RecognizedSpeech: Sendable, Equatable {
    public struct Word: Sendable, Equatable {
        public var word: String
        public var startMilliseconds: UInt32
        public var endMilliseconds: UInt32
        public var confidence: Float

        public init(word: String, startMilliseconds: UInt32, endMilliseconds: UInt32, confidence: Float) {
            self.word = word
            self.startMilliseconds = startMilliseconds
            self.endMilliseconds = endMilliseconds
            self.confidence = confidence
        }
    }

    public var transcript: String
    public var confidence: Float
    public var words: [Word]
    /// Which provider produced it (after fallbacks).
    public var provider: String

    public init(transcript: String, confidence: Float, words: [Word], provider: String) {
        self.transcript = transcript
        self.confidence = confidence
        self.words = words
        self.provider = provider
    }
}

/// What a recognition stream is configured with (validated by the handler).
public struct RecognitionSettings: Sendable, Equatable {
    /// BCP-47-ish code as given (`en-US`, `es`); providers match on the primary language.
    public var languageCode: String
    public var phraseHints: [String]
    /// A JSGF grammar; wins over phrase hints.
    public var grammar: String
    /// `""` (the configured chain), `local` or `huggingface`.
    public var provider: String

    public init(languageCode: String, phraseHints: [String], grammar: String, provider: String) {
        self.languageCode = languageCode
        self.phraseHints = phraseHints
        self.grammar = grammar
        self.provider = provider
    }

    public var primaryLanguage: String {
        String(self.languageCode.lowercased().split(separator: "-").first ?? "en")
    }
}

/// Starts recognition sessions on the best configured provider.
public protocol SpeechRecognitionBackend: Sendable {
    /// - Throws: FAILED_PRECONDITION naming the setting when no provider serves the language.
    func startSession(_ settings: RecognitionSettings) async throws -> any SpeechRecognitionSession
}

/// Synthesized audio as it is produced: the format first, then 16-bit PCM chunks.
public struct SynthesizedAudio: Sendable {
    public var sampleRate: Int
    public var provider: String
    public var chunks: AsyncThrowingStream<[Int16], any Error>

    public init(sampleRate: Int, provider: String, chunks: AsyncThrowingStream<[Int16], any Error>) {
        self.sampleRate = sampleRate
        self.provider = provider
        self.chunks = chunks
    }
}

/// A voice a synthesizer offers.
public struct SynthesisVoice: Sendable, Equatable {
    public var name: String
    public var languages: [String]
    public var gender: String
    public var provider: String

    public init(name: String, languages: [String], gender: String, provider: String) {
        self.name = name
        self.languages = languages
        self.gender = gender
        self.provider = provider
    }
}

/// What to say and how.
public struct SynthesisSettings: Sendable, Equatable {
    public var text: String
    public var voice: String
    public var languageCode: String
    public var wordsPerMinute: Int?
    public var provider: String

    public init(text: String, voice: String, languageCode: String, wordsPerMinute: Int?, provider: String) {
        self.text = text
        self.voice = voice
        self.languageCode = languageCode
        self.wordsPerMinute = wordsPerMinute
        self.provider = provider
    }
}

public protocol SpeechSynthesisBackend: Sendable {
    func synthesize(_ settings: SynthesisSettings, deadline: ContinuousClock.Instant?) async throws -> SynthesizedAudio
    func voices(languagePrefix: String) async throws -> [SynthesisVoice]
}

/// One chat turn's input.
public struct ChatPrompt: Sendable, Equatable {
    public struct Message: Sendable, Equatable {
        /// `system`, `user` or `assistant`.
        public var role: String
        public var content: String

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    public var messages: [Message]
    public var model: String?
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    public var stop: [String]

    public init(messages: [Message], model: String? = nil, temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil, stop: [String] = []) {
        self.messages = messages
        self.model = model
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.stop = stop
    }
}

/// What a chat stream yields.
public enum ChatChunk: Sendable, Equatable {
    case delta(String)
    case finished(reason: String, promptTokens: Int?, completionTokens: Int?)
}

public protocol ChatBackend: Sendable {
    var providerName: String { get }
    var modelName: String { get }
    /// Streams the answer; cancelling the consuming task aborts the upstream request.
    ///
    /// - Throws: FAILED_PRECONDITION naming the setting when chat is not configured.
    func complete(_ prompt: ChatPrompt, deadline: ContinuousClock.Instant?) async throws -> AsyncThrowingStream<ChatChunk, any Error>
}

/// An object found in an image.
public struct ImageDetection: Sendable, Equatable {
    public var label: String
    public var score: Double
    public var box: (xmin: Double, ymin: Double, xmax: Double, ymax: Double)

    public init(label: String, score: Double, box: (xmin: Double, ymin: Double, xmax: Double, ymax: Double)) {
        self.label = label
        self.score = score
        self.box = box
    }

    public static func == (lhs: ImageDetection, rhs: ImageDetection) -> Bool {
        lhs.label == rhs.label && lhs.score == rhs.score && lhs.box == rhs.box
    }
}

public protocol VisionBackend: Sendable {
    var providerName: String { get }
    func detectObjects(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> [ImageDetection]
    func caption(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> String
    /// Sign-language letters, best first.
    func classifySign(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> [(label: String, score: Double)]
}

extension ServerContext {
    /// The call's deadline as a `ContinuousClock` instant, for provider timeouts.
    var continuousDeadline: ContinuousClock.Instant? {
        guard let deadline = self.deadline else { return nil }
        let remaining = max(0, (deadline - NIODeadline.now()).nanoseconds)
        return ContinuousClock.now.advanced(by: .nanoseconds(remaining))
    }
}
