import OvaProto
import OvaRPC

/// `ova.v1.Chat`: an LLM answer streamed token by token.
public struct ChatServiceHandler: ChatHandler {
    let chat: any ChatBackend
    let conversations: ConversationStore

    public init(chat: any ChatBackend, conversations: ConversationStore) {
        self.chat = chat
        self.conversations = conversations
    }

    static let maxMessages = 100
    static let maxMessageCharacters = 32_000
    static let maxTotalCharacters = 100_000
    static let maxConversationIDLength = 100

    /// Streams `delta`s as the model produces them, then one `done` with the finish reason
    /// and usage. Cancelling the call aborts the upstream request.
    public func complete(request: ChatRequest, responses: RPCResponseWriter<ChatResponse>, context: ServerContext) async throws {
        let caller = try context.requireAdmin()
        let prompt = try Self.validatedPrompt(request)
        let conversationID = request.conversationId
        var messages = prompt.messages
        if !conversationID.isEmpty {
            messages = self.conversations.history(sessionID: caller.sessionID, conversationID: conversationID) + messages
        }
        var fullPrompt = prompt
        fullPrompt.messages = messages
        var answer = ""
        var finish = ChatChunk.finished(reason: "stop", promptTokens: nil, completionTokens: nil)
        do {
            let stream = try await self.chat.complete(fullPrompt, deadline: context.continuousDeadline)
            for try await chunk in stream {
                switch chunk {
                case .delta(let text):
                    answer += text
                    var response = ChatResponse()
                    var delta = ChatDelta()
                    delta.content = text
                    response.delta = delta
                    try await responses.write(response)
                case .finished:
                    finish = chunk
                }
            }
            // A cancelled consumer sees the stream end early; that is not a finished answer.
            try Task.checkCancellation()
        } catch {
            throw ProviderFailureMapping.rpcError(error, capability: "chat")
        }
        if !conversationID.isEmpty {
            self.conversations.append(
                sessionID: caller.sessionID, conversationID: conversationID,
                prompt.messages + [ChatPrompt.Message(role: "assistant", content: answer)]
            )
        }
        var done = ChatCompletion()
        if case .finished(let reason, let promptTokens, let completionTokens) = finish {
            done.finishReason = Self.finishReason(reason)
            if promptTokens != nil || completionTokens != nil {
                var usage = TokenUsage()
                usage.promptTokens = UInt32(clamping: promptTokens ?? 0)
                usage.completionTokens = UInt32(clamping: completionTokens ?? 0)
                usage.totalTokens = usage.promptTokens + usage.completionTokens
                done.usage = usage
            }
        }
        done.model = prompt.model ?? self.chat.modelName
        done.conversationId = conversationID
        done.provider = self.chat.providerName
        var response = ChatResponse()
        response.done = done
        try await responses.write(response)
    }

    public func clearConversation(request: ClearConversationRequest, context: ServerContext) async throws -> ClearConversationResponse {
        let caller = try context.requireAdmin()
        var response = ClearConversationResponse()
        response.existed = self.conversations.clear(sessionID: caller.sessionID, conversationID: request.conversationId)
        return response
    }

    static func validatedPrompt(_ request: ChatRequest) throws -> ChatPrompt {
        var validator = RequestValidator()
        if request.messages.isEmpty { validator.fail("messages", "at least one message is required") }
        if request.messages.count > Self.maxMessages { validator.fail("messages", "at most \(Self.maxMessages) messages") }
        var total = 0
        var messages: [ChatPrompt.Message] = []
        for (index, message) in request.messages.enumerated() {
            let role: String
            switch message.role {
            case .system: role = "system"
            case .assistant: role = "assistant"
            case .user, .unspecified: role = "user"
            default:
                validator.fail("messages[\(index)].role", "unknown role \(message.role.rawValue)")
                role = "user"
            }
            if message.content.trimmingWhitespace().isEmpty { validator.fail("messages[\(index)].content", "is required") }
            if message.content.count > Self.maxMessageCharacters {
                validator.fail("messages[\(index)].content", "must be at most \(Self.maxMessageCharacters) characters")
            }
            total += message.content.count
            messages.append(ChatPrompt.Message(role: role, content: message.content))
        }
        if total > Self.maxTotalCharacters { validator.fail("messages", "at most \(Self.maxTotalCharacters) characters in all") }
        if request.conversationId.count > Self.maxConversationIDLength {
            validator.fail("conversation_id", "must be at most \(Self.maxConversationIDLength) characters")
        }
        let options = request.options ?? ChatOptions()
        if !(0...2).contains(options.temperature) { validator.fail("options.temperature", "must be 0-2") }
        if !(0...1).contains(options.topP) { validator.fail("options.top_p", "must be 0-1") }
        if options.maxTokens > 8192 { validator.fail("options.max_tokens", "must be at most 8192") }
        if options.stop.count > 4 { validator.fail("options.stop", "at most 4 stop sequences") }
        if options.model.count > 200 { validator.fail("options.model", "must be at most 200 characters") }
        try validator.check("invalid chat request")
        return ChatPrompt(
            messages: messages,
            model: options.model.isEmpty ? nil : options.model,
            temperature: options.temperature > 0 ? Double(options.temperature) : nil,
            topP: options.topP > 0 ? Double(options.topP) : nil,
            maxTokens: options.maxTokens > 0 ? Int(options.maxTokens) : nil,
            stop: options.stop
        )
    }

    static func finishReason(_ reason: String) -> FinishReason {
        switch reason {
        case "stop", "eos", "stop_sequence": return .stop
        case "length", "max_tokens": return .length
        case "content_filter": return .contentFilter
        case "cancelled": return .cancelled
        default: return .unspecified
        }
    }
}
