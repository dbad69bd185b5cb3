/// Where and how to reach an OpenAI-compatible chat completions server (llama.cpp's
/// `llama-server`, vLLM, text-generation-inference, Hugging Face's router, OpenAI).
public struct ChatCompletionsConfiguration: Sendable {
    /// Environment names of the settings, for ``ProviderError/notConfigured(setting:)``.
    public enum Setting {
        public static let baseURL = "OVA_LLM_BASE_URL"
        public static let apiKey = "HF_API_KEY"
        public static let model = "HF_MODELO_LLM"
    }

    /// The API root, `/chat/completions` is appended: `http://127.0.0.1:8080/v1`.
    public var baseURL: String
    /// Sent as `Authorization: Bearer`; nil for local servers that need none.
    public var apiKey: String?
    /// The default model; a call may name another.
    public var model: String
    /// Limit for a whole completion, streaming included.
    public var requestTimeout: Duration
    public var connectTimeout: Duration

    public init(
        baseURL: String,
        apiKey: String? = nil,
        model: String,
        requestTimeout: Duration = .seconds(120),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.model = model
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
    }
}

/// Token counts reported by the server at the end of a stream.
public struct ChatUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
    }
}

/// What ``ChatCompletionsClient/stream(messages:model:temperature:topP:maxTokens:stop:)``
/// yields: text deltas as the model produces them, then one ``finished(reason:usage:)``.
public enum ChatStreamEvent: Sendable, Equatable {
    /// The next piece of the answer (never empty).
    case delta(String)
    /// The end: the server's `finish_reason` (`stop`, `length`, ...; `unknown` if it sent
    /// none before `[DONE]`) and the usage, when it reported one.
    case finished(reason: String, usage: ChatUsage?)
}
