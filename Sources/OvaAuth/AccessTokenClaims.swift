/// What an admin access token asserts: who, since when, until when, and its unique id.
///
/// Encoded with the JSON names of the original Python backend's tokens (`sub`, `admin_id`,
/// `iat`, `exp`, `jti`), so tokens are interchangeable between the two. Times are whole
/// seconds since 1970-01-01 UTC (JWT's NumericDate).
public struct AccessTokenClaims: Sendable, Equatable, Codable {
    /// `sub`: the admin's email.
    public var subject: String
    /// `admin_id`: the admin's database id.
    public var adminID: Int64
    /// `iat`: when the token was issued, in seconds since the epoch.
    public var issuedAt: Int64
    /// `exp`: the first second at which the token is no longer valid.
    public var expiresAt: Int64
    /// `jti`: a unique id (see ``AccessTokenSigner/newTokenID()``), for revocation lists.
    public var tokenID: String

    public init(subject: String, adminID: Int64, issuedAt: Int64, expiresAt: Int64, tokenID: String) {
        self.subject = subject
        self.adminID = adminID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case adminID = "admin_id"
        case issuedAt = "iat"
        case expiresAt = "exp"
        case tokenID = "jti"
    }
}
