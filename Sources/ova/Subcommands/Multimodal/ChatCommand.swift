import ArgumentParser
import Foundation
import OvaProto
import OvaRPC

/// `ova chat`: Chat/Complete, printing tokens as they arrive.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Ask the LLM; the answer is printed token by token.",
        discussion: """
            Examples:
              ova chat "¿Qué es un circuit breaker?" --insecure
              ova chat "and in one sentence?" --conversation demo --insecure   # server-side history
            """
    )

    @Argument(help: "The question.")
    var question: String

    @Option(help: "A system prompt.")
    var system: String?

    @Option(help: "Model override (default: the server's HF_MODELO_LLM).")
    var model: String?

    @Option(help: "Keep history on the server under this conversation id (per login session).")
    var conversation: String?

    @Option(name: .customLong("max-tokens"), help: "Upper bound on the answer's tokens.")
    var maxTokens: UInt32?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            var request = ChatRequest()
            if let system {
                var message = ChatMessage()
                message.role = .system
                message.content = system
                request.messages.append(message)
            }
            var user = ChatMessage()
            user.role = .user
            user.content = self.question
            request.messages.append(user)
            var options = ChatOptions()
            options.model = self.model ?? ""
            options.maxTokens = self.maxTokens ?? 0
            request.options = options
            request.conversationId = self.conversation ?? ""
            let channel = try self.client.makeChannel()
            let done = try await ChatClient(channel: channel).complete(request, options: self.client.callOptions()) { responses in
                var done = ChatCompletion()
                for try await response in responses {
                    if let delta = response.delta {
                        Output.write(delta.content)
                    } else if let last = response.done {
                        done = last
                    }
                }
                return done
            }
            Output.finishLine()
            if let note = finishNote(done) {
                FileHandle.standardError.write(Data("chat: \(note)\n".utf8))
            }
            await channel.close()
        }
    }
}

/// What to tell the user about how an answer ended: nothing after a normal stop.
func finishNote(_ completion: ChatCompletion) -> String? {
    let source = completion.model.isEmpty ? "" : " (\(completion.model) via \(completion.provider))"
    switch completion.finishReason {
    case .stop:
        return nil
    case .length:
        return "the answer was cut off at the token limit (--max-tokens)\(source)"
    case .contentFilter:
        return "the provider's content filter stopped the answer\(source)"
    case .cancelled:
        return "the answer was cancelled\(source)"
    default:
        return "the answer ended without a reason\(source)"
    }
}
