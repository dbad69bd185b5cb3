import Synchronization

/// Server-side chat history per authenticated session: a client that names a
/// `conversation_id` sends only its new message; the server prepends what was said before.
///
/// Bounded everywhere (conversations per session, turns per conversation, characters kept,
/// idle lifetime), because history lives in memory and belongs to no database row.
public final class ConversationStore: Sendable {
    public struct Limits: Sendable {
        public var conversationsPerSession = 20
        public var messagesPerConversation = 40
        public var charactersPerConversation = 48_000
        public var idleLifetime: Duration = .seconds(2 * 3600)
        public var sessions = 10_000

        public init() {}
    }

    private struct Key: Hashable {
        var sessionID: Int64
        var conversationID: String
    }

    private struct Conversation {
        var messages: [ChatPrompt.Message] = []
        var lastUsed: ContinuousClock.Instant
    }

    private let limits: Limits
    private let conversations = Mutex<[Key: Conversation]>([:])

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The history of a conversation (empty for a new one).
    public func history(sessionID: Int64, conversationID: String) -> [ChatPrompt.Message] {
        self.conversations.withLock { $0[Key(sessionID: sessionID, conversationID: conversationID)]?.messages ?? [] }
    }

    /// Appends a finished exchange, dropping the oldest turns beyond the limits.
    public func append(sessionID: Int64, conversationID: String, _ messages: [ChatPrompt.Message]) {
        let now = ContinuousClock.now
        let limits = self.limits
        self.conversations.withLock { conversations in
            conversations = conversations.filter { now - $0.value.lastUsed < limits.idleLifetime }
            let key = Key(sessionID: sessionID, conversationID: conversationID)
            if conversations[key] == nil {
                let ofSession = conversations.filter { $0.key.sessionID == sessionID }
                if ofSession.count >= limits.conversationsPerSession,
                   let oldest = ofSession.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                    conversations.removeValue(forKey: oldest.key)
                }
                if conversations.count >= limits.sessions * limits.conversationsPerSession,
                   let oldest = conversations.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                    conversations.removeValue(forKey: oldest.key)
                }
            }
            var conversation = conversations[key] ?? Conversation(lastUsed: now)
            conversation.messages += messages
            conversation.lastUsed = now
            while conversation.messages.count > limits.messagesPerConversation
                || conversation.messages.reduce(0, { $0 + $1.content.count }) > limits.charactersPerConversation {
                guard !conversation.messages.isEmpty else { break }
                conversation.messages.removeFirst()
            }
            conversations[key] = conversation
        }
    }

    /// Forgets a conversation; true if it existed.
    public func clear(sessionID: Int64, conversationID: String) -> Bool {
        self.conversations.withLock { $0.removeValue(forKey: Key(sessionID: sessionID, conversationID: conversationID)) != nil }
    }
}
