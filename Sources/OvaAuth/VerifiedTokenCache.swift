import Synchronization

/// ``AccessTokenSigner/verify(_:nowSeconds:)`` with its successes remembered until the
/// token's own expiry.
///
/// Every authenticated call presents the same token again and again; checking it means base64,
/// two JSON decodes and an HMAC (9 % of the server's time in ListMessages at c=64,
/// docs/PERFORMANCE.md). A token string that verified once verifies again with the same claims
/// until its `exp`, so the claims are kept, keyed by the exact token string. Only the signature
/// and claim checks are skipped: whether the token's session is still active (logout,
/// revocation, a deactivated account) is the caller's question on every call, as before.
///
/// Only tokens that verified are kept, so a caller without the secret cannot fill the cache;
/// at ``capacity`` expired entries are dropped first, then arbitrary ones (an evicted token is
/// simply verified again). The dictionary's hashing is seeded per process, so how long a
/// lookup takes tells nothing about the cached tokens.
public final class VerifiedTokenCache: Sendable {
    /// The most tokens kept at once.
    public let capacity: Int
    private let signer: AccessTokenSigner
    private let entries = Mutex<[String: AccessTokenClaims]>([:])

    /// - Parameters:
    ///   - signer: checks the tokens that are not cached.
    ///   - capacity: the most tokens kept (at least 1); one per live session is enough.
    public init(signer: AccessTokenSigner, capacity: Int = 10_000) {
        precondition(capacity >= 1, "capacity must be at least 1")
        self.signer = signer
        self.capacity = capacity
    }

    /// What ``AccessTokenSigner/verify(_:nowSeconds:)`` returns or throws for `token`.
    public func verify(_ token: String, nowSeconds: Int64) throws(AccessTokenError) -> AccessTokenClaims {
        let cached = self.entries.withLock { entries -> AccessTokenClaims? in
            guard let claims = entries[token] else { return nil }
            if claims.expiresAt > nowSeconds { return claims }
            entries[token] = nil
            return nil
        }
        if let cached { return cached }
        // Verified outside the lock; an expired token is refused here, as it always was.
        let claims = try self.signer.verify(token, nowSeconds: nowSeconds)
        self.entries.withLock { entries in
            if entries.count >= self.capacity, entries[token] == nil {
                entries = entries.filter { $0.value.expiresAt > nowSeconds }
                if entries.count >= self.capacity, let some = entries.first?.key {
                    entries[some] = nil
                }
            }
            entries[token] = claims
        }
        return claims
    }

    /// How many tokens are kept (for tests).
    var count: Int {
        self.entries.withLock { $0.count }
    }

    /// Whether `token` is kept (for tests).
    func isCached(_ token: String) -> Bool {
        self.entries.withLock { $0[token] != nil }
    }
}
