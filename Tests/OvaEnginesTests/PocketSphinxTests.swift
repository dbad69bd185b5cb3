import Testing
@testable import OvaAudio
import OvaEngines

/// Recognition of espeak-ng's speech (22050 Hz, resampled to 16 kHz) by pocketsphinx: a
/// synthetic voice, but a real round trip through both engines.
@Suite("pocketsphinx recognition")
struct PocketSphinxTests {
    private static let commands = RecognitionGrammar.phrases(["hello world", "open the door", "good morning"])

    @Test(arguments: ["hello world", "open the door", "good morning"])
    func grammarRecognizesEachPhraseExactly(phrase: String) async throws {
        let audio = try await speech16kHz(phrase)
        let (_, final) = try await recognize(audio, grammar: Self.commands)
        #expect(final.text == phrase)
        #expect(final.words.map(\.word) == phrase.split(separator: " ").map(String.init))
        // Word times are in this session's audio (not the decoder's lifetime), in order.
        let durationMs = audio.count * 1000 / 16_000
        #expect(final.words.allSatisfy { $0.startMs >= 0 && $0.startMs < $0.endMs && $0.endMs <= durationMs + 10 })
        #expect(zip(final.words, final.words.dropFirst()).allSatisfy { $0.endMs <= $1.startMs })
        #expect(final.confidence > 0 && final.confidence <= 1)
    }

    /// The general language model on espeak's voice: mostly wrong, as the design notes say.
    /// Measured: "hello world" → "oh well" (partials "the law", "when", "well"),
    /// "open the door" → "well", "good morning" → "oh". It must produce something, with
    /// lattice confidences below 1.
    @Test func languageModelProducesSomething() async throws {
        let audio = try await speech16kHz("hello world")
        let (_, final) = try await recognize(audio, grammar: nil)
        #expect(!final.text.isEmpty)
        #expect(!final.words.isEmpty)
        #expect(final.confidence > 0 && final.confidence < 1)
        #expect(final.words.allSatisfy { $0.confidence >= 0 && $0.confidence <= 1 })
    }

    @Test(arguments: [true, false])
    func silenceYieldsNoWords(withGrammar: Bool) async throws {
        let silence = [Int16](repeating: 0, count: 2 * 16_000)
        let (partials, final) = try await recognize(silence, grammar: withGrammar ? Self.commands : nil)
        #expect(partials.isEmpty)
        #expect(final.text == "")
        #expect(final.words.isEmpty)
    }

    /// Fed 100 ms at a time, a three-word phrase shows partial results before finish():
    /// measured "open", "open the" (and sometimes a passing "hello") for "open the door".
    @Test func partialHypothesisArrivesBeforeFinish() async throws {
        let audio = try await speech16kHz("open the door")
        let (partials, final) = try await recognize(audio, grammar: Self.commands)
        #expect(!partials.isEmpty)
        #expect(partials.contains { $0 != final.text })
        #expect(final.text == "open the door")
        // Each partial differs from the one before it (only changes are reported).
        #expect(zip(partials, partials.dropFirst()).allSatisfy { $0 != $1 })
    }

    @Test func jsgfIsGeneratedFromPhrases() throws {
        let (grammar, words) = try PocketSphinxRecognizer.jsgf(phrases: ["Hello  World", "open the door"])
        #expect(grammar == "#JSGF V1.0;\ngrammar hints;\npublic <hint> = hello world | open the door;\n")
        #expect(words == ["door", "hello", "open", "the", "world"])
    }

    @Test(arguments: [[], ["hello", "  "], ["hello | world"], ["<hint>"], ["a;b"], [String](repeating: "x", count: 1_001)])
    func badPhrasesAreInvalidInput(phrases: [String]) async throws {
        let error = await engineError { _ = try PocketSphinxRecognizer.jsgf(phrases: phrases) }
        #expect(error?.invalidInputMessage != nil)
    }

    @Test func wordsMissingFromTheDictionaryAreListed() async throws {
        let recognizer = try Engines.recognizer()
        let error = await engineError {
            _ = try await recognizer.makeSession(grammar: .phrases(["hello zzyzxq", "qwxptl door"]))
        }
        #expect(error == .invalidInput("words not in the pronunciation dictionary: qwxptl, zzyzxq"))
        // The decoder that refused the grammar still works for the next session.
        let audio = try await speech16kHz("good morning")
        #expect(try await recognize(audio, grammar: Self.commands).final.text == "good morning")
    }

    @Test func customJSGFGrammarWorksAndBadJSGFIsRejected() async throws {
        let jsgf = "#JSGF V1.0;\ngrammar doors;\npublic <command> = (open | close) the door;\n"
        let audio = try await speech16kHz("open the door")
        #expect(try await recognize(audio, grammar: .jsgf(jsgf)).final.text == "open the door")
        let recognizer = try Engines.recognizer()
        let error = await engineError { _ = try await recognizer.makeSession(grammar: .jsgf("this is not JSGF")) }
        #expect(error?.invalidInputMessage?.contains("JSGF") == true)
    }

    @Test func finishedAndCancelledSessionsRefuseAudio() async throws {
        let recognizer = try Engines.recognizer()
        let finished = try await recognizer.makeSession(grammar: Self.commands)
        _ = try await finished.finish()
        #expect(await engineError { _ = try await finished.accept(samples16kHz: [1, 2, 3]) } == .invalidInput("the recognition session is finished"))
        #expect(await engineError { _ = try await finished.finish() } == .invalidInput("the recognition session is finished"))

        let cancelled = try await recognizer.makeSession(grammar: Self.commands)
        _ = try await cancelled.accept(samples16kHz: [Int16](repeating: 0, count: 1_600))
        cancelled.cancel()
        cancelled.cancel()
        #expect(await engineError { _ = try await cancelled.accept(samples16kHz: [1, 2, 3]) } == .invalidInput("the recognition session was cancelled"))
        #expect(await engineError { _ = try await cancelled.finish() } == .invalidInput("the recognition session was cancelled"))
    }

    @Test func utteranceLengthIsLimited() async throws {
        let recognizer = try PocketSphinxRecognizer(maxIdleDecoders: 0, maxUtteranceSeconds: 1)
        let session = try await recognizer.makeSession(grammar: Self.commands)
        _ = try await session.accept(samples16kHz: [Int16](repeating: 0, count: 16_000))
        let error = await engineError { _ = try await session.accept(samples16kHz: [0]) }
        #expect(error == .invalidInput("audio longer than 1 s in one session"))
    }

    @Test func missingModelFilesNameThePackage() throws {
        #expect(throws: EngineError.unavailable("pocketsphinx model file /nonexistent/mdef is missing or unreadable; install the Debian package pocketsphinx-en-us")) {
            try PocketSphinxRecognizer(modelDirectory: "/nonexistent")
        }
        #expect(throws: EngineError.unavailable("pocketsphinx model file /nonexistent.dict is missing or unreadable; install the Debian package pocketsphinx-en-us")) {
            try PocketSphinxRecognizer(dictionary: "/nonexistent.dict")
        }
    }

    @Test func grammarIsRequiredWithoutALanguageModel() async throws {
        let recognizer = try PocketSphinxRecognizer(languageModel: nil, maxIdleDecoders: 0)
        let error = await engineError { _ = try await recognizer.makeSession(grammar: nil) }
        #expect(error == .invalidInput("a grammar is required: this recognizer has no language model"))
    }
}
