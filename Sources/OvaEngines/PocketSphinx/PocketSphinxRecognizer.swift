import CPocketSphinx
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speech to text with pocketsphinx 5prealpha (Debian's 0.8+5prealpha) and its US English
/// models: 16 kHz mono 16-bit audio in, words with times out.
///
/// A pocketsphinx decoder is not thread-safe and takes a while to load (the acoustic model, the
/// 134k-word dictionary and the language model), so each session borrows a decoder of its own
/// from a small pool of idle ones, creating one only when the pool is empty, and gives it back
/// when it finishes. All decoding runs on a thread pool (by default a process-wide one of two
/// threads), never on the caller's thread: callers are typically event loops or the
/// cooperative pool, which must not block for the tens of milliseconds a chunk takes.
public final class PocketSphinxRecognizer: Sendable {
    /// Where Debian's pocketsphinx-en-us installs the US English acoustic model.
    public static let defaultModelDirectory = "/usr/share/pocketsphinx/model/en-us/en-us"
    /// Debian's CMU pronouncing dictionary (pocketsphinx-en-us).
    public static let defaultDictionary = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
    /// Debian's general US English trigram language model (pocketsphinx-en-us).
    public static let defaultLanguageModel = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
    /// The sample rate the decoders expect (the acoustic model's).
    public static let sampleRate = 16_000
    /// Grammar limits: enough for a command vocabulary, small enough to compile in milliseconds.
    public static let maxPhrases = 1_000
    public static let maxWordsPerPhrase = 32
    public static let maxGrammarBytes = 64 * 1024

    public let modelDirectory: String
    public let dictionary: String
    public let languageModel: String?
    /// Audio beyond this length in one session is refused (pocketsphinx keeps every frame of an
    /// utterance until it ends).
    public let maxUtteranceSeconds: Int

    let pool: NIOThreadPool
    private let idle: Mutex<[Decoder]>
    private let maxIdleDecoders: Int

    /// The thread pool used when none is given: two threads, for the process's lifetime.
    private static let sharedPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    /// Checks that the model files exist; decoders are loaded lazily by ``makeSession(grammar:)``.
    ///
    /// - Parameters:
    ///   - languageModel: an ARPA or binary n-gram model for free speech, or `nil` when every
    ///     session will have a grammar.
    ///   - threadPool: where decoding runs (started, owned by the caller); `nil` for a shared
    ///     two-thread pool.
    ///   - maxIdleDecoders: decoders kept loaded between sessions (each holds tens of MB).
    /// - Throws: ``EngineError/unavailable(_:)`` naming the missing file and the Debian package
    ///   pocketsphinx-en-us.
    public init(
        modelDirectory: String = PocketSphinxRecognizer.defaultModelDirectory,
        dictionary: String = PocketSphinxRecognizer.defaultDictionary,
        languageModel: String? = PocketSphinxRecognizer.defaultLanguageModel,
        threadPool: NIOThreadPool? = nil,
        maxIdleDecoders: Int = 2,
        maxUtteranceSeconds: Int = 300
    ) throws(EngineError) {
        // The files an acoustic model directory cannot do without (pocketsphinx would otherwise
        // fail inside ps_init with only a log line to say why).
        var required = ["mdef", "means", "variances", "transition_matrices", "noisedict"].map { modelDirectory + "/" + $0 }
        required.append(dictionary)
        if let languageModel { required.append(languageModel) }
        for file in required where access(file, R_OK) != 0 {
            throw .unavailable("pocketsphinx model file \(file) is missing or unreadable; install the Debian package pocketsphinx-en-us")
        }
        PocketSphinxLog.silence()
        self.modelDirectory = modelDirectory
        self.dictionary = dictionary
        self.languageModel = languageModel
        self.pool = threadPool ?? Self.sharedPool
        self.idle = Mutex([])
        self.maxIdleDecoders = max(0, maxIdleDecoders)
        self.maxUtteranceSeconds = maxUtteranceSeconds
    }

    /// Starts an utterance: borrows (or loads) a decoder and sets its search to `grammar`, or to
    /// the language model when `grammar` is nil.
    ///
    /// - Throws: ``EngineError/invalidInput(_:)`` for an empty or malformed grammar, phrase words
    ///   missing from the dictionary (listed), or no grammar without a language model;
    ///   ``EngineError/engineFailure(_:)`` when pocketsphinx cannot load its model;
    ///   ``EngineError/unavailable(_:)`` when the thread pool is stopped.
    public func makeSession(grammar: RecognitionGrammar? = nil) async throws(EngineError) -> RecognitionSession {
        let search: SearchRequest
        switch grammar {
        case nil:
            guard self.languageModel != nil else {
                throw .invalidInput("a grammar is required: this recognizer has no language model")
            }
            search = .languageModel
        case .phrases(let phrases):
            let (jsgf, words) = try Self.jsgf(phrases: phrases)
            search = .grammar(jsgf, words: words)
        case .jsgf(let text):
            guard text.utf8.count <= Self.maxGrammarBytes else {
                throw .invalidInput("JSGF grammar of \(text.utf8.count) bytes exceeds the limit of \(Self.maxGrammarBytes)")
            }
            guard !text.utf8.contains(0) else {
                throw .invalidInput("JSGF grammar contains a NUL character")
            }
            search = .grammar(text, words: [])
        }
        let decoder = try await self.run { () throws(EngineError) -> Decoder in
            let decoder = try self.takeDecoder()
            do throws(EngineError) {
                try decoder.start(search)
            } catch {
                self.giveBack(decoder)
                throw error
            }
            return decoder
        }
        return RecognitionSession(recognizer: self, decoder: decoder)
    }

    /// The JSGF grammar for `phrases`: `public <hint> = hello world | open the door;`, words
    /// lowercased, with the distinct words (to check against the dictionary).
    ///
    /// - Throws: ``EngineError/invalidInput(_:)`` for no phrases, too many, or a word with a
    ///   character that is not a letter, digit, apostrophe, period, hyphen or underscore.
    public static func jsgf(phrases: [String]) throws(EngineError) -> (grammar: String, words: [String]) {
        guard !phrases.isEmpty else {
            throw .invalidInput("the phrase list is empty")
        }
        guard phrases.count <= Self.maxPhrases else {
            throw .invalidInput("\(phrases.count) phrases exceed the limit of \(Self.maxPhrases)")
        }
        var alternatives: [String] = []
        var words = Set<String>()
        for phrase in phrases {
            let tokens = phrase.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
            guard !tokens.isEmpty else {
                throw .invalidInput("a phrase is empty")
            }
            guard tokens.count <= Self.maxWordsPerPhrase else {
                throw .invalidInput("a phrase of \(tokens.count) words exceeds the limit of \(Self.maxWordsPerPhrase)")
            }
            for token in tokens {
                // JSGF syntax characters (| ; < > ( ) [ ] * + = / " #) would change the grammar.
                guard token.count <= 64, token.allSatisfy({ $0.isLetter || $0.isNumber || "'.-_".contains($0) }) else {
                    throw .invalidInput("phrase word \"\(token.prefix(64))\" contains characters other than letters, digits and ' . - _")
                }
                words.insert(token)
            }
            alternatives.append(tokens.joined(separator: " "))
        }
        let grammar = "#JSGF V1.0;\ngrammar hints;\npublic <hint> = \(alternatives.joined(separator: " | "));\n"
        return (grammar, words.sorted())
    }

    /// Runs `body` on the decoding pool.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(EngineError) -> T) async throws(EngineError) -> T {
        let result: Result<T, EngineError>
        do {
            result = try await self.pool.runIfActive { () -> Result<T, EngineError> in
                do throws(EngineError) {
                    return .success(try body())
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw .unavailable("the speech recognition thread pool is stopped")
        }
        return try result.get()
    }

    /// On the pool: an idle decoder, or a newly loaded one.
    private func takeDecoder() throws(EngineError) -> Decoder {
        if let decoder = self.idle.withLock({ $0.popLast() }) {
            return decoder
        }
        return try Decoder(modelDirectory: self.modelDirectory, dictionary: self.dictionary, languageModel: self.languageModel)
    }

    /// A decoder whose utterance has ended, back to the idle pool (or freed when it is full).
    func giveBack(_ decoder: Decoder) {
        self.idle.withLock { idle in
            if idle.count < self.maxIdleDecoders {
                idle.append(decoder)
            }
        }
    }
}

/// Which search a session's decoder uses.
enum SearchRequest: Sendable {
    case languageModel
    /// JSGF text and, for generated grammars, the words to check against the dictionary first.
    case grammar(String, words: [String])
}

/// Turns pocketsphinx's logging (model loading, per-utterance statistics: hundreds of lines on
/// stderr per session) off, once per process.
enum PocketSphinxLog {
    private static let silenced: Void = {
        err_set_logfp(nil)
    }()

    static func silence() {
        _ = Self.silenced
    }
}

/// One pocketsphinx decoder.
///
/// `@unchecked Sendable` is sound because a decoder is owned by one session at a time (or by the
/// idle pool), and a session calls it only while holding its lock on a pool thread, so no two
/// threads ever use it at once; `deinit` runs when no one can.
final class Decoder: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The language model search's name (pocketsphinx's "_default"), nil without a model.
    private let languageModelSearch: String?
    private let logmath: OpaquePointer?
    /// Frames per second (-frate), to turn frame numbers into milliseconds.
    let frameRate: Int
    private(set) var inUtterance = false

    /// ps_init is serialized: sphinxbase's model loaders are not documented as thread-safe, and
    /// loading is rare (decoders are pooled).
    private static let loading = Mutex(())

    private static let grammarSearch = "ova_grammar"

    init(modelDirectory: String, dictionary: String, languageModel: String?) throws(EngineError) {
        let decoder: OpaquePointer? = Self.loading.withLock { _ in
            guard let config = ova_ps_config(modelDirectory, dictionary, languageModel) else { return nil }
            // ps_init keeps its own reference to the configuration.
            defer { cmd_ln_free_r(config) }
            return ps_init(config)
        }
        guard let decoder else {
            throw .engineFailure("pocketsphinx could not load the model in \(modelDirectory) with \(dictionary)")
        }
        self.pointer = decoder
        self.languageModelSearch = languageModel == nil ? nil : ps_get_search(decoder).map { String(cString: $0) }
        self.logmath = ps_get_logmath(decoder)
        let frameRate = ps_get_config(decoder).map { Int(cmd_ln_int_r($0, "-frate")) } ?? 100
        self.frameRate = frameRate > 0 ? frameRate : 100
    }

    deinit {
        if self.inUtterance {
            ps_end_utt(self.pointer)
        }
        ps_free(self.pointer)
    }

    /// Selects the search and starts an utterance.
    func start(_ search: SearchRequest) throws(EngineError) {
        switch search {
        case .languageModel:
            guard let name = self.languageModelSearch, ps_set_search(self.pointer, name) == 0 else {
                throw .engineFailure("pocketsphinx could not select its language model search")
            }
        case .grammar(let jsgf, let words):
            let missing = words.filter { ova_ps_has_word(self.pointer, $0) == 0 }
            guard missing.isEmpty else {
                throw .invalidInput("words not in the pronunciation dictionary: \(missing.joined(separator: ", "))")
            }
            // Re-using one name replaces the previous session's grammar instead of accumulating.
            guard ps_set_jsgf_string(self.pointer, Self.grammarSearch, jsgf) == 0,
                ps_set_search(self.pointer, Self.grammarSearch) == 0
            else {
                throw .invalidInput("pocketsphinx rejected the JSGF grammar (a syntax error, or a word not in the pronunciation dictionary)")
            }
        }
        // A new stream per session: word times restart at 0 (they count from the stream's
        // start, not the utterance's) and the noise estimate of the previous session's channel
        // is forgotten.
        guard ps_start_stream(self.pointer) == 0, ps_start_utt(self.pointer) == 0 else {
            throw .engineFailure("pocketsphinx could not start an utterance")
        }
        self.inUtterance = true
    }

    /// Decodes more audio; returns the current hypothesis.
    func process(_ samples: [Int16]) throws(EngineError) -> String {
        let status = samples.withUnsafeBufferPointer { buffer in
            ps_process_raw(self.pointer, buffer.baseAddress, buffer.count, 0, 0)
        }
        guard status >= 0 else {
            throw .engineFailure("pocketsphinx failed to decode audio (ps_process_raw returned \(status))")
        }
        return self.hypothesis()
    }

    /// The hypothesis text so far (or final, after ``end()``); "" when there is none.
    func hypothesis() -> String {
        ps_get_hyp(self.pointer, nil).map { String(cString: $0) } ?? ""
    }

    /// Ends the utterance and reads the final result.
    func end() throws(EngineError) -> FinalHypothesis {
        self.inUtterance = false
        guard ps_end_utt(self.pointer) >= 0 else {
            throw .engineFailure("pocketsphinx could not end the utterance")
        }
        let text = self.hypothesis()
        guard !text.isEmpty else {
            return FinalHypothesis(text: "", words: [], confidence: 0)
        }
        var words: [RecognizedWord] = []
        var segment = ps_seg_iter(self.pointer)
        while let current = segment {
            if let name = ps_seg_word(current).map({ String(cString: $0) }), let word = Self.spokenWord(name) {
                var startFrame: Int32 = 0
                var endFrame: Int32 = 0
                ps_seg_frames(current, &startFrame, &endFrame)
                words.append(
                    RecognizedWord(
                        word: word,
                        startMs: Int(startFrame) * 1000 / self.frameRate,
                        // A segment's end frame is inclusive.
                        endMs: (Int(endFrame) + 1) * 1000 / self.frameRate,
                        confidence: self.probability(ps_seg_prob(current, nil, nil, nil))
                    )
                )
            }
            // ps_seg_next frees the iterator after the last segment.
            segment = ps_seg_next(current)
        }
        return FinalHypothesis(text: text, words: words, confidence: self.probability(ps_get_prob(self.pointer)))
    }

    /// Ends an utterance whose result nobody wants, so that the decoder can be reused.
    func abandon() {
        if self.inUtterance {
            self.inUtterance = false
            ps_end_utt(self.pointer)
        }
    }

    private func probability(_ logProbability: Int32) -> Double {
        guard let logmath = self.logmath else { return 0 }
        return min(1, max(0, logmath_exp(logmath, logProbability)))
    }

    /// The word as spoken, or nil for silence and fillers (`<s>`, `</s>`, `<sil>`, `[NOISE]`,
    /// `++BREATH++`); strips the alternate-pronunciation suffix (`read(2)` → `read`).
    static func spokenWord(_ name: String) -> String? {
        guard let first = name.first, first != "<", first != "[", !name.hasPrefix("++") else { return nil }
        if name.hasSuffix(")"), let open = name.lastIndex(of: "(") {
            return String(name[..<open])
        }
        return name
    }
}
