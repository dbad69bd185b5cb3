/// Why ``AccessTokenSigner/verify(_:nowSeconds:)`` rejected a token.
///
/// ``description`` is safe to log: it never contains the token, a claim value or the secret.
/// The associated strings are written by this module (reasons, claim names), except the
/// algorithm name of ``unsupportedAlgorithm(_:)``, which comes from the token and is
/// therefore reduced to at most 32 letters, digits, `-` and `_`.
///
/// Clients should get the same answer (unauthenticated) for every case: the distinction is
/// for logs and metrics only.
public enum AccessTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a well-formed compact JWT of the expected shape; the reason says which part.
    case malformed(String)
    /// The header names an algorithm other than HS256 (for example `none`, `HS512`, `RS256`).
    case unsupportedAlgorithm(String)
    /// The signature does not match (a different secret, or an altered header or payload).
    case badSignature
    /// `exp` is at or before the current time.
    case expired
    /// A required claim (`sub`, `admin_id`, `iat`, `exp` or `jti`) is absent, null or empty.
    case missingClaim(String)
    /// The token is longer than ``AccessTokenSigner/maximumTokenBytes``.
    case tooLong

    public var description: String {
        switch self {
        case .malformed(let reason):
            return "malformed access token: \(reason)"
        case .unsupportedAlgorithm(let algorithm):
            return "access token uses unsupported algorithm \"\(Self.loggable(algorithm))\""
        case .badSignature:
            return "access token signature does not match"
        case .expired:
            return "access token has expired"
        case .missingClaim(let claim):
            return "access token lacks the \(Self.loggable(claim)) claim"
        case .tooLong:
            return "access token is longer than \(AccessTokenSigner.maximumTokenBytes) bytes"
        }
    }

    /// `text` cut to 32 characters of `[A-Za-z0-9_-]`, other characters replaced by `?`, so
    /// a value taken from a token cannot inject into logs or smuggle a secret into them.
    static func loggable(_ text: String) -> String {
        String(
            text.unicodeScalars.prefix(32).map { scalar -> Character in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return Character(scalar)
                default: return "?"
                }
            }
        )
    }
}
