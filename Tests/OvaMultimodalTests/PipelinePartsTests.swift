import Testing

@testable import OvaServices

@Suite("Voice and sign pipeline parts")
struct PipelinePartsTests {
    @Test("sentences are cut at terminators followed by space, short pieces join the next")
    func sentences() {
        var splitter = SentenceSplitter()
        var out: [String] = []
        for token in ["Hola", ". ", "Soy OVA, tu asistente", ". ¿En qué", " puedo ayudarte? Dime", " algo"] {
            out += splitter.append(token)
        }
        #expect(out == ["Hola. Soy OVA, tu asistente.", "¿En qué puedo ayudarte?"])
        #expect(splitter.finish() == "Dime algo")
        #expect(splitter.finish() == nil)

        var decimals = SentenceSplitter()
        #expect(decimals.append("Pi is about 3.14 and e is 2.71 in short. Next").count == 1)
        var lines = SentenceSplitter()
        #expect(lines.append("One\nTwo") == ["One"])
    }

    @Test("a letter needs stable confident frames, repeats are held, pauses and space end words")
    func debouncer() {
        var debouncer = SignDebouncer()
        var events: [SignDebouncer.Event] = []
        var time: UInt64 = 0
        func feed(_ label: String, _ confidence: Double, frames: Int) {
            for _ in 0..<frames {
                time += 100
                events += debouncer.frame(label: label, confidence: confidence, timestampMilliseconds: time)
            }
        }
        feed("h", 0.9, frames: 2)      // not stable yet
        feed("x", 0.3, frames: 3)      // not confident
        feed("h", 0.9, frames: 5)      // H, once
        feed("o", 0.8, frames: 3)      // O
        feed("space", 0.9, frames: 3)  // ends "HO"
        feed("l", 0.9, frames: 3)      // L
        time += 2000                   // a pause ends "L"
        feed("a", 0.9, frames: 3)
        events += debouncer.finish()
        #expect(events == [
            .letter("H", confidence: 0.9), .letter("O", confidence: 0.8), .word("HO"),
            .letter("L", confidence: 0.9), .word("L"), .letter("A", confidence: 0.9), .word("A"),
        ])
    }

    @Test("image formats are recognized by their magic bytes")
    func imageMagic() throws {
        #expect(ImageInput.format(of: [0xFF, 0xD8, 0xFF, 0xE0]) == "jpeg")
        #expect(ImageInput.format(of: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == "png")
        #expect(ImageInput.format(of: Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)) == "webp")
        #expect(ImageInput.format(of: Array("GIF89a".utf8)) == nil)
        #expect(ImageInput.format(of: []) == nil)
        #expect(throws: (any Error).self) { _ = try ImageInput.validate(Array("GIF89a".utf8)) }
    }

    @Test("conversation history is bounded and per session")
    func conversations() {
        var limits = ConversationStore.Limits()
        limits.messagesPerConversation = 4
        let store = ConversationStore(limits: limits)
        for index in 0..<3 {
            store.append(sessionID: 1, conversationID: "c", [
                ChatPrompt.Message(role: "user", content: "q\(index)"), ChatPrompt.Message(role: "assistant", content: "a\(index)"),
            ])
        }
        #expect(store.history(sessionID: 1, conversationID: "c").map(\.content) == ["q1", "a1", "q2", "a2"])
        #expect(store.history(sessionID: 2, conversationID: "c").isEmpty)
        #expect(store.clear(sessionID: 1, conversationID: "c"))
        #expect(!store.clear(sessionID: 1, conversationID: "c"))
    }
}
