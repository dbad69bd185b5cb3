import Foundation

/// Streams chat completions from an OpenAI-compatible server (`POST {base}/chat/completions`
/// with `"stream": true`), parsing the server-sent events as they arrive.
public struct ChatCompletionsClient: Sendable {
    public let configuration: ChatCompletionsConfiguration
    private let http: CurlHTTPClient

    /// The most bytes read from an error response to find its message.
    static let maxErrorBodyBytes = 64 * 1024

    public init(configuration: ChatCompletionsConfiguration, http: CurlHTTPClient) {
        self.configuration = configuration
        self.http = http
    }

    /// Starts a completion and streams it.
    ///
    /// The request is sent when the stream is first iterated. Cancelling the consuming task
    /// (or dropping the stream) aborts the upstream request, so the server stops generating.
    /// The stream throws a ``ProviderError``: ``ProviderError/notConfigured(setting:)`` without
    /// a base URL or model, ``ProviderError/http(status:message:retryAfter:)`` for an error
    /// response (or an `error` event mid-stream), ``ProviderError/malformedResponse(_:)`` for
    /// an event that is not JSON or a stream that ends before `[DONE]` and before any
    /// `finish_reason`, and the transport errors of ``CurlHTTPClient``.
    ///
    /// - Parameters:
    ///   - messages: the conversation, oldest first (`system`, `user`, `assistant` roles).
    ///   - model: overrides the configured model for this call.
    ///   - stop: stop sequences; none when empty.
    public func stream(
        messages: [(role: String, content: String)],
        model: String? = nil,
        temperature: Double? = nil,
        topP: Double? = nil,
        maxTokens: Int? = nil,
        stop: [String] = []
    ) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let prepared = Result { () throws(ProviderError) -> HTTPRequest in
            try self.makeRequest(
                messages: messages,
                model: model,
                temperature: temperature,
                topP: topP,
                maxTokens: maxTokens,
                stop: stop
            )
        }
        let state: ChatStreamState
        switch prepared {
        case .success(let request):
            state = ChatStreamState(reader: self.http.makeReader(request), apiKey: self.configuration.apiKey)
        case .failure(let error):
            state = ChatStreamState(failure: error)
        }
        return AsyncThrowingStream(unfolding: { () async throws -> ChatStreamEvent? in
            try await state.next()
        })
    }

    func makeRequest(
        messages: [(role: String, content: String)],
        model: String?,
        temperature: Double?,
        topP: Double?,
        maxTokens: Int?,
        stop: [String]
    ) throws(ProviderError) -> HTTPRequest {
        let base = self.configuration.baseURL.trimmingWhitespace()
        guard !base.isEmpty else {
            throw .notConfigured(setting: ChatCompletionsConfiguration.Setting.baseURL)
        }
        let model = (model ?? self.configuration.model).trimmingWhitespace()
        guard !model.isEmpty else {
            throw .notConfigured(setting: ChatCompletionsConfiguration.Setting.model)
        }
        var body: [String: Any] = [
            "model": model,
            "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "stream": true,
            // Ask for a final chunk with token counts (OpenAI, vLLM, llama.cpp honour it).
            "stream_options": ["include_usage": true],
        ]
        if let temperature { body["temperature"] = temperature }
        if let topP { body["top_p"] = topP }
        if let maxTokens { body["max_tokens"] = maxTokens }
        if !stop.isEmpty { body["stop"] = stop }
        let json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        } catch {
            // Only non-finite numbers (a NaN temperature) can fail to encode.
            throw .invalidRequest("the chat request cannot be encoded as JSON")
        }
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream"),
        ]
        if let key = self.configuration.apiKey, !key.isEmpty {
            headers.append(("Authorization", "Bearer \(key)"))
        }
        let trimmedBase = base.hasSuffix("/") ? String(base.dropLast()) : base
        return HTTPRequest(
            method: "POST",
            url: trimmedBase + "/chat/completions",
            headers: headers,
            body: Array(json),
            timeout: self.configuration.requestTimeout,
            connectTimeout: self.configuration.connectTimeout
        )
    }
}

