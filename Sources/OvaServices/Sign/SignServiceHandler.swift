import OvaProto
import OvaRPC

/// `ova.v1.Sign`: sign-language letters from images (the original's ASL endpoint), one image at
/// a time or as a stream of camera frames debounced into letters and words.
public struct SignServiceHandler: SignHandler {
    let vision: any VisionBackend

    public init(vision: any VisionBackend) {
        self.vision = vision
    }

    static let alternatives = 5
    static let maxFrames = 10_000

    public func recognizeSign(request: RecognizeSignRequest, context: ServerContext) async throws -> SignPrediction {
        _ = try context.requireAdmin()
        _ = try ImageInput.validate(request.image)
        return try await self.predict(request.image, deadline: context.continuousDeadline)
    }

    /// Classifies frames in order (flow control slows a client that sends faster than the
    /// classifier answers) and streams each accepted letter, then each finished word.
    public func recognizeSignStream(
        requests: RPCRequestStream<SignFrame>,
        responses: RPCResponseWriter<SignStreamEvent>,
        context: ServerContext
    ) async throws {
        _ = try context.requireAdmin()
        var debouncer = SignDebouncer()
        var frames = 0
        var lastTimestamp: UInt64 = 0
        for try await frame in requests {
            frames += 1
            guard frames <= Self.maxFrames else {
                throw RPCError(code: .resourceExhausted, message: "at most \(Self.maxFrames) frames per stream")
            }
            _ = try ImageInput.validate(frame.image, field: "image (frame \(frames))")
            if frame.timestampMs > 0, frame.timestampMs < lastTimestamp {
                throw RPCError.invalidArgument("invalid frame", fieldViolations: [("timestamp_ms", "must not go backwards (frame \(frames))")])
            }
            lastTimestamp = max(lastTimestamp, frame.timestampMs)
            let prediction = try await self.predict(frame.image, deadline: context.continuousDeadline)
            for event in debouncer.frame(label: prediction.label, confidence: Double(prediction.confidence), timestampMilliseconds: lastTimestamp) {
                try await responses.write(Self.event(event, prediction: prediction, timestamp: lastTimestamp))
            }
        }
        for event in debouncer.finish() {
            try await responses.write(Self.event(event, prediction: nil, timestamp: lastTimestamp))
        }
    }

    private func predict(_ image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> SignPrediction {
        let ranked: [(label: String, score: Double)]
        do {
            ranked = try await self.vision.classifySign(image: image, deadline: deadline)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "sign recognition")
        }
        var prediction = SignPrediction()
        prediction.provider = self.vision.providerName
        if let best = ranked.first {
            prediction.label = best.label
            prediction.confidence = Float(best.score)
        }
        prediction.alternatives = ranked.prefix(Self.alternatives).map { candidate in
            var alternative = SignAlternative()
            alternative.label = candidate.label
            alternative.confidence = Float(candidate.score)
            return alternative
        }
        return prediction
    }

    private static func event(_ event: SignDebouncer.Event, prediction: SignPrediction?, timestamp: UInt64) -> SignStreamEvent {
        var streamEvent = SignStreamEvent()
        streamEvent.frameTimestampMs = timestamp
        switch event {
        case .letter(let letter, let confidence):
            var letterPrediction = prediction ?? SignPrediction()
            letterPrediction.label = letter
            letterPrediction.confidence = Float(confidence)
            streamEvent.letter = letterPrediction
        case .word(let word):
            streamEvent.word = word
        }
        return streamEvent
    }
}
