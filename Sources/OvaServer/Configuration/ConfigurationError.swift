import Foundation
import OvaJSONEscaping

/// A configuration problem found while loading settings or TLS material.
///
/// Every error names what is wrong in terms an operator can act on: the variable
/// (`OVA_LISTEN`), the value it had, and what was expected, for example
/// `OVA_LISTEN="localhost:99999": port must be 0-65535`. Values of secret variables
/// are never echoed.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public enum Kind: String, Sendable, Equatable {
        /// A variable has a value that does not parse or is out of range.
        case invalidValue
        /// A required variable is not set.
        case missingValue
        /// Variables that only make sense together disagree (a certificate without a key).
        case inconsistent
        /// A configured file is missing, unreadable or does not contain what it should.
        case unusableFile
        /// The development certificate could not be created or stored.
        case developmentCertificate
    }

    public var kind: Kind
    /// The variable the problem is about, when there is one (`OVA_TLS_CERT`).
    public var variable: String?
    /// The offending value (already redacted for secret variables).
    public var value: String?
    /// The full, human readable message.
    public var message: String

    public init(kind: Kind, variable: String? = nil, value: String? = nil, message: String) {
        self.kind = kind
        self.variable = variable
        self.value = value
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// `NAME="value": expected`, e.g. `OVA_LISTEN="localhost:99999": port must be 0-65535`.
    public static func invalidValue(
        variable: String,
        value: String,
        expected: String,
        secret: Bool = false
    ) -> ConfigurationError {
        let shown = secret ? "<redacted>" : value
        return ConfigurationError(
            kind: .invalidValue,
            variable: variable,
            value: shown,
            message: "\(variable)=\(quoted(shown)): \(expected)"
        )
    }

    public static func missingValue(variable: String, reason: String) -> ConfigurationError {
        ConfigurationError(kind: .missingValue, variable: variable, message: reason)
    }

    public static func inconsistent(variable: String, reason: String) -> ConfigurationError {
        ConfigurationError(kind: .inconsistent, variable: variable, message: reason)
    }

    /// `NAME="path": reason`.
    public static func unusableFile(variable: String?, path: String, reason: String) -> ConfigurationError {
        let subject = variable.map { "\($0)=\(quoted(path))" } ?? quoted(path)
        return ConfigurationError(kind: .unusableFile, variable: variable, value: path, message: "\(subject): \(reason)")
    }

    public static func developmentCertificate(path: String, reason: String) -> ConfigurationError {
        ConfigurationError(
            kind: .developmentCertificate,
            value: path,
            message: "development certificate at \(quoted(path)): \(reason)"
        )
    }

    /// Quotes a value for an error message, escaping what would make the message ambiguous
    /// (quotes, backslashes, control characters) by the JSON rules.
    static func quoted(_ value: String) -> String {
        JSONString.quoted(value)
    }
}
