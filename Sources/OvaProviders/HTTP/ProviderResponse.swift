import Foundation

/// Turning upstream error responses into ``ProviderError``s, shared by the provider clients.
enum ProviderResponse {
    /// The longest message kept from an error body.
    static let maxMessageCharacters = 200

    /// `Retry-After` as a delay. Only the delta-seconds form (RFC 9110 §10.2.3) is read: an
    /// HTTP-date would need a trustworthy clock comparison and providers send seconds.
    static func retryAfter(_ head: HTTPResponseHead) -> Duration? {
        guard let value = head.header("retry-after")?.trimmingWhitespace(),
            !value.isEmpty, value.utf8.count <= 10, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let seconds = Int(value)
        else { return nil }
        // A day at most: a larger value is a misconfigured upstream, not a plan to wait.
        return .seconds(min(seconds, 86_400))
    }

    /// A short, human-readable reason from an error body: the JSON `error` (a string, an
    /// object's `message`, or a list of strings), `message` or `detail` field, or else the
    /// first 200 bytes of the body. `secret` (the API key) is cut out wherever it appears,
    /// in case an upstream echoes the request back.
    static func errorMessage(_ body: [UInt8], redacting secret: String?) -> String {
        var message = Self.jsonMessage(body)
            ?? String(decoding: body.prefix(Self.maxMessageCharacters), as: UTF8.self)
        if let secret, !secret.isEmpty {
            message = message.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return String(message.trimmingWhitespace().prefix(Self.maxMessageCharacters))
    }

    /// ``ProviderError/http(status:message:retryAfter:)`` for a non-2xx response.
    static func httpError(_ head: HTTPResponseHead, body: [UInt8], redacting secret: String?) -> ProviderError {
        .http(
            status: head.status,
            message: Self.errorMessage(body, redacting: secret),
            retryAfter: Self.retryAfter(head)
        )
    }

    /// The JSON object in `body`, or nil when it is not one.
    static func jsonObject(_ body: [UInt8]) -> [String: Any]? {
        guard let first = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{")
        else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// A JSON number as a Double, whether Foundation produced an Int, a Double or an NSNumber.
    static func double(_ value: Any?) -> Double? {
        switch value {
        case let value as Double: return value
        case let value as Int: return Double(value)
        case let value as NSNumber where !(value is Bool): return value.doubleValue
        default: return nil
        }
    }

    /// A JSON number as an Int, when it is integral and in range.
    static func int(_ value: Any?) -> Int? {
        guard let number = Self.double(value), number.rounded() == number, abs(number) < 9e15 else { return nil }
        return Int(number)
    }

    private static func jsonMessage(_ body: [UInt8]) -> String? {
        guard let object = Self.jsonObject(body) else { return nil }
        switch object["error"] {
        case let text as String:
            return text
        case let nested as [String: Any]:
            if let text = nested["message"] as? String { return text }
        case let list as [Any]:
            let texts = list.compactMap { $0 as? String }
            if !texts.isEmpty { return texts.joined(separator: "; ") }
        default:
            break
        }
        if let text = object["message"] as? String { return text }
        if let text = object["detail"] as? String { return text }
        return nil
    }
}
