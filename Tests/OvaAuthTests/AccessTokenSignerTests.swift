import Crypto
import Foundation
import Testing

@testable import OvaAuth

@Suite("AccessTokenSigner")
struct AccessTokenSignerTests {
    static let secret = Array("ova-interop-test-secret-0123456789abcdef".utf8)
    let signer = AccessTokenSigner(secret: Self.secret)
    let claims = AccessTokenClaims(
        subject: "admin@example.com",
        adminID: 42,
        issuedAt: 1_700_000_000,
        expiresAt: 4_102_444_800,
        tokenID: "dGVzdC10b2tlbi1pZC0wMDE"
    )
    let now: Int64 = 1_700_000_001

    /// Signs `header.payload` as given (any JSON, any algorithm) with `secret`, for tokens
    /// our signer would never produce.
    static func forge(
        header: String,
        payload: String,
        secret: [UInt8] = AccessTokenSignerTests.secret
    ) -> String {
        let input = JSONWebToken.base64URLEncode(Array(header.utf8)) + "."
            + JSONWebToken.base64URLEncode(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
        return input + "." + JSONWebToken.base64URLEncode(Array(mac))
    }

    func verifyError(_ token: String, now: Int64? = nil) -> AccessTokenError? {
        do {
            let claims = try signer.verify(token, nowSeconds: now ?? self.now)
            Issue.record("expected an error, got \(claims)")
            return nil
        } catch {
            return error
        }
    }

    // MARK: Round trip and interoperability

    @Test func roundTrip() throws {
        let token = signer.sign(claims)
        #expect(token.split(separator: ".", omittingEmptySubsequences: false).count == 3)
        #expect(token.hasPrefix("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."))
        #expect(!token.contains("="))
        #expect(try signer.verify(token, nowSeconds: now) == claims)
    }

    @Test func roundTripWithCharactersThatNeedEscaping() throws {
        let odd = AccessTokenClaims(
            subject: "\"quoted\"\\back/slash\n\u{1}é🔑@example.com",
            adminID: Int64.max,
            issuedAt: -1,
            expiresAt: Int64.max,
            tokenID: AccessTokenSigner.newTokenID()
        )
        #expect(try signer.verify(signer.sign(odd), nowSeconds: now) == odd)
    }

    /// Made with Python's standard library only (hmac, hashlib, base64, json;
    /// `json.dumps(..., separators=(",", ":"))`), the way python-jose builds HS256 tokens.
    static let pythonCompactToken =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbkBleGFtcGxlLmNvbSIsImFkbWluX2lkIjo0MiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDAsImp0aSI6ImRHVnpkQzEwYjJ0bGJpMXBaQzB3TURFIn0.w3dO_kii3dlrkF16IoLe0sIp8XVLW09jZ-aObjzR3Es"
    /// The same claims with `json.dumps`'s default separators (spaces after `:` and `,`).
    static let pythonSpacedToken =
        "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAiYWRtaW5AZXhhbXBsZS5jb20iLCAiYWRtaW5faWQiOiA0MiwgImlhdCI6IDE3MDAwMDAwMDAsICJleHAiOiA0MTAyNDQ0ODAwLCAianRpIjogImRHVnpkQzEwYjJ0bGJpMXBaQzB3TURFIn0.gpvGsrviVkQEChgZ9cnW5v0Pcao7pPNSfTpoR-HFRDk"

    @Test func verifiesTokensFromPython() throws {
        #expect(try signer.verify(Self.pythonCompactToken, nowSeconds: now) == claims)
        #expect(try signer.verify(Self.pythonSpacedToken, nowSeconds: now) == claims)
    }

    @Test func signsByteForByteLikePython() {
        #expect(signer.sign(claims) == Self.pythonCompactToken)
    }

    @Test func claimsUseTheBackendsJSONNames() throws {
        let json = try JSONEncoder().encode(claims)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(Set(object.keys) == ["sub", "admin_id", "iat", "exp", "jti"])
        #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: json) == claims)
    }

    // MARK: Algorithms

    @Test func rejectsAlgNone() {
        let payload = #"{"sub":"admin@example.com","admin_id":42,"iat":1,"exp":4102444800,"jti":"x"}"#
        let unsigned = JSONWebToken.base64URLEncode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "."
            + JSONWebToken.base64URLEncode(Array(payload.utf8)) + "."
        #expect(verifyError(unsigned) == .unsupportedAlgorithm("none"))
        // Even with a valid HS256 MAC attached.
        #expect(verifyError(Self.forge(header: #"{"alg":"none"}"#, payload: payload)) == .unsupportedAlgorithm("none"))
        #expect(verifyError(Self.forge(header: #"{"alg":"None"}"#, payload: payload)) == .unsupportedAlgorithm("None"))
    }

    @Test func rejectsOtherAlgorithms() {
        let payload = #"{"sub":"admin@example.com","admin_id":42,"iat":1,"exp":4102444800,"jti":"x"}"#
        let input = JSONWebToken.base64URLEncode(Array(#"{"alg":"HS512","typ":"JWT"}"#.utf8)) + "."
            + JSONWebToken.base64URLEncode(Array(payload.utf8))
        let mac = HMAC<SHA512>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Self.secret))
        let hs512 = input + "." + JSONWebToken.base64URLEncode(Array(mac))
        #expect(verifyError(hs512) == .unsupportedAlgorithm("HS512"))
        for algorithm in ["RS256", "ES256", "hs256", "HS256 ", "PS512"] {
            let token = Self.forge(header: #"{"alg":"\#(algorithm)"}"#, payload: payload)
            #expect(verifyError(token) == .unsupportedAlgorithm(AccessTokenError.loggable(algorithm)))
        }
    }

    @Test func rejectsUnexpectedHeaders() {
        let payload = #"{"sub":"a@example.com","admin_id":1,"iat":1,"exp":4102444800,"jti":"x"}"#
        #expect(signerAccepts(header: #"{"alg":"HS256"}"#, payload: payload))
        #expect(signerAccepts(header: #"{"typ":"jwt","alg":"HS256"}"#, payload: payload))
        for header in [
            #"{"typ":"JWT"}"#, #"{"alg":null}"#, #"{"alg":256}"#, #"{"alg":"HS256","typ":"JOSE+JSON"}"#,
            #"{"alg":"HS256","kid":"k1"}"#, #"{"alg":"HS256","crit":["exp"]}"#, #"["HS256"]"#, "HS256", "",
        ] {
            let error = verifyError(Self.forge(header: header, payload: payload))
            guard case .malformed = error else {
                Issue.record("header \(header): expected malformed, got \(String(describing: error))")
                continue
            }
        }
    }

    private func signerAccepts(header: String, payload: String) -> Bool {
        (try? signer.verify(Self.forge(header: header, payload: payload), nowSeconds: now)) != nil
    }

    // MARK: Signatures

    @Test func rejectsTamperedPayload() {
        let token = signer.sign(claims)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        var elevated = claims
        elevated.adminID = 1
        let otherPayload = signer.sign(elevated).split(separator: ".")[1]
        #expect(verifyError("\(parts[0]).\(otherPayload).\(parts[2])") == .badSignature)
    }

    @Test func rejectsTamperedSignature() {
        let token = signer.sign(claims)
        // Flip one bit in every byte of the MAC in turn (re-encoded canonically).
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        let mac = JSONWebToken.base64URLDecode(parts[2]) ?? []
        #expect(mac.count == 32)
        for index in mac.indices {
            var altered = mac
            altered[index] ^= 0x01
            let forged = "\(parts[0]).\(parts[1])." + JSONWebToken.base64URLEncode(altered)
            #expect(verifyError(forged) == .badSignature)
        }
        #expect(verifyError("\(parts[0]).\(parts[1])." + JSONWebToken.base64URLEncode(mac.dropLast())) == .badSignature)
    }

    @Test func rejectsOtherSecret() {
        let other = AccessTokenSigner(secret: Array("ova-interop-test-secret-0123456789abcdeF".utf8))
        #expect(verifyError(other.sign(claims)) == .badSignature)
    }

    @Test func rejectsEmptySignature() {
        let parts = signer.sign(claims).split(separator: ".", omittingEmptySubsequences: false)
        #expect(verifyError("\(parts[0]).\(parts[1]).") == .badSignature)
    }

    // MARK: Claims

    @Test func expiry() throws {
        var short = claims
        short.expiresAt = 2_000
        let token = signer.sign(short)
        #expect(try signer.verify(token, nowSeconds: 1_999) == short)
        #expect(verifyError(token, now: 2_000) == .expired)
        #expect(verifyError(token, now: 2_001) == .expired)
    }

    @Test func missingClaims() {
        let complete: [(String, String)] = [
            ("sub", #""a@example.com""#), ("admin_id", "7"), ("iat", "1"), ("exp", "4102444800"), ("jti", #""x""#),
        ]
        for (name, _) in complete {
            let payload = "{" + complete.filter { $0.0 != name }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
            #expect(verifyError(Self.forge(header: #"{"alg":"HS256"}"#, payload: payload)) == .missingClaim(name))
            let withNull = "{" + complete.map { "\"\($0.0)\":\($0.0 == name ? "null" : $0.1)" }.joined(separator: ",") + "}"
            #expect(verifyError(Self.forge(header: #"{"alg":"HS256"}"#, payload: withNull)) == .missingClaim(name))
        }
        let emptySubject = #"{"sub":"","admin_id":7,"iat":1,"exp":4102444800,"jti":"x"}"#
        #expect(verifyError(Self.forge(header: #"{"alg":"HS256"}"#, payload: emptySubject)) == .missingClaim("sub"))
        let emptyID = #"{"sub":"a@example.com","admin_id":7,"iat":1,"exp":4102444800,"jti":""}"#
        #expect(verifyError(Self.forge(header: #"{"alg":"HS256"}"#, payload: emptyID)) == .missingClaim("jti"))
    }

    @Test func extraClaimsAreIgnored() throws {
        let payload = #"{"sub":"a@example.com","admin_id":7,"iat":1,"exp":4102444800,"jti":"x","role":"owner","nbf":1}"#
        let verified = try signer.verify(Self.forge(header: #"{"alg":"HS256"}"#, payload: payload), nowSeconds: now)
        #expect(verified == AccessTokenClaims(subject: "a@example.com", adminID: 7, issuedAt: 1, expiresAt: 4_102_444_800, tokenID: "x"))
    }

    @Test func wrongClaimTypesAreMalformed() {
        for payload in [
            #"{"sub":"a@example.com","admin_id":"7","iat":1,"exp":4102444800,"jti":"x"}"#,
            #"{"sub":"a@example.com","admin_id":7,"iat":1,"exp":"4102444800","jti":"x"}"#,
            #"{"sub":["a"],"admin_id":7,"iat":1,"exp":4102444800,"jti":"x"}"#,
            #"{"sub":"a@example.com","admin_id":7,"iat":1,"exp":1e400,"jti":"x"}"#,
            #"{"sub":"a@example.com","admin_id":99999999999999999999,"iat":1,"exp":4102444800,"jti":"x"}"#,
            #"["sub"]"#, "null", "{", "not json",
        ] {
            let error = verifyError(Self.forge(header: #"{"alg":"HS256"}"#, payload: payload))
            guard case .malformed = error else {
                Issue.record("payload \(payload): expected malformed, got \(String(describing: error))")
                continue
            }
        }
    }

    // MARK: Shape

    @Test(arguments: [
        "", ".", "..", "...", "abc", "a.b", "a.b.c.d", "!!!.@@@.###",
        "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.e30", "eyJhbGciOiJIUzI1NiJ9.e30.x.y",
        " eyJhbGciOiJIUzI1NiJ9.e30.AA", "eyJhbGciOiJIUzI1NiJ9.e30.AA\n",
    ])
    func garbageIsMalformed(_ token: String) {
        let error = verifyError(token)
        guard case .malformed = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
    }

    @Test func paddingAndNonCanonicalBase64AreRejected() {
        let token = signer.sign(claims)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        // The 32 byte MAC is 43 characters; its last one carries 2 unused bits.
        #expect(verifyError(token + "=") == .malformed("signature is not unpadded base64url"))
        #expect(verifyError("\(parts[0])=.\(parts[1]).\(parts[2])") == .malformed("header is not unpadded base64url"))
        let last = parts[2].last ?? "A"
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let index = alphabet.firstIndex(of: last) ?? 0
        let sibling = alphabet[index ^ 1]  // same 4 significant bits, different unused bits
        let nonCanonical = "\(parts[0]).\(parts[1]).\(parts[2].dropLast())\(sibling)"
        #expect(verifyError(nonCanonical) == .malformed("signature is not unpadded base64url"))
        // Standard base64's alphabet is not base64url's.
        let standard = "\(parts[0]).\(parts[1]).\(parts[2].replacingOccurrences(of: "_", with: "/").replacingOccurrences(of: "-", with: "+"))"
        if standard != token {
            #expect(verifyError(standard) == .malformed("signature is not unpadded base64url"))
        }
    }

    @Test func tooLong() {
        let long = String(repeating: "a", count: AccessTokenSigner.maximumTokenBytes + 1)
        #expect(verifyError(long) == .tooLong)
        var padded = claims
        padded.subject = String(repeating: "x", count: 3000) + "@example.com"
        #expect(verifyError(signer.sign(padded)) == .tooLong)
    }

    // MARK: Logging safety

    @Test func errorDescriptionsAreSafeToLog() {
        let token = signer.sign(claims)
        let secret = String(decoding: Self.secret, as: UTF8.self)
        let errors: [AccessTokenError] = [
            .malformed("payload is not unpadded base64url"), .unsupportedAlgorithm("HS512"), .badSignature,
            .expired, .missingClaim("jti"), .tooLong,
            .unsupportedAlgorithm("HS256\nlevel=error msg=\"forged\" " + secret),
        ]
        for error in errors {
            #expect(!error.description.contains(token))
            #expect(!error.description.contains(secret))
            #expect(!error.description.contains("\n"))
            #expect(!error.description.contains("admin@example.com"))
        }
        #expect(AccessTokenError.expired.description == "access token has expired")
        #expect(
            AccessTokenError.unsupportedAlgorithm("HS256\nlevel=error").description
                == "access token uses unsupported algorithm \"HS256?level?error\""
        )
    }

    @Test func signerDoesNotPrintItsSecret() {
        let secret = String(decoding: Self.secret, as: UTF8.self)
        #expect(signer.description == "AccessTokenSigner(HS256)")
        var dumped = ""
        dump(signer, to: &dumped)
        #expect(!dumped.contains(secret))
        #expect(!String(reflecting: signer).contains(secret))
        #expect(!"\(signer)".contains("ova-interop"))
    }

    // MARK: Randomness

    @Test func generatedSecretsAreLongAndDistinct() {
        let first = AccessTokenSigner.generateSecret()
        let second = AccessTokenSigner.generateSecret()
        #expect(first.count >= 32)
        #expect(first != second)
        #expect(Set(first).count > 8)
    }

    @Test func tokenIDsAre128RandomBits() {
        let ids = (0..<100).map { _ in AccessTokenSigner.newTokenID() }
        #expect(Set(ids).count == 100)
        for id in ids {
            #expect(id.utf8.count == 22)
            #expect(JSONWebToken.base64URLDecode(id)?.count == 16)
        }
    }

    // MARK: base64url

    /// RFC 4648 section 10 vectors, unpadded.
    @Test func base64URLVectors() {
        let vectors = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(JSONWebToken.base64URLEncode(Array(plain.utf8)) == encoded)
            #expect(JSONWebToken.base64URLDecode(encoded) == Array(plain.utf8))
        }
        #expect(JSONWebToken.base64URLEncode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(JSONWebToken.base64URLDecode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: ["Zg==", "Zm8=", "Z", "Zm9vY", "Zh", "Zm9", "+/+/", "Zm9v\n", "Zm 9v", "Zm9v=="])
    func base64URLRejects(_ text: String) {
        #expect(JSONWebToken.base64URLDecode(text) == nil)
    }

    @Test func base64URLRoundTripsEveryLength() {
        var random = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let encoded = JSONWebToken.base64URLEncode(bytes)
            #expect(encoded.utf8.count == (length * 4 + 2) / 3)
            #expect(JSONWebToken.base64URLDecode(encoded) == bytes)
            #expect(encoded == Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: ""))
        }
    }
}
