/// What the recognizer may hear in a session.
public enum RecognitionGrammar: Sendable, Equatable {
    /// Exactly one of these phrases (case-insensitive; every word must be in the dictionary).
    /// Turned into a JSGF grammar by ``PocketSphinxRecognizer/jsgf(phrases:)``.
    case phrases([String])
    /// A complete JSGF grammar; its first public rule is the top rule.
    case jsgf(String)
}

/// The best guess so far in an utterance; may change completely as more audio arrives.
public struct PartialHypothesis: Sendable, Equatable {
    public var text: String

    public init(text: String) {
        self.text = text
    }
}

/// One word of a final hypothesis, with its time span from the start of the session's audio.
public struct RecognizedWord: Sendable, Equatable {
    /// The dictionary word, without pocketsphinx's alternate-pronunciation suffix (`the(2)`).
    public var word: String
    public var startMs: Int
    public var endMs: Int
    /// Posterior probability, 0...1. pocketsphinx computes it from the word lattice when it can;
    /// with a grammar it reports 1 for every word (no lattice posteriors for FSG searches).
    public var confidence: Double

    public init(word: String, startMs: Int, endMs: Int, confidence: Double) {
        self.word = word
        self.startMs = startMs
        self.endMs = endMs
        self.confidence = confidence
    }
}

/// The result of a finished utterance. Empty `text` and `words` when nothing was recognized
/// (silence, noise).
public struct FinalHypothesis: Sendable, Equatable {
    public var text: String
    public var words: [RecognizedWord]
    /// Posterior probability of the whole hypothesis, 0...1.
    public var confidence: Double

    public init(text: String, words: [RecognizedWord], confidence: Double) {
        self.text = text
        self.words = words
        self.confidence = confidence
    }
}
