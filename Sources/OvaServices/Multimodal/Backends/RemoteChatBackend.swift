import OvaProviders
import OvaResilience

/// Chat through an OpenAI-compatible API. Resilience covers opening the stream (up to the first
/// event): a connect error, 429 or 503 before any token is retried with backoff and counts
/// against the breaker; once tokens flow, a failure ends the call (a retry would repeat text
/// the client already has).
public struct RemoteChatBackend: ChatBackend {
    let providers: RemoteProviders

    public init(providers: RemoteProviders) {
        self.providers = providers
    }

    public var providerName: String { "openai-compatible" }
    public var modelName: String { self.providers.chatConfiguration?.model ?? "" }

    public func complete(_ prompt: ChatPrompt, deadline: ContinuousClock.Instant?) async throws -> AsyncThrowingStream<ChatChunk, any Error> {
        guard let client = self.providers.chat, let executor = self.providers.executor(RemoteProviders.Name.chat) else {
            throw ProviderError.notConfigured(setting: "HF_MODELO_LLM (and OVA_LLM_BASE_URL, or HF_API_KEY for the Hugging Face router)")
        }
        let messages = prompt.messages.map { ChatTurn(role: $0.role, content: $0.content) }
        let opened = try await executor.run(deadline: deadline) { _ in
            let upstream = client.stream(
                messages: messages.map { (role: $0.role, content: $0.content) },
                model: prompt.model, temperature: prompt.temperature, topP: prompt.topP,
                maxTokens: prompt.maxTokens, stop: prompt.stop
            )
            let relay = StreamRelay(upstream)
            let first = try await relay.next()
            return OpenedStream(relay: relay, first: first)
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var event = opened.first
                    while let current = event {
                        continuation.yield(Self.chunk(current))
                        event = try await opened.relay.next()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            // The consumer going away (the RPC cancelled) cancels the relay, which aborts the
            // upstream transfer.
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func chunk(_ event: ChatStreamEvent) -> ChatChunk {
        switch event {
        case .delta(let text):
            return .delta(text)
        case .finished(let reason, let usage):
            return .finished(reason: reason, promptTokens: usage?.promptTokens, completionTokens: usage?.completionTokens)
        }
    }
}

private struct ChatTurn: Sendable {
    let role: String
    let content: String
}

private struct OpenedStream: Sendable {
    let relay: StreamRelay
    let first: ChatStreamEvent?
}

/// Owns an upstream stream's iterator so it can move from the attempt that opened it to the
/// task that drains it.
///
/// `@unchecked Sendable`: the iterator is used by one task at a time — the opening attempt,
/// then (after it returned) the draining task — never concurrently.
private final class StreamRelay: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<ChatStreamEvent, any Error>.Iterator

    init(_ stream: AsyncThrowingStream<ChatStreamEvent, any Error>) {
        self.iterator = stream.makeAsyncIterator()
    }

    func next() async throws -> ChatStreamEvent? {
        try await self.iterator.next()
    }
}
