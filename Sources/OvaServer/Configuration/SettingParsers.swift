import Foundation
import Logging
import OvaStore

/// How one setting's text (from a flag, the environment or the default) becomes its typed
/// value, and how a value is written back as text for `--help`, the docs and the startup log.
///
/// `format(parse(text))` gives back equivalent text, which is how defaults are documented:
/// the default text is rendered from ``ServerConfiguration/defaults`` and loading an unset
/// setting parses that text again (so a relative default path is resolved like a given one).
struct SettingParser<Value: Sendable>: Sendable {
    /// Parses `text`; empty text means "unset" (optional parsers return nil for it).
    let parse: @Sendable (_ text: String, _ variable: String, _ context: ServerConfiguration.LoadContext) throws(ConfigurationError) -> Value
    /// The value as it would be written in the environment; nil when unset.
    let format: @Sendable (Value) -> String?
}

// MARK: - Parsers, one per kind of value

extension SettingParser where Value == ServerConfiguration.Environment {
    static var environment: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                switch SettingText.normalized(text) {
                case "development", "dev": return .development
                case "production", "prod": return .production
                default:
                    throw .invalidValue(variable: variable, value: text, expected: "expected development (or dev) or production (or prod)")
                }
            },
            format: { $0.rawValue }
        )
    }
}

extension SettingParser where Value == ServerConfiguration.LogFormat {
    static var logFormat: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                guard let format = ServerConfiguration.LogFormat(rawValue: SettingText.normalized(text)) else {
                    throw .invalidValue(variable: variable, value: text, expected: "expected text or json")
                }
                return format
            },
            format: { $0.rawValue }
        )
    }
}

extension SettingParser where Value == Logger.Level {
    /// swift-log's level names; `warn` is accepted for `warning`.
    static var logLevel: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                var name = SettingText.normalized(text)
                if name == "warn" { name = "warning" }
                guard let level = Logger.Level(rawValue: name) else {
                    let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .invalidValue(variable: variable, value: text, expected: "expected one of \(names)")
                }
                return level
            },
            format: { $0.rawValue }
        )
    }
}

extension SettingParser where Value == ServerConfiguration.ListenAddress {
    /// `host:port`, `[ipv6]:port` or `:port` (all IPv4 interfaces).
    static var listenAddress: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in try SettingText.parseListen(text, variable: variable) },
            format: { $0.description }
        )
    }
}

extension SettingParser where Value == ServerConfiguration.ListenAddress? {
    /// An optional ``listenAddress``; empty text is unset.
    static var optionalListenAddress: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                if SettingText.isBlank(text) { return nil }
                return try SettingText.parseListen(text, variable: variable)
            },
            format: { $0?.description }
        )
    }
}

extension SettingParser where Value == String {
    /// A path that must be set; see ``SettingText/parsePath(_:variable:context:)``.
    static var path: SettingParser {
        SettingParser(
            parse: { text, variable, context throws(ConfigurationError) in
                guard let path = try SettingText.parsePath(text, variable: variable, context: context) else {
                    throw .invalidValue(variable: variable, value: text, expected: "must be a path")
                }
                return path
            },
            format: { $0 }
        )
    }

    /// An absolute http(s) URL without a trailing slash.
    static var url: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in try SettingText.parseURL(text, variable: variable) },
            format: { $0 }
        )
    }
}

extension SettingParser where Value == String? {
    /// An optional file; see ``SettingText/parsePath(_:variable:context:)``.
    static var file: SettingParser {
        SettingParser(
            parse: { text, variable, context throws(ConfigurationError) in try SettingText.parsePath(text, variable: variable, context: context) },
            format: { $0 }
        )
    }

    /// An optional http(s) URL.
    static var optionalURL: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                if SettingText.isBlank(text) { return nil }
                return try SettingText.parseURL(text, variable: variable)
            },
            format: { $0 }
        )
    }

    /// A model id such as `facebook/detr-resnet-50` (it becomes part of a URL path).
    static var model: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                let trimmed = SettingText.trimmed(text)
                if trimmed.isEmpty { return nil }
                let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:")
                guard trimmed.count <= 200, trimmed.allSatisfy({ allowed.contains($0) }), !trimmed.contains(".."), !trimmed.hasPrefix("/") else {
                    throw .invalidValue(variable: variable, value: text, expected: "must be a model id such as owner/model-name")
                }
                return trimmed
            },
            format: { $0 }
        )
    }

    /// Free text such as a host or user name; never logged when the setting is secret.
    static var text: SettingParser {
        SettingParser(
            parse: { text, _, _ throws(ConfigurationError) in
                let trimmed = SettingText.trimmed(text)
                return trimmed.isEmpty ? nil : trimmed
            },
            format: { $0 }
        )
    }
}

extension SettingParser where Value == String? {
    /// Text taken exactly as given (a password may begin or end with a space); empty is unset.
    static var verbatimText: SettingParser {
        SettingParser(
            parse: { text, _, _ throws(ConfigurationError) in text.isEmpty ? nil : text },
            format: { $0 }
        )
    }
}

