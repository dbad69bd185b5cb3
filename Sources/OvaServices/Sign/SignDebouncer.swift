/// Turns per-frame sign predictions into letters and words.
///
/// A letter is accepted when the same label wins `stableFrames` frames in a row with at least
/// `minConfidence`, and is not repeated while the hand holds it; holding a different letter
/// or a `space` sign continues the word; a pause of `wordGap` without a confident frame (or
/// the end of the stream) ends it.
struct SignDebouncer {
    var stableFrames = 3
    var minConfidence = 0.6
    var wordGapMilliseconds: UInt64 = 1200

    enum Event: Equatable {
        case letter(String, confidence: Double)
        case word(String)
    }

    private var candidate: String?
    private var candidateCount = 0
    private var lastAccepted: String?
    private var lastConfidentFrame: UInt64?
    private var word = ""

    /// Labels that mean "no letter": the model's classes for an empty frame or a space.
    static let separators: Set<String> = ["space", "nothing", "del", "none", "blank"]

    mutating func frame(label: String, confidence: Double, timestampMilliseconds: UInt64) -> [Event] {
        var events: [Event] = []
        if let last = self.lastConfidentFrame, timestampMilliseconds >= last + self.wordGapMilliseconds {
            events += self.endWord()
        }
        let normalized = label.lowercased()
        guard confidence >= self.minConfidence else {
            self.candidate = nil
            self.candidateCount = 0
            return events
        }
        self.lastConfidentFrame = timestampMilliseconds
        if normalized == self.candidate {
            self.candidateCount += 1
        } else {
            self.candidate = normalized
            self.candidateCount = 1
        }
        guard self.candidateCount == self.stableFrames, normalized != self.lastAccepted else { return events }
        self.lastAccepted = normalized
        if Self.separators.contains(normalized) {
            if normalized == "space" { events += self.endWord() }
            return events
        }
        self.word += label.uppercased()
        events.append(.letter(label.uppercased(), confidence: confidence))
        return events
    }

    /// Ends the current word (stream end).
    mutating func finish() -> [Event] {
        self.endWord()
    }

    private mutating func endWord() -> [Event] {
        defer {
            self.word = ""
            self.lastAccepted = nil
        }
        return self.word.isEmpty ? [] : [.word(self.word)]
    }
}
