import OvaAudio
import OvaProto
import OvaRPC
import Synchronization

/// `ova.v1.Voice`: the original's WebSocket pipeline on one bidi stream. Audio in → transcript
/// events → LLM token events → synthesized audio, sentence by sentence so speech starts before
/// the answer is complete. Speech while an answer plays (barge-in) or a CANCEL_ANSWER control
/// stops it.
///
/// Protocol: the first message is the config; then audio chunks; `END_OF_UTTERANCE` (or
/// half-close) ends an utterance and starts its answer. Every event carries its turn number.
public struct VoiceServiceHandler: VoiceHandler {
    let recognition: any SpeechRecognitionBackend
    let synthesis: any SpeechSynthesisBackend
    let chat: any ChatBackend

    public init(recognition: any SpeechRecognitionBackend, synthesis: any SpeechSynthesisBackend, chat: any ChatBackend) {
        self.recognition = recognition
        self.synthesis = synthesis
        self.chat = chat
    }

    /// RMS of a 16 kHz chunk above which incoming audio counts as speech for barge-in
    /// (about -30 dBFS: well above line noise, well below normal speech).
    static let bargeInRMS = 1000.0
    static let maxTurns = 200
    static let historyMessages = 20

    public func converse(requests: RPCRequestStream<VoiceRequest>, responses: RPCResponseWriter<VoiceEvent>, context: ServerContext) async throws {
        _ = try context.requireAdmin()
        var messages = requests.makeAsyncIterator()
        guard let first = try await messages.next(), let config = first.config else {
            throw RPCError.invalidArgument("invalid stream", fieldViolations: [("config", "the first message must carry the voice config")])
        }
        let recognitionConfig = config.recognition ?? RecognitionConfig()
        let recognitionSettings = try SpeechServiceHandler.recognitionSettings(recognitionConfig)
        var synthesisRequest = config.synthesis ?? SynthesizeRequest()
        synthesisRequest.text = "-"  // validated per sentence; the template needs no text
        let synthesisTemplate = try SpeechServiceHandler.synthesisSettings(synthesisRequest)
        var chatRequest = ChatRequest()
        chatRequest.options = config.chat
        var placeholder = ChatMessage()
        placeholder.content = "-"
        chatRequest.messages = [placeholder]
        let promptTemplate = try ChatServiceHandler.validatedPrompt(chatRequest)
        guard config.systemPrompt.count <= 8000 else {
            throw RPCError.invalidArgument("invalid voice config", fieldViolations: [("system_prompt", "must be at most 8000 characters")])
        }
        _ = try AudioInput(encoding: recognitionConfig.encoding, sampleRateHz: recognitionConfig.sampleRateHz)

        let conversation = Conversation(systemPrompt: config.systemPrompt, limit: Self.historyMessages)
        let answerer = Answerer(
            synthesis: self.synthesis, chat: self.chat, template: synthesisTemplate, prompt: promptTemplate,
            conversation: conversation, responses: responses, deadline: context.continuousDeadline
        )
        var utterance: Utterance?
        var turn: UInt32 = 1
        var answering: Task<Void, any Error>?

        func interruptAnswer() async throws {
            guard let task = answering else { return }
            answering = nil
            task.cancel()
            _ = await task.result
            var event = VoiceEvent()
            event.turn = turn - 1
            var interrupted = AnswerInterrupted()
            interrupted.turn = turn - 1
            event.interrupted = interrupted
            try await responses.write(event)
        }

        func endUtterance() async throws {
            guard var current = utterance else { return }
            utterance = nil
            let speech = try await current.finish()
            var event = VoiceEvent()
            event.turn = turn
            event.transcript = SpeechServiceHandler.finalResult(speech, endMilliseconds: current.input.receivedMilliseconds, language: recognitionSettings.languageCode)
            try await responses.write(event)
            guard !speech.transcript.isEmpty else { return }
            if let previous = answering {
                // A new question while the last answer is still speaking replaces it.
                answering = nil
                previous.cancel()
                _ = await previous.result
            }
            let answerTurn = turn
            turn += 1
            guard turn <= Self.maxTurns else {
                throw RPCError(code: .resourceExhausted, message: "at most \(Self.maxTurns) turns per stream; open a new one")
            }
            answering = Task { try await answerer.answer(turn: answerTurn, transcript: speech.transcript) }
        }

        do {
            while let message = try await messages.next() {
                if let audio = message.audio {
                    if utterance == nil {
                        utterance = Utterance(
                            session: try await Self.start(self.recognition, recognitionSettings),
                            input: try AudioInput(encoding: recognitionConfig.encoding, sampleRateHz: recognitionConfig.sampleRateHz)
                        )
                    }
                    guard var current = utterance else { continue }
                    let samples = try current.input.append(audio)
                    if answering != nil, Self.rms(samples) > Self.bargeInRMS {
                        try await interruptAnswer()
                    }
                    if !samples.isEmpty, let interim = try await current.session.accept(samples), recognitionConfig.interimResults, !interim.isEmpty {
                        var event = VoiceEvent()
                        event.turn = turn
                        event.transcript = SpeechServiceHandler.interimResponse(interim, endMilliseconds: current.input.receivedMilliseconds, language: recognitionSettings.languageCode).results[0]
                        try await responses.write(event)
                    }
                    utterance = current
                } else if let control = message.control {
                    switch control {
                    case .endOfUtterance: try await endUtterance()
                    case .cancelAnswer: try await interruptAnswer()
                    default:
                        throw RPCError.invalidArgument("invalid control", fieldViolations: [("control", "must be END_OF_UTTERANCE or CANCEL_ANSWER")])
                    }
                } else {
                    throw RPCError.invalidArgument("invalid stream", fieldViolations: [("config", "only the first message may carry config")])
                }
            }
            try await endUtterance()
            if let answering {
                try await answering.value
            }
        } catch {
            answering?.cancel()
            await utterance?.session.cancel()
            throw ProviderFailureMapping.rpcError(error, capability: "voice")
        }
    }