extension SettingParser where Value == MariaDBConfiguration.TLSMode {
    static var databaseTLSMode: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                guard let mode = MariaDBConfiguration.TLSMode(rawValue: SettingText.normalized(text)) else {
                    let names = MariaDBConfiguration.TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .invalidValue(variable: variable, value: text, expected: "expected one of \(names)")
                }
                return mode
            },
            format: { $0.rawValue }
        )
    }
}

extension SettingParser where Value == [UInt8]? {
    /// A key given as text, kept as its UTF-8 bytes.
    static var secretBytes: SettingParser {
        SettingParser(
            parse: { text, _, _ throws(ConfigurationError) in
                let trimmed = SettingText.trimmed(text)
                return trimmed.isEmpty ? nil : Array(trimmed.utf8)
            },
            format: { $0.map { String(decoding: $0, as: UTF8.self) } }
        )
    }
}

extension SettingParser where Value == [String] {
    /// A comma-separated list; blank entries are dropped.
    static var list: SettingParser {
        SettingParser(
            parse: { text, _, _ throws(ConfigurationError) in
                text.split(separator: ",").map { SettingText.trimmed(String($0)) }.filter { !$0.isEmpty }
            },
            format: { $0.isEmpty ? nil : $0.joined(separator: ",") }
        )
    }
}

extension SettingParser where Value == Int {
    static func integer(_ range: ClosedRange<Int>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in try SettingText.parseInteger(text, variable: variable, range: range) },
            format: { String($0) }
        )
    }

    /// A number of bytes, optionally with a `KiB` or `MiB` suffix.
    static func byteCount(_ range: ClosedRange<Int>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in try SettingText.parseByteCount(text, variable: variable, range: range) },
            format: { String($0) }
        )
    }
}

extension SettingParser where Value == Int? {
    static func optionalInteger(_ range: ClosedRange<Int>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                if SettingText.isBlank(text) { return nil }
                return try SettingText.parseInteger(text, variable: variable, range: range)
            },
            format: { $0.map(String.init) }
        )
    }
}

extension SettingParser where Value == Bool {
    static var bool: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                switch SettingText.normalized(text) {
                case "true", "1", "yes", "on": return true
                case "false", "0", "no", "off": return false
                default: throw .invalidValue(variable: variable, value: text, expected: "expected true or false")
                }
            },
            format: { String($0) }
        )
    }
}

extension SettingParser where Value == Duration {
    /// A number of seconds, optionally with an `s` suffix.
    static func seconds(_ range: ClosedRange<Double>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                .seconds(try SettingText.parseSeconds(text, variable: variable, range: range))
            },
            format: { SettingText.formatSeconds($0) }
        )
    }
}

extension SettingParser where Value == Duration {
    /// A whole number of minutes.
    static func minutes(_ range: ClosedRange<Int>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                .seconds(try SettingText.parseInteger(text, variable: variable, range: range) * 60)
            },
            format: { String($0.components.seconds / 60) }
        )
    }
}

extension SettingParser where Value == Duration? {
    /// Seconds where `0` means "never" (nil).
    static func secondsOrDisabled(_ range: ClosedRange<Double>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                let seconds = try SettingText.parseSeconds(text, variable: variable, range: range)
                return seconds == 0 ? nil : .seconds(seconds)
            },
            format: { $0.map(SettingText.formatSeconds) ?? "0" }
        )
    }
}

extension SettingParser where Value == Duration? {
    /// Seconds, or `auto` (nil) for a value derived from another setting.
    static func secondsOrAuto(_ range: ClosedRange<Double>) -> SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                if SettingText.normalized(text) == "auto" { return nil }
                return .seconds(try SettingText.parseSeconds(text, variable: variable, range: range))
            },
            format: { $0.map(SettingText.formatSeconds) ?? "auto" }
        )
    }
}

extension SettingParser where Value == ServerConfiguration.EventLoopThreads {
    /// `auto` or 1-1024.
    static var threads: SettingParser {
        SettingParser(
            parse: { text, variable, _ throws(ConfigurationError) in
                if SettingText.normalized(text) == "auto" { return .automatic }
                let trimmed = SettingText.trimmed(text)
                guard let count = SettingText.parseDigits(Substring(trimmed)) ?? Int(trimmed), (1...1024).contains(count) else {
                    throw .invalidValue(variable: variable, value: text, expected: "must be auto or an integer 1-1024")
                }
                return .count(count)
            },
            format: { threads in
                switch threads {
                case .automatic: return "auto"
                case .count(let count): return String(count)
                }
            }
        )
    }
}

// MARK: - Text helpers shared by the parsers

/// The text rules every setting follows: surrounding white space is ignored, names of
/// choices are case-insensitive, numbers are plain ASCII digits.
enum SettingText {
    static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func isBlank(_ text: String) -> Bool {
        trimmed(text).isEmpty
    }

    static func normalized(_ text: String) -> String {
        trimmed(text).lowercased()
    }