/// The state of one chat stream: the HTTP body reader, the SSE parser, and what the chunks
/// said so far.
///
/// `@unchecked Sendable`: `AsyncThrowingStream(unfolding:)` needs a `@Sendable` closure, but
/// calls it only from the stream's single iterator, one call at a time, each `await`ed before
/// the next: the mutable state is never touched concurrently.
private final class ChatStreamState: @unchecked Sendable {
    private let reader: HTTPBodyReader?
    private let apiKey: String?
    private var parser = ServerSentEventParser()
    private var pending: [ChatStreamEvent] = []
    private var failure: ProviderError?
    private var finishReason: String?
    private var usage: ChatUsage?
    private var sawDone = false
    private var ended = false

    init(reader: HTTPBodyReader, apiKey: String?) {
        self.reader = reader
        self.apiKey = apiKey
    }

    init(failure: ProviderError) {
        self.reader = nil
        self.apiKey = nil
        self.failure = failure
    }

    func next() async throws(ProviderError) -> ChatStreamEvent? {
        while true {
            if let failure = self.failure {
                self.failure = nil
                self.ended = true
                throw failure
            }
            if !self.pending.isEmpty {
                return self.pending.removeFirst()
            }
            guard !self.ended, let reader = self.reader else { return nil }
            guard let part = try await reader.next() else {
                self.ended = true
                if self.sawDone { return nil }
                // Some servers close right after the finish_reason chunk without [DONE]:
                // the answer is complete. Without either, it was cut off.
                guard let reason = self.finishReason else {
                    throw .malformedResponse("stream ended early")
                }
                return .finished(reason: reason, usage: self.usage)
            }
            switch part {
            case .head(let head):
                guard (200..<300).contains(head.status) else {
                    throw await self.errorResponse(head, reader: reader)
                }
            case .body(let bytes):
                guard !self.sawDone else { continue }  // after [DONE], only drain
                for event in try self.parser.feed(bytes) {
                    try self.handle(event)
                    if self.sawDone { break }
                }
            }
        }
    }

    private func handle(_ event: ServerSentEvent) throws(ProviderError) {
        if event.isDone {
            self.sawDone = true
            self.pending.append(.finished(reason: self.finishReason ?? "unknown", usage: self.usage))
            return
        }
        guard let object = ProviderResponse.jsonObject(Array(event.data.utf8)) else {
            throw .malformedResponse("a stream event is not a JSON object")
        }
        if object["error"] != nil {
            // Servers report failures after the 200 (a crashed worker, a context overflow)
            // as an event with an error object; its code, when an HTTP status, is kept.
            let nested = object["error"] as? [String: Any]
            let code = ProviderResponse.int(nested?["code"]) ?? ProviderResponse.int(object["code"])
            throw .http(
                status: code.flatMap { (400..<600).contains($0) ? $0 : nil } ?? 500,
                message: ProviderResponse.errorMessage(Array(event.data.utf8), redacting: self.apiKey),
                retryAfter: nil
            )
        }
        if let choices = object["choices"] as? [Any], let choice = choices.first as? [String: Any] {
            if let delta = choice["delta"] as? [String: Any], let content = delta["content"] as? String,
                !content.isEmpty
            {
                self.pending.append(.delta(content))
            }
            if let reason = choice["finish_reason"] as? String {
                self.finishReason = reason
            }
        }
        if let usage = object["usage"] as? [String: Any] {
            self.usage = ChatUsage(
                promptTokens: ProviderResponse.int(usage["prompt_tokens"]) ?? 0,
                completionTokens: ProviderResponse.int(usage["completion_tokens"]) ?? 0,
                totalTokens: ProviderResponse.int(usage["total_tokens"]) ?? 0
            )
        }
    }

    /// Reads (a bounded part of) the error body and makes the error.
    private func errorResponse(_ head: HTTPResponseHead, reader: HTTPBodyReader) async -> ProviderError {
        var body: [UInt8] = []
        do throws(ProviderError) {
            while body.count < ChatCompletionsClient.maxErrorBodyBytes, let part = try await reader.next() {
                if case .body(let bytes) = part { body.append(contentsOf: bytes) }
            }
        } catch {
            // A broken error body still leaves the status to report.
        }
        self.ended = true
        return ProviderResponse.httpError(head, body: Array(body.prefix(ChatCompletionsClient.maxErrorBodyBytes)), redacting: self.apiKey)
    }
}
