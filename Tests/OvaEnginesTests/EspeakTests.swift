import Testing
@testable import OvaAudio
import OvaEngines

@Suite("espeak-ng synthesis")
struct EspeakTests {
    @Test func englishHelloWorldStreamsSeveralAudibleChunks() async throws {
        let synthesizer = try await EspeakSynthesizer()
        #expect(synthesizer.sampleRate == 22_050)
        let chunks = try await synthesizeAll(synthesizer, text: "hello world", language: "en")
        // Measured: 7 chunks of 2206 samples (100 ms) and a last one of 750: 0.73 s.
        #expect(chunks.count > 1)
        let audio = chunks.flatMap { $0 }
        let seconds = Double(audio.count) / Double(synthesizer.sampleRate)
        #expect(seconds > 0.4 && seconds < 4, "duration \(seconds) s")
        #expect(rms(audio) > 500, "RMS \(rms(audio))")
        #expect(chunks.allSatisfy { !$0.isEmpty })
    }

    @Test func spanishPhraseIsSpoken() async throws {
        let synthesizer = try await EspeakSynthesizer()
        let chunks = try await synthesizeAll(synthesizer, text: "Buenos días, ¿cómo estás?", language: "es")
        #expect(chunks.count > 1)
        let audio = chunks.flatMap { $0 }
        let seconds = Double(audio.count) / Double(synthesizer.sampleRate)
        #expect(seconds > 0.4 && seconds < 4, "duration \(seconds) s")
        #expect(rms(audio) > 500)
    }

    @Test func voicesIncludeSpanishAndEnglish() async throws {
        let synthesizer = try await EspeakSynthesizer()
        let spanish = await synthesizer.voices(languagePrefix: "es")
        #expect(spanish.contains { $0.identifier == "roa/es" && $0.languages.first == "es" })
        #expect(spanish.allSatisfy { $0.speaks("es") })
        let english = await synthesizer.voices(languagePrefix: "en")
        #expect(english.contains { $0.languages.contains("en-us") })
        #expect(!english.contains { $0.speaks("es") && !$0.speaks("en") })
        let all = await synthesizer.voices(languagePrefix: nil)
        #expect(all.count > spanish.count + english.count)
        // "e" is not a language: prefixes match whole subtags, not letters.
        #expect(await synthesizer.voices(languagePrefix: "e").isEmpty)
    }

    @Test func voiceByNameIdentifierAndVariant() async throws {
        let synthesizer = try await EspeakSynthesizer()
        let text = "hola, buenos días"
        let byName = try await synthesizeAll(synthesizer, text: text, voice: "Spanish (Spain)").flatMap { $0 }
        let byIdentifier = try await synthesizeAll(synthesizer, text: text, voice: "roa/es").flatMap { $0 }
        #expect(rms(byName) > 500)
        // The same voice, though not bit-identical: espeak's pitch "flutter" runs on a global
        // phase, and its output depends a little on earlier requests, including other tests'
        // (measured: 24955 to 26676 samples for this text).
        #expect(abs(byName.count - byIdentifier.count) < byName.count / 10)
        // The f3 variant is a female voice: a higher pitch crosses zero more often
        // (measured: 4587 against 3193 crossings).
        let female = try await synthesizeAll(synthesizer, text: text, voice: "roa/es+f3").flatMap { $0 }
        #expect(Double(zeroCrossings(female)) > 1.2 * Double(zeroCrossings(byName)))
    }

    @Test func rateChangesDuration() async throws {
        let synthesizer = try await EspeakSynthesizer()
        let text = "the quick brown fox jumps over the lazy dog"
        let slow = try await synthesizeAll(synthesizer, text: text, rate: 100).flatMap { $0 }
        let fast = try await synthesizeAll(synthesizer, text: text, rate: 300).flatMap { $0 }
        #expect(slow.count > fast.count * 2)
        // The rate does not leak into the next request.
        let normal1 = try await synthesizeAll(synthesizer, text: text).flatMap { $0 }
        #expect(normal1.count < slow.count && normal1.count > fast.count)
    }

