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
        try await runReportingStatus {
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
                        FileHandle.standardOutput.write(Data(delta.content.utf8))
                    } else if let last = response.done {
                        done = last
                    }
                }
                return done
            }
            print("")
            let usage = done.usage.map { " — \($0.promptTokens) prompt + \($0.completionTokens) completion tokens" } ?? ""
            FileHandle.standardError.write(Data("chat: \(done.finishReason.description.lowercased()) (\(done.model) via \(done.provider))\(usage)\n".utf8))
            await channel.close()
        }
    }
}
