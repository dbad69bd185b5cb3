import Testing

@testable import OvaAuth

@Suite("VerifiedTokenCache")
struct VerifiedTokenCacheTests {
    let signer = AccessTokenSigner(secret: Array("ova-token-cache-test-secret-0123456789".utf8))
    let now: Int64 = 1_700_000_000

    func token(_ id: String, expiresAt: Int64) -> (String, AccessTokenClaims) {
        let claims = AccessTokenClaims(subject: "admin@example.com", adminID: 7, issuedAt: self.now, expiresAt: expiresAt, tokenID: id)
        return (self.signer.sign(claims), claims)
    }

    @Test("a verified token is kept and gives the same claims again")
    func keepsVerifiedToken() throws {
        let cache = VerifiedTokenCache(signer: self.signer)
        let (token, claims) = self.token("a", expiresAt: self.now + 60)
        #expect(try cache.verify(token, nowSeconds: self.now) == claims)
        #expect(cache.count == 1)
        #expect(try cache.verify(token, nowSeconds: self.now + 1) == claims)
        #expect(cache.count == 1)
    }

    @Test("a cached token is refused from its expiry on, and dropped")
    func expiresWithTheToken() throws {
        let cache = VerifiedTokenCache(signer: self.signer)
        let (token, _) = self.token("a", expiresAt: self.now + 60)
        _ = try cache.verify(token, nowSeconds: self.now)
        _ = try cache.verify(token, nowSeconds: self.now + 59)
        #expect(throws: AccessTokenError.expired) { try cache.verify(token, nowSeconds: self.now + 60) }
        #expect(cache.count == 0)
    }

    @Test("another token is verified on its own: a tampered copy of a cached one is refused")
    func differentTokenIsVerified() throws {
        let cache = VerifiedTokenCache(signer: self.signer)
        let (token, _) = self.token("a", expiresAt: self.now + 60)
        let (other, otherClaims) = self.token("b", expiresAt: self.now + 120)
        _ = try cache.verify(token, nowSeconds: self.now)
        #expect(try cache.verify(other, nowSeconds: self.now) == otherClaims)

        // Same header and payload, the signature's first character changed.
        let signatureStart = try #require(token.lastIndex(of: ".")).utf16Offset(in: token) + 1
        var characters = Array(token)
        characters[signatureStart] = characters[signatureStart] == "A" ? "B" : "A"
        let tampered = String(characters)
        #expect(throws: AccessTokenError.badSignature) { try cache.verify(tampered, nowSeconds: self.now) }
        // A token signed with another secret, for the same claims, is refused too.
        let (_, claims) = self.token("a", expiresAt: self.now + 60)
        let foreign = AccessTokenSigner(secret: Array("another-secret-another-secret-0123".utf8)).sign(claims)
        #expect(throws: AccessTokenError.badSignature) { try cache.verify(foreign, nowSeconds: self.now) }
        #expect(cache.count == 2)
    }

    @Test("failures are not kept")
    func failuresAreNotKept() {
        let cache = VerifiedTokenCache(signer: self.signer)
        let (expired, _) = self.token("old", expiresAt: self.now - 1)
        #expect(throws: AccessTokenError.expired) { try cache.verify(expired, nowSeconds: self.now) }
        #expect(throws: AccessTokenError.self) { try cache.verify("not.a.token", nowSeconds: self.now) }
        #expect(cache.count == 0)
    }

    @Test("the cache never holds more than its capacity; expired entries go first")
    func bounded() throws {
        let cache = VerifiedTokenCache(signer: self.signer, capacity: 3)
        let (shortLived, _) = self.token("short", expiresAt: self.now + 10)
        _ = try cache.verify(shortLived, nowSeconds: self.now)
        var live: [String] = []
        for index in 0..<2 {
            let (token, _) = self.token("live-\(index)", expiresAt: self.now + 1_000)
            live.append(token)
            _ = try cache.verify(token, nowSeconds: self.now)
        }
        #expect(cache.count == 3)
        // Full: the expired token makes room, the two live ones stay.
        let (next, nextClaims) = self.token("next", expiresAt: self.now + 1_000)
        #expect(try cache.verify(next, nowSeconds: self.now + 20) == nextClaims)
        #expect(cache.count == 3)
        #expect(!cache.isCached(shortLived))
        #expect(live.allSatisfy(cache.isCached))
        // Full of live tokens: one is evicted; every token still verifies (again, if evicted).
        for index in 0..<10 {
            let (token, claims) = self.token("more-\(index)", expiresAt: self.now + 1_000)
            #expect(try cache.verify(token, nowSeconds: self.now + 20) == claims)
            #expect(cache.count == 3)
        }
        for token in live + [next] {
            #expect(try cache.verify(token, nowSeconds: self.now + 20).expiresAt == self.now + 1_000)
        }
        #expect(cache.count == 3)
    }
}
