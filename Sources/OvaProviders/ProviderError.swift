/// Why a call to an external provider (Hugging Face, an OpenAI-compatible LLM server) failed.
///
/// ``description`` is safe to log: associated strings are written by this module or come from
/// the provider's error body, which ``ProviderError/loggable(_:)`` cuts to 200 characters with
/// control characters replaced, and the provider clients remove their API key from it before
/// the error is created. Request and response headers are never part of an error.
///
/// ``isRetryable`` and ``retryAfter`` are what a retry policy needs: the failure kinds that a
/// later attempt can plausibly fix (the network, an overloaded or starting upstream) are
/// retryable, a request the upstream rejected (4xx other than 429, 500) is not.
public enum ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting the call needs is missing; `setting` is its environment name (`HF_API_KEY`).
    case notConfigured(setting: String)
    /// No connection: refused, DNS failure, TLS handshake or certificate failure, or the
    /// connection broke before a complete response.
    case connect(String)
    /// The request's total or connect timeout passed.
    case timeout
    /// The upstream answered with a status outside 2xx. `message` comes from the body's JSON
    /// `error` / `message` field, or is the start of the body; `retryAfter` from `Retry-After`.
    case http(status: Int, message: String, retryAfter: Duration?)
    /// Hugging Face is loading the model (503 with "is currently loading"); a retry after
    /// `estimatedSeconds` (its `estimated_time`) should find it ready.
    case modelLoading(estimatedSeconds: Double?)
    /// A 2xx response whose body is not what the API documents.
    case malformedResponse(String)
    /// The caller's task was cancelled, or the stream was dropped; the transfer was aborted.
    case cancelled
    /// The response body exceeded the caller's limit; the transfer was aborted.
    case tooLarge
    /// The request itself is invalid (a malformed URL, an unsupported scheme): retrying the
    /// same request cannot help, so it is not ``connect(_:)``.
    case invalidRequest(String)

    /// Whether the same request may succeed if sent again later.
    public var isRetryable: Bool {
        switch self {
        case .connect, .timeout, .modelLoading:
            return true
        case .http(let status, _, _):
            return Self.retryableStatuses.contains(status)
        case .notConfigured, .malformedResponse, .cancelled, .tooLarge, .invalidRequest:
            return false
        }
    }

    /// How long the upstream asked us to wait before retrying, when it said.
    public var retryAfter: Duration? {
        switch self {
        case .http(_, _, let retryAfter):
            return retryAfter
        case .modelLoading(let estimatedSeconds):
            guard let estimatedSeconds, estimatedSeconds.isFinite, estimatedSeconds >= 0 else { return nil }
            // Hugging Face has been seen to estimate minutes for big models; a day is a bound
            // that keeps the Duration arithmetic of a retry policy far from overflow.
            return .milliseconds(Int64(min(estimatedSeconds, 86_400) * 1000))
        default:
            return nil
        }
    }

    /// Statuses that mean "overloaded or restarting, try again": 429 Too Many Requests, 502 Bad
    /// Gateway, 503 Service Unavailable, 504 Gateway Timeout. 500 is a bug upstream or a request
    /// it cannot handle, and repeating it usually repeats the failure.
    public static let retryableStatuses: Set<Int> = [429, 502, 503, 504]

    public var description: String {
        switch self {
        case .notConfigured(let setting):
            return "provider not configured: \(Self.loggable(setting)) is not set"
        case .connect(let reason):
            return "could not reach the provider: \(Self.loggable(reason))"
        case .timeout:
            return "the provider did not answer in time"
        case .http(let status, let message, let retryAfter):
            var text = "the provider answered HTTP \(status)"
            if !message.isEmpty { text += ": \(Self.loggable(message))" }
            if let retryAfter { text += " (retry after \(retryAfter))" }
            return text
        case .modelLoading(let estimatedSeconds):
            if let estimatedSeconds {
                return "the provider is loading the model (about \(estimatedSeconds) s)"
            }
            return "the provider is loading the model"
        case .malformedResponse(let reason):
            return "the provider's response was malformed: \(Self.loggable(reason))"
        case .cancelled:
            return "the provider call was cancelled"
        case .tooLarge:
            return "the provider's response was larger than allowed"
        case .invalidRequest(let reason):
            return "invalid provider request: \(Self.loggable(reason))"
        }
    }

    /// `text` cut to 200 characters with control characters (newlines, escapes) replaced by
    /// spaces, so text from an upstream body cannot forge log lines or flood them.
    static func loggable(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.prefix(200).map { scalar in
                    scalar.properties.generalCategory == .control ? " " : scalar
                }
            )
        )
    }
}

import OvaResilience

/// How the resilience layer treats each failure: connect errors, timeouts, 429 (with its
/// Retry-After), 502/503/504 and a loading model are retried; every other failure is final.
extension ProviderError: RetryClassifiable {
    public var retryDisposition: RetryDisposition {
        self.isRetryable ? .retry(after: self.retryAfter) : .doNotRetry
    }
}
