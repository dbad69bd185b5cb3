import Crypto
import Foundation
import OvaJSONEscaping

/// Signs and verifies admin access tokens: compact JSON Web Tokens with HMAC-SHA256 (HS256).
///
/// Only HS256 is accepted, whatever the token's header asks for: `alg: none`, HS384/HS512
/// and public key algorithms are all rejected, which rules out algorithm confusion attacks.
/// Tokens are compatible with those python-jose (and other JWT libraries) create with the same
/// secret and the claim names of ``AccessTokenClaims``.
///
/// The secret should be at least 32 random bytes (``generateSecret()``); HMAC accepts any
/// length, so the initializer cannot refuse a weak one: checking it is the configuration's job.
public struct AccessTokenSigner: Sendable, CustomStringConvertible, CustomReflectable {
    /// Longest token ``verify(_:nowSeconds:)`` looks at. Ours are about 250 bytes; the limit
    /// bounds the base64 and JSON work an unauthenticated caller can ask for.
    public static let maximumTokenBytes = 4096
    /// Length of the secrets ``generateSecret()`` returns (SHA-256's block is 64 bytes, its
    /// output 32; more than 32 adds nothing to HS256's strength).
    public static let generatedSecretBytes = 32

    private let key: SymmetricKey

    /// A signer and verifier for `secret`; see the type's notes on its length.
    public init(secret: [UInt8]) {
        self.key = SymmetricKey(data: secret)
    }

    /// The compact serialization `header.payload.signature` of `claims`.
    public func sign(_ claims: AccessTokenClaims) -> String {
        // Written by hand rather than with JSONEncoder: the output is fixed and cannot fail,
        // so `sign` needs no error path.
        let payload =
            "{\"sub\":\(JSONString.quoted(claims.subject)),"
            + "\"admin_id\":\(claims.adminID),"
            + "\"iat\":\(claims.issuedAt),"
            + "\"exp\":\(claims.expiresAt),"
            + "\"jti\":\(JSONString.quoted(claims.tokenID))}"
        let signingInput = JSONWebToken.encodedHeader + "." + JSONWebToken.base64URLEncode(Array(payload.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: self.key)
        return signingInput + "." + JSONWebToken.base64URLEncode(Array(signature))
    }

    /// The claims of `token` if it is a well-formed HS256 token signed with this secret, has
    /// every claim, and expires after `nowSeconds` (seconds since the epoch).
    ///
    /// The header is checked before the signature, so the error says what is wrong with
    /// tokens from elsewhere (`alg: none`, another algorithm); claims are only read after the
    /// signature matched.
    public func verify(_ token: String, nowSeconds: Int64) throws(AccessTokenError) -> AccessTokenClaims {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .tooLong }
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3 else {
            throw .malformed("expected 3 dot-separated segments, found \(segments.count)")
        }
        try Self.checkHeader(segments[0])

        guard let signature = JSONWebToken.base64URLDecode(Substring(segments[2])) else {
            throw .malformed("signature is not unpadded base64url")
        }
        // The signing input is the first two segments exactly as received, dot included.
        let signingInput = token.utf8[segments[0].startIndex..<segments[1].endIndex]
        // isValidAuthenticationCode compares in constant time (and fails for a wrong length).
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Array(signingInput), using: self.key)
        else {
            throw .badSignature
        }

        guard let payload = JSONWebToken.base64URLDecode(Substring(segments[1])) else {
            throw .malformed("payload is not unpadded base64url")
        }
        let raw: RawClaims
        do {
            raw = try JSONDecoder().decode(RawClaims.self, from: Data(payload))
        } catch {
            throw .malformed("payload is not a JSON object with claims of the expected types")
        }
        guard let subject = raw.sub, !subject.isEmpty else { throw .missingClaim("sub") }
        guard let adminID = raw.admin_id else { throw .missingClaim("admin_id") }
        guard let issuedAt = raw.iat else { throw .missingClaim("iat") }
        guard let expiresAt = raw.exp else { throw .missingClaim("exp") }
        guard let tokenID = raw.jti, !tokenID.isEmpty else { throw .missingClaim("jti") }
        guard expiresAt > nowSeconds else { throw .expired }
        return AccessTokenClaims(
            subject: subject,
            adminID: adminID,
            issuedAt: issuedAt,
            expiresAt: expiresAt,
            tokenID: tokenID
        )
    }

    /// A new random secret of ``generatedSecretBytes`` bytes from the system's CSPRNG.
    public static func generateSecret() -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        return (0..<generatedSecretBytes).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    }

    /// A new token id: 128 random bits as 22 characters of base64url.
    public static func newTokenID() -> String {
        var random = SystemRandomNumberGenerator()
        let words = [random.next() as UInt64, random.next() as UInt64]
        let bytes = words.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        return JSONWebToken.base64URLEncode(bytes)
    }

    /// Never shows the secret (the default would print the key's storage).
    public var description: String { "AccessTokenSigner(HS256)" }
    /// Hides the key from `dump` and debuggers' reflection as well.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    // MARK: - Parsing

    /// Accepts a header object with `alg` exactly `HS256` and, optionally, `typ` `JWT`;
    /// nothing else (in particular no `crit`, `jku`, `jwk` or `kid`, which we do not use).
    private static func checkHeader(_ segment: Substring.UTF8View.SubSequence) throws(AccessTokenError) {
        guard let bytes = JSONWebToken.base64URLDecode(Substring(segment)) else {
            throw .malformed("header is not unpadded base64url")
        }
        let header: RawHeader
        do {
            header = try JSONDecoder().decode(RawHeader.self, from: Data(bytes))
        } catch {
            throw .malformed("header is not a JSON object with string fields")
        }
        guard let algorithm = header.alg else { throw .malformed("header has no alg") }
        guard algorithm == "HS256" else { throw .unsupportedAlgorithm(AccessTokenError.loggable(algorithm)) }
        if let type = header.typ, type.uppercased() != "JWT" {
            throw .malformed("header typ is not JWT")
        }
        guard header.otherFields.isEmpty else {
            throw .malformed("header has fields other than alg and typ")
        }
    }
}

/// The header as sent, fields optional so absence is reported precisely.
private struct RawHeader: Decodable {
    var alg: String?
    var typ: String?
    var otherFields: [String]

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        self.alg = try container.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "alg"))
        self.typ = try container.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "typ"))
        self.otherFields = container.allKeys.map(\.stringValue).filter { $0 != "alg" && $0 != "typ" }
    }
}

/// The payload as sent: every claim optional so a missing one is reported by name; a claim
/// of the wrong type (a string `exp`) fails decoding. Other claims are ignored.
private struct RawClaims: Decodable {
    var sub: String?
    var admin_id: Int64?
    var iat: Int64?
    var exp: Int64?
    var jti: String?
}