    /// Parses `host:port`, `[ipv6]:port` or `:port` (all IPv4 interfaces).
    static func parseListen(_ value: String, variable: String) throws(ConfigurationError) -> ServerConfiguration.ListenAddress {
        let text = trimmed(value)
        func invalid(_ expected: String) -> ConfigurationError {
            .invalidValue(variable: variable, value: value, expected: expected)
        }
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw invalid("missing ']' after the IPv6 address; expected [address]:port, e.g. [::1]:7443")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw invalid("expected [address]:port, e.g. [::1]:7443")
            }
            portText = rest.dropFirst()
            let allowed = Set("0123456789abcdefABCDEF:.%")
            let zoneAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            guard host.contains(":"),
                  parts[0].allSatisfy({ allowed.contains($0) && $0 != "%" }),
                  parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy { zoneAllowed.contains($0) })
            else {
                throw invalid("brackets must hold an IPv6 address, e.g. [::1]:7443")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw invalid("expected host:port, e.g. 127.0.0.1:7443, [::1]:7443 or :7443 for all interfaces")
            }
            let hostPart = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw invalid("IPv6 addresses must be in brackets, e.g. [::1]:7443")
            }
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            guard hostPart.allSatisfy({ allowed.contains($0) }) else {
                throw invalid("host must be a hostname or IP address, e.g. 127.0.0.1:7443")
            }
            host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        }
        guard !portText.isEmpty else {
            throw invalid("missing port; expected host:port, e.g. 127.0.0.1:7443")
        }
        let port: Int
        if portText.allSatisfy({ $0.isASCII && $0.isNumber }) {
            port = Int(portText) ?? Int.max  // too many digits: out of range
        } else if let signed = Int(portText) {
            port = signed
        } else {
            throw invalid("port must be a number 0-65535")
        }
        guard (0...65535).contains(port) else {
            throw invalid("port must be 0-65535")
        }
        return ServerConfiguration.ListenAddress(host: host, port: port)
    }

    /// Expands `~`, resolves relative paths against the working directory, standardizes.
    static func parsePath(_ value: String, variable: String, context: ServerConfiguration.LoadContext) throws(ConfigurationError) -> String? {
        let text = trimmed(value)
        if text.isEmpty { return nil }
        guard !text.contains("\0") else {
            throw .invalidValue(variable: variable, value: value, expected: "path must not contain NUL")
        }
        var path = text
        if path == "~" {
            path = context.homeDirectory
        } else if path.hasPrefix("~/") {
            path = context.homeDirectory + String(path.dropFirst(1))
        }
        if !path.hasPrefix("/") {
            path = context.currentDirectory + "/" + path
        }
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    static func parseDigits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text) ?? Int.max
    }

    static func parseInteger(_ value: String, variable: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = trimmed(value)
        guard let number = parseDigits(Substring(text)) ?? Int(text), range.contains(number) else {
            throw .invalidValue(variable: variable, value: value, expected: "must be an integer \(range.lowerBound)-\(range.upperBound)")
        }
        return number
    }

    /// An integer number of bytes, optionally with a `KiB` or `MiB` suffix.
    static func parseByteCount(_ value: String, variable: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = trimmed(value)
        var digits = Substring(text)
        var multiplier = 1
        for (suffix, factor) in [("kib", 1 << 10), ("mib", 1 << 20)] where text.lowercased().hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            while digits.last == " " { digits = digits.dropLast() }
            multiplier = factor
        }
        let expected = "must be a number of bytes \(range.lowerBound)-\(range.upperBound)"
            + " (\(formatBytes(range.lowerBound))-\(formatBytes(range.upperBound))); KiB and MiB suffixes are accepted"
        guard let number = parseDigits(digits) else {
            throw .invalidValue(variable: variable, value: value, expected: expected)
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(bytes) else {
            throw .invalidValue(variable: variable, value: value, expected: expected)
        }
        return bytes
    }

    /// A finite number of seconds, optionally with an `s` suffix.
    static func parseSeconds(_ value: String, variable: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        var text = trimmed(value)
        if text.hasSuffix("s") { text.removeLast() }
        let numeric = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard numeric, let seconds = Double(text), seconds.isFinite, range.contains(seconds) else {
            throw .invalidValue(
                variable: variable,
                value: value,
                expected: "must be a number of seconds \(formatSeconds(range.lowerBound))-\(formatSeconds(range.upperBound))"
            )
        }
        return seconds
    }

    /// An absolute http(s) URL without a trailing slash.
    static func parseURL(_ value: String, variable: String) throws(ConfigurationError) -> String {
        var text = trimmed(value)
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, !text.contains(" ")
        else {
            throw .invalidValue(variable: variable, value: value, expected: "must be an http:// or https:// URL, e.g. https://api-inference.huggingface.co")
        }
        return text
    }

    static func seconds(of duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func formatSeconds(_ duration: Duration) -> String {
        formatSeconds(seconds(of: duration))
    }

    static func formatSeconds(_ seconds: Double) -> String {
        if seconds == seconds.rounded(), abs(seconds) < 1e15 {
            return String(Int(seconds))
        }
        return String(seconds)
    }

    static func formatBytes(_ bytes: Int) -> String {
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}