    private static func start(_ recognition: any SpeechRecognitionBackend, _ settings: RecognitionSettings) async throws -> any SpeechRecognitionSession {
        do {
            return try await recognition.startSession(settings)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "speech recognition")
        }
    }

    static func rms(_ samples: [Int16]) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// One utterance being recognized.
    private struct Utterance {
        let session: any SpeechRecognitionSession
        var input: AudioInput

        mutating func finish() async throws -> RecognizedSpeech {
            let tail = try self.input.finish()
            if !tail.isEmpty { _ = try await self.session.accept(tail) }
            return try await self.session.finish()
        }
    }
}

/// The dialogue so far, for the LLM's context.
private final class Conversation: Sendable {
    private let history = Mutex<[ChatPrompt.Message]>([])
    let systemPrompt: String
    let limit: Int

    init(systemPrompt: String, limit: Int) {
        self.systemPrompt = systemPrompt
        self.limit = limit
    }

    func messages(adding question: String) -> [ChatPrompt.Message] {
        var messages = self.systemPrompt.isEmpty ? [] : [ChatPrompt.Message(role: "system", content: self.systemPrompt)]
        messages += self.history.withLock { $0 }
        messages.append(ChatPrompt.Message(role: "user", content: question))
        return messages
    }

    func record(question: String, answer: String) {
        self.history.withLock { history in
            history += [ChatPrompt.Message(role: "user", content: question), ChatPrompt.Message(role: "assistant", content: answer)]
            if history.count > self.limit { history.removeFirst(history.count - self.limit) }
        }
    }
}

/// Produces one answer: tokens out as they come, sentences synthesized while later tokens
/// are still being generated.
private struct Answerer: Sendable {
    let synthesis: any SpeechSynthesisBackend
    let chat: any ChatBackend
    let template: SynthesisSettings
    let prompt: ChatPrompt
    let conversation: Conversation
    let responses: RPCResponseWriter<VoiceEvent>
    let deadline: ContinuousClock.Instant?

    func answer(turn: UInt32, transcript: String) async throws {
        var prompt = self.prompt
        prompt.messages = self.conversation.messages(adding: transcript)
        let tokens: AsyncThrowingStream<ChatChunk, any Error>
        do {
            tokens = try await self.chat.complete(prompt, deadline: self.deadline)
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "chat")
        }
        let (sentences, sentenceSink) = AsyncStream.makeStream(of: String.self)
        let answer = try await withThrowingTaskGroup(of: (String, FinishReason)?.self) { group in
            group.addTask {
                var splitter = SentenceSplitter()
                var text = ""
                var reason = FinishReason.stop
                defer { sentenceSink.finish() }
                do {
                    for try await chunk in tokens {
                        switch chunk {
                        case .delta(let token):
                            text += token
                            var event = VoiceEvent()
                            event.turn = turn
                            var delta = ChatDelta()
                            delta.content = token
                            event.token = delta
                            try await self.responses.write(event)
                            for sentence in splitter.append(token) { sentenceSink.yield(sentence) }
                        case .finished(let finish, _, _):
                            reason = ChatServiceHandler.finishReason(finish)
                        }
                    }
                } catch {
                    throw ProviderFailureMapping.rpcError(error, capability: "chat")
                }
                if let rest = splitter.finish() { sentenceSink.yield(rest) }
                return (text, reason)
            }
            group.addTask {
                var index: UInt32 = 0
                for await sentence in sentences {
                    try await self.speak(sentence, turn: turn, index: index)
                    index += 1
                }
                return nil
            }
            var result: (String, FinishReason) = ("", .stop)
            for try await outcome in group {
                if let outcome { result = outcome }
            }
            return result
        }
        // Interrupted answers end their streams early without an error: never report them done.
        try Task.checkCancellation()
        self.conversation.record(question: transcript, answer: answer.0)
        var completed = TurnCompleted()
        completed.turn = turn
        completed.transcript = transcript
        completed.answer = answer.0
        completed.finishReason = answer.1
        var event = VoiceEvent()
        event.turn = turn
        event.completed = completed
        try await self.responses.write(event)
    }

    private func speak(_ sentence: String, turn: UInt32, index: UInt32) async throws {
        var settings = self.template
        settings.text = String(sentence.prefix(SpeechServiceHandler.maxTextCharacters))
        do {
            let audio = try await self.synthesis.synthesize(settings, deadline: self.deadline)
            var first = true
            for try await chunk in audio.chunks where !chunk.isEmpty {
                var answerAudio = AnswerAudio()
                answerAudio.audio = PCMEncoding.littleEndianBytes(chunk)
                answerAudio.sentenceIndex = index
                if first {
                    var format = AudioFormat()
                    format.encoding = .linear16
                    format.sampleRateHz = UInt32(audio.sampleRate)
                    format.channels = 1
                    answerAudio.format = format
                    first = false
                }
                var event = VoiceEvent()
                event.turn = turn
                event.audio = answerAudio
                try await self.responses.write(event)
            }
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "speech synthesis")
        }
    }
}