    @Test(arguments: [
        ("", nil, nil, nil),
        ("   \n", nil, nil, nil),
        (String(repeating: "a", count: EspeakSynthesizer.maxTextLength + 1), nil, nil, nil),
        ("hello\u{0}world", nil, nil, nil),
        ("hello", "No Such Voice", nil, nil),
        ("hello", "roa/es+../../etc", nil, nil),
        ("hello", nil, "xx", nil),
        ("hello", nil, "en;rm", nil),
        ("hello", nil, nil, 79),
        ("hello", nil, nil, 451),
    ] as [(String, String?, String?, Int?)])
    func invalidRequestsFailTheStream(text: String, voice: String?, language: String?, rate: Int?) async throws {
        let synthesizer = try await EspeakSynthesizer()
        let error = await engineError {
            _ = try await synthesizeAll(synthesizer, text: text, voice: voice, language: language, rate: rate)
        }
        #expect(error?.invalidInputMessage != nil, "\(String(describing: error))")
    }

    @Test func textAtTheLimitIsAccepted() async throws {
        let synthesizer = try await EspeakSynthesizer()
        let word = "ok "
        let text = String(repeating: word, count: EspeakSynthesizer.maxTextLength / word.count)
        var chunks = 0
        // Only the start matters here: the request was accepted and audio flows.
        for try await _ in synthesizer.synthesize(text: text) {
            chunks += 1
            if chunks == 3 { break }
        }
        #expect(chunks == 3)
    }

    @Test func dataPathWithoutDataIsUnavailable() async throws {
        let error = await engineError { _ = try await EspeakSynthesizer(dataPath: "/nonexistent") }
        #expect(error?.unavailableMessage?.contains("espeak-ng-data") == true)
    }

    /// Cancelling the consuming task after the first chunk ends the stream at once, and frees
    /// the synthesis from its buffer: with a 2-chunk buffer and an hour's stall timeout, a
    /// synthesis still waiting for the consumer would block the (single, shared) espeak thread
    /// and the next request below would never finish (the time limit turns that into a failure).
    @Test(.timeLimit(.minutes(1)))
    func cancellingTheConsumerStopsSynthesis() async throws {
        let synthesizer = try await EspeakSynthesizer(bufferedChunks: 2, stallTimeout: .seconds(3600))
        let text = String(repeating: "This sentence is long enough to take many chunks. ", count: 40)
        let stream = synthesizer.synthesize(text: text)
        let consumer = Task { () throws -> Int? in
            var iterator = stream.makeAsyncIterator()
            guard try await iterator.next() != nil else { return nil }
            withUnsafeCurrentTask { $0?.cancel() }
            var afterCancel = 0
            while try await iterator.next() != nil {
                afterCancel += 1
            }
            return afterCancel
        }
        // The stream ends (like AsyncStream) instead of delivering the buffered chunks.
        #expect(try await consumer.value == 0)
        let next = try await synthesizeAll(synthesizer, text: "still working")
        #expect(next.count > 1)
    }

    /// Dropping the stream after one chunk (breaking out of the loop, no task cancellation)
    /// releases the synthesis too: otherwise the next request would wait forever, as above.
    @Test(.timeLimit(.minutes(1)))
    func droppingTheStreamStopsSynthesis() async throws {
        let synthesizer = try await EspeakSynthesizer(bufferedChunks: 2, stallTimeout: .seconds(3600))
        let text = String(repeating: "Another long sentence that would need many chunks. ", count: 40)
        var received = 0
        for try await _ in synthesizer.synthesize(text: text) {
            received += 1
            break
        }
        #expect(received == 1)
        let next = try await synthesizeAll(synthesizer, text: "still working")
        #expect(next.count > 1)
    }

    /// A consumer that reads nothing gets its stream failed after the stall timeout, which
    /// frees the synthesis thread for others.
    @Test(.timeLimit(.minutes(1)))
    func stalledConsumerFailsAfterTheStallTimeout() async throws {
        let synthesizer = try await EspeakSynthesizer(bufferedChunks: 1, stallTimeout: .seconds(2))
        let text = String(repeating: "Nobody reads this sentence for a while. ", count: 20)
        let stream = synthesizer.synthesize(text: text)
        // Not reading `stream` yet: the producer fills one slot, then times out. Another request
        // queued behind it completes, which shows the thread was freed.
        let other = try await synthesizeAll(synthesizer, text: "next in line")
        #expect(other.count > 1)
        let error = await engineError {
            for try await _ in stream {}
        }
        #expect(error?.engineFailureMessage?.contains("consumer") == true, "\(String(describing: error))")
    }
}
