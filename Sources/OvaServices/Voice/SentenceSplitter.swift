/// Cuts a stream of LLM tokens into sentences, so speech for the first sentence starts while
/// the model is still writing the rest.
struct SentenceSplitter {
    /// Shorter pieces ("Sí.", "1.") are joined to the next sentence: synthesizing them alone
    /// sounds choppy and costs a synthesis round each.
    var minimumCharacters = 12
    private var pending = ""

    /// Adds a token; returns the sentences it completed.
    mutating func append(_ token: String) -> [String] {
        self.pending += token
        var sentences: [String] = []
        while let end = self.sentenceEnd() {
            let sentence = String(self.pending[..<end]).trimmingWhitespace()
            self.pending = String(self.pending[end...])
            if !sentence.isEmpty { sentences.append(sentence) }
        }
        return sentences
    }

    /// What is left when the answer is complete.
    mutating func finish() -> String? {
        let rest = self.pending.trimmingWhitespace()
        self.pending = ""
        return rest.isEmpty ? nil : rest
    }

    /// The index just after the first sentence-ending mark that is followed by whitespace and
    /// closes a piece of at least `minimumCharacters`.
    private func sentenceEnd() -> String.Index? {
        let terminators: Set<Character> = [".", "!", "?", "…", "。", "\n"]
        var index = self.pending.startIndex
        var count = 0
        while index < self.pending.endIndex {
            let character = self.pending[index]
            count += 1
            let next = self.pending.index(after: index)
            if terminators.contains(character), count >= self.minimumCharacters || character == "\n" {
                if character == "\n" { return next }
                if next < self.pending.endIndex, self.pending[next].isWhitespace {
                    return next
                }
            }
            index = next
        }
        return nil
    }
}
