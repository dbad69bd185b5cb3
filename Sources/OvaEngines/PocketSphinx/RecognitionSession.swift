import Synchronization

/// One utterance being recognized: audio in with ``accept(samples16kHz:)``, the result from
/// ``finish()``. Owns a decoder until it finishes or is cancelled.
///
/// Calls are meant to come one at a time, in audio order (a stream's reader); overlapping calls
/// are serialized by a lock but their audio order is then unspecified.
public final class RecognitionSession: Sendable {
    private struct State {
        var decoder: Decoder?
        var lastPartial = ""
        var samples = 0
        var ended: String?
    }

    private let recognizer: PocketSphinxRecognizer
    private let state: Mutex<State>
    /// Set by ``cancel()`` without taking the lock, which decoding may hold for a while.
    private let cancelled = Atomic<Bool>(false)
    private let maxSamples: Int

    init(recognizer: PocketSphinxRecognizer, decoder: Decoder) {
        self.recognizer = recognizer
        self.state = Mutex(State(decoder: decoder))
        self.maxSamples = recognizer.maxUtteranceSeconds * PocketSphinxRecognizer.sampleRate
    }

    deinit {
        // A session dropped without finish() or cancel(): end the utterance (which runs
        // pocketsphinx's final pass, too slow for whatever thread dropped the session) on the
        // pool, and keep the decoder.
        guard let decoder = self.state.withLock({ $0.decoder }) else { return }
        let recognizer = self.recognizer
        recognizer.pool.submit { _ in
            decoder.abandon()
            recognizer.giveBack(decoder)
        }
    }

    /// Decodes 16 kHz mono audio (any amount; 20–100 ms chunks are typical). Returns the current
    /// hypothesis when it differs from the last one returned, nil otherwise.
    ///
    /// - Throws: ``EngineError/invalidInput(_:)`` after ``finish()`` or ``cancel()``, or when the
    ///   session's audio exceeds the recognizer's `maxUtteranceSeconds`.
    public func accept(samples16kHz samples: [Int16]) async throws(EngineError) -> PartialHypothesis? {
        if samples.isEmpty { return nil }
        return try await self.recognizer.run { () throws(EngineError) -> PartialHypothesis? in
            try self.state.withLock { (state: inout State) throws(EngineError) -> PartialHypothesis? in
                let decoder = try self.usableDecoder(&state)
                guard state.samples + samples.count <= self.maxSamples else {
                    throw .invalidInput("audio longer than \(self.recognizer.maxUtteranceSeconds) s in one session")
                }
                state.samples += samples.count
                let text = try decoder.process(samples)
                guard !text.isEmpty, text != state.lastPartial else { return nil }
                state.lastPartial = text
                return PartialHypothesis(text: text)
            }
        }
    }

    /// Ends the utterance and returns the final hypothesis; gives the decoder back.
    ///
    /// - Throws: ``EngineError/invalidInput(_:)`` when already finished or cancelled.
    public func finish() async throws(EngineError) -> FinalHypothesis {
        try await self.recognizer.run { () throws(EngineError) -> FinalHypothesis in
            let decoder = try self.state.withLock { (state: inout State) throws(EngineError) -> Decoder in
                let decoder = try self.usableDecoder(&state)
                state.decoder = nil
                state.ended = "finished"
                return decoder
            }
            // A decoder that fails to end an utterance is not trusted with another one: it is
            // dropped (and freed) instead of given back.
            let result = try decoder.end()
            self.recognizer.giveBack(decoder)
            return result
        }
    }

    /// Abandons the utterance: later calls fail, the decoder goes back to the pool. Returns at
    /// once; the cleanup runs on the decoding pool after any chunk being decoded.
    public func cancel() {
        guard !self.cancelled.exchange(true, ordering: .relaxed) else { return }
        self.recognizer.pool.submit { _ in
            let decoder = self.state.withLock { state -> Decoder? in
                defer {
                    state.decoder = nil
                    if state.ended == nil { state.ended = "cancelled" }
                }
                return state.decoder
            }
            if let decoder {
                decoder.abandon()
                self.recognizer.giveBack(decoder)
            }
        }
    }

    private func usableDecoder(_ state: inout State) throws(EngineError) -> Decoder {
        if self.cancelled.load(ordering: .relaxed) {
            throw .invalidInput("the recognition session was cancelled")
        }
        guard let decoder = state.decoder else {
            throw .invalidInput("the recognition session is \(state.ended ?? "closed")")
        }
        return decoder
    }
}
