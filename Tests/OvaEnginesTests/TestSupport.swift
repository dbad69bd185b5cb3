import Testing
@testable import OvaAudio
import OvaEngines

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Engines shared by the tests: espeak-ng is process-wide anyway, and each pocketsphinx decoder
/// takes ~0.7 s to load, so one recognizer (with its pool of idle decoders) serves every test.
enum Engines {
    private static let recognizerResult = Result { () throws(EngineError) -> PocketSphinxRecognizer in
        try PocketSphinxRecognizer(maxIdleDecoders: 4)
    }

    static func recognizer() throws -> PocketSphinxRecognizer {
        try recognizerResult.get()
    }
}

/// Collects a whole synthesis.
func synthesizeAll(
    _ synthesizer: EspeakSynthesizer,
    text: String,
    voice: String? = nil,
    language: String? = nil,
    rate: Int? = nil
) async throws -> [[Int16]] {
    var chunks: [[Int16]] = []
    for try await chunk in synthesizer.synthesize(text: text, voice: voice, language: language, rateWordsPerMinute: rate) {
        chunks.append(chunk)
    }
    return chunks
}

/// Root mean square of the samples, in sample units.
func rms(_ samples: [Int16]) -> Double {
    guard !samples.isEmpty else { return 0 }
    let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
    return (sum / Double(samples.count)).squareRoot()
}

/// English speech from espeak-ng, resampled to 16 kHz for the recognizer.
func speech16kHz(_ text: String) async throws -> [Int16] {
    let synthesizer = try await EspeakSynthesizer()
    let audio = try await synthesizeAll(synthesizer, text: text, language: "en-us").flatMap { $0 }
    var resampler = try Resampler(inputRate: synthesizer.sampleRate, outputRate: 16_000)
    return resampler.process(audio) + resampler.flush()
}

/// Feeds `samples` in 100 ms chunks and finishes; returns the partial hypotheses seen on the way.
func recognize(
    _ samples: [Int16],
    grammar: RecognitionGrammar?
) async throws -> (partials: [String], final: FinalHypothesis) {
    let session = try await Engines.recognizer().makeSession(grammar: grammar)
    var partials: [String] = []
    var start = 0
    while start < samples.count {
        let end = min(samples.count, start + 1_600)
        if let partial = try await session.accept(samples16kHz: Array(samples[start..<end])) {
            partials.append(partial.text)
        }
        start = end
    }
    return (partials, try await session.finish())
}

/// A sine tone.
func tone(frequency: Double, sampleRate: Int, seconds: Double, amplitude: Double = 12_000) -> [Int16] {
    let count = Int(Double(sampleRate) * seconds)
    return (0..<count).map { index in
        Int16(amplitude * sin(2 * Double.pi * frequency * Double(index) / Double(sampleRate)))
    }
}

/// Sign changes, a frequency estimate that needs no FFT: a tone of f Hz has 2f per second.
func zeroCrossings(_ samples: [Int16]) -> Int {
    var count = 0
    var previous = samples.first.map { $0 >= 0 } ?? true
    for sample in samples.dropFirst() {
        let positive = sample >= 0
        if positive != previous { count += 1 }
        previous = positive
    }
    return count
}

/// The ``EngineError`` `body` throws, or nil when it succeeds; other errors are recorded as issues.
func engineError(_ body: () async throws -> Void) async -> EngineError? {
    do {
        try await body()
        return nil
    } catch let error as EngineError {
        return error
    } catch {
        Issue.record("expected an EngineError, got \(error)")
        return nil
    }
}

extension EngineError {
    var invalidInputMessage: String? {
        if case .invalidInput(let message) = self { return message }
        return nil
    }

    var unavailableMessage: String? {
        if case .unavailable(let message) = self { return message }
        return nil
    }

    var engineFailureMessage: String? {
        if case .engineFailure(let message) = self { return message }
        return nil
    }
}
