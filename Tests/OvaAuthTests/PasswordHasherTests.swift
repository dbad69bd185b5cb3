import Testing

@testable import OvaAuth

@Suite("PasswordHasher")
struct PasswordHasherTests {
    /// Cost 4: about a millisecond per hash, so the suite stays fast.
    let fast = PasswordHasher(insecureTestingCost: 4)

    // MARK: Cost

    @Test func defaultCostIsTwelve() throws {
        #expect(PasswordHasher.minimumCost == 12)
        #expect(try PasswordHasher().cost == 12)
        #expect(try PasswordHasher(cost: 13).cost == 13)
    }

    @Test(arguments: [-1, 0, 4, 11, 32, 100])
    func productionInitializerRefusesCost(_ cost: Int) {
        #expect(throws: PasswordHashError.invalidCost(cost)) {
            try PasswordHasher(cost: cost)
        }
    }

    // MARK: Hash and verify

    @Test func roundTripAtTestingCost() throws {
        let hash = try fast.hash("correct horse battery staple")
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(hash.utf8.count == 60)
        #expect(fast.verify("correct horse battery staple", against: hash))
        #expect(!fast.verify("correct horse battery stapler", against: hash))
        #expect(!fast.verify("Correct horse battery staple", against: hash))
        #expect(!fast.verify("", against: hash))
    }

    @Test func everyHashHasItsOwnSalt() throws {
        let first = try fast.hash("same password")
        let second = try fast.hash("same password")
        #expect(first != second)
        #expect(first.prefix(29) != second.prefix(29))
        #expect(fast.verify("same password", against: first))
        #expect(fast.verify("same password", against: second))
    }

    @Test func unicodePasswordRoundTrips() throws {
        let password = "pässwörd-🔑-密码"
        let hash = try fast.hash(password)
        #expect(fast.verify(password, against: hash))
        // Same letters, different normalization bytes would be a different password to
        // bcrypt; String equality must not leak into the comparison.
        #expect(!fast.verify("passwörd-🔑-密码", against: hash))
    }

    /// The one production-cost hash of the suite: proves the default works end to end.
    @Test func defaultCostRoundTrip() throws {
        let hasher = try PasswordHasher()
        let hash = try hasher.hash("a production password 1")
        #expect(hash.hasPrefix("$2b$12$"))
        #expect(hash.utf8.count == 60)
        #expect(hasher.verify("a production password 1", against: hash))
        #expect(!hasher.needsRehash(hash))
    }

    @Test func hasherFromAnyCostVerifiesAnyCost() throws {
        let hash = try fast.hash("portable password")
        let other = PasswordHasher(insecureTestingCost: 5)
        #expect(other.verify("portable password", against: hash))
        #expect(other.needsRehash(hash))
    }

    // MARK: Known vectors

    /// OpenBSD's bcrypt regression vector (also in John the Ripper and crypt_blowfish).
    @Test func openBSDVector() {
        let hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        #expect(fast.verify("U*U", against: hash))
        #expect(!fast.verify("U*V", against: hash))
        #expect(!fast.verify("U*U*", against: hash))
    }

    /// From pyca/bcrypt's test suite (tests/test_bcrypt.py): what `bcrypt.hashpw` in the
    /// original Python backend produces.
    @Test func pycaBcryptVector() {
        let hash = "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"
        #expect(fast.verify("Kk4DQuMMfZL9o", against: hash))
        #expect(!fast.verify("Kk4DQuMMfZL9O", against: hash))
    }

    /// Generated with `crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**12))`
    /// in Python 3.11.
    @Test func pythonGeneratedCost12Hash() throws {
        let hash = "$2b$12$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"
        #expect(fast.verify("correct horse battery staple", against: hash))
        #expect(try !PasswordHasher().needsRehash(hash))
    }

    /// `$2y$` (PHP's spelling) and `$2b$` of the same salt and password give the same digest.
    @Test func twoYPrefixVerifies() {
        let salt = "abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG"
        #expect(fast.verify("correct horse battery staple", against: "$2b$04$" + salt))
        #expect(fast.verify("correct horse battery staple", against: "$2y$04$" + salt))
        #expect(fast.needsRehash("$2y$04$" + salt))
    }

    /// Generated in Python with the setting from libxcrypt's `crypt_gensalt("$y$", 0, NULL, 0)`.
    @Test func yescryptHash() {
        let hash = "$y$j9T$HbXTycSM18audIE8OXkzW0$5VJzOZOYxygIauBvxB0iuK5u72J6YosuIDfQGr1cNC5"
        #expect(fast.verify("Tr0ub4dor&3", against: hash))
        #expect(!fast.verify("Tr0ub4dor&4", against: hash))
        #expect(fast.needsRehash(hash))
    }

    /// `crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))` and `$1$` MD5-crypt.
    @Test func shaCryptAndMD5CryptHashes() {
        let sha512 = "$6$tFi4WVBlWWFVMt3N$Ih45UjyFK6iYeB0.PtGbGsDksX3JaktniT/M2ssLsEU3KwObv766jkoFs.MTdeRJgQi/iEoEjU4MoRH5x6/251"
        #expect(fast.verify("Tr0ub4dor&3", against: sha512))
        #expect(!fast.verify("tr0ub4dor&3", against: sha512))
        let md5 = "$1$saltsalt$ueg/7ujBFDpyKLR2vs28p1"
        #expect(fast.verify("Tr0ub4dor&3", against: md5))
        #expect(fast.needsRehash(md5))
    }

    // MARK: Malformed hashes

    @Test(arguments: [
        "", "*0", "*1", "$", "$2b$", "$2b$xx", "$2b$04$", "$2b$04$short", "$2b$99$abcdefghijklmnopqrstuu",
        "plain", "$unknown$salt$hash", "$2b$04$abcdefghijklmnopqrstuu",
        "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6C",
        "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CGX",
        "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG\n",
        "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG\u{0}",
        String(repeating: "$", count: 5000),
    ])
    func malformedHashNeverVerifies(_ storedHash: String) {
        #expect(!fast.verify("correct horse battery staple", against: storedHash))
        #expect(!fast.verify("", against: storedHash))
    }

    /// Traditional DES (`crypt("password1234", "ab")`) is not modular crypt format and only
    /// reads 8 characters; it is refused even with the right password.
    @Test func traditionalDESIsRefused() {
        #expect(!fast.verify("password1234", against: "abJnggxhB/yWI"))
        #expect(!fast.verify("password", against: "abJnggxhB/yWI"))
    }

    // MARK: Password limits

    @Test func seventyTwoBytesIsTheLimit() throws {
        let limit = String(repeating: "a", count: 72)
        let hash = try fast.hash(limit)
        #expect(fast.verify(limit, against: hash))
        #expect(throws: PasswordHashError.passwordTooLong(byteCount: 73)) {
            try fast.hash(limit + "a")
        }
        // Counted in UTF-8 bytes, not characters: 37 × "é" is 74 bytes.
        #expect(throws: PasswordHashError.passwordTooLong(byteCount: 74)) {
            try fast.hash(String(repeating: "é", count: 37))
        }
    }

    @Test func passwordWithNULIsRefused() {
        #expect(throws: PasswordHashError.passwordContainsNUL) {
            try fast.hash("abc\u{0}def")
        }
        let hash = "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG"
        #expect(fast.verify("correct horse battery staple", against: hash))
        #expect(!fast.verify("correct horse battery staple\u{0}", against: hash))
        #expect(!fast.verify("correct horse battery staple\u{0}extra", against: hash))
    }

    /// Hashes created by a backend that let bcrypt truncate silently still verify (same as
    /// there): the hash below is of exactly 72 "a", the password is 100.
    @Test func legacyTruncatedHashStillVerifies() {
        let hashOf72 = "$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe"
        #expect(fast.verify(String(repeating: "a", count: 72), against: hashOf72))
        #expect(fast.verify(String(repeating: "a", count: 100), against: hashOf72))
        #expect(!fast.verify(String(repeating: "a", count: 71), against: hashOf72))
        // Beyond libxcrypt's 512 byte limit nothing is hashed at all.
        #expect(!fast.verify(String(repeating: "a", count: 513), against: hashOf72))
    }

    // MARK: The original backend's "salt:hexhash" (salted SHA-256)

    /// Made with the original's formula in Python:
    /// `salt + ":" + hashlib.sha256((salt + password).encode()).hexdigest()`.
    static let legacyHash = "OVASecureSalt_0123456789abcdef:1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe24"

    @Test func legacySaltedSHA256Verifies() {
        #expect(fast.verify("contraseña-Vieja1", against: Self.legacyHash))
        // Python's hexdigest is lowercase; an uppercased copy (a hand-edited row) still matches.
        let salt = Self.legacyHash.prefix { $0 != ":" }
        #expect(fast.verify("contraseña-Vieja1", against: salt + Self.legacyHash.drop { $0 != ":" }.uppercased()))
        #expect(!fast.verify("contraseña-vieja1", against: Self.legacyHash))
        #expect(!fast.verify("", against: Self.legacyHash))
        #expect(!fast.verify("contraseña-Vieja1\0", against: Self.legacyHash))
        // Another salt, the same digest: the salt is part of what is hashed.
        #expect(!fast.verify("contraseña-Vieja1", against: "OVASecureSalt_0123456789abcdee" + Self.legacyHash.drop { $0 != ":" }))
    }

    @Test(arguments: [
        "OVASecureSalt_0123456789abcdef:1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe2",  // 63 hex
        "OVASecureSalt_0123456789abcdef:1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe2g",  // not hex
        ":1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe24",  // no salt
        "salt with space:1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe24",
        "1fa09dbacf0149eea9b05458f8b5e962789a8fc7589f6ae99cccab432981fe24",  // no salt part at all
    ])
    func malformedLegacyHashNeverVerifies(_ stored: String) {
        #expect(!LegacySaltedSHA256.matchesFormat(stored))
        #expect(!fast.verify("contraseña-Vieja1", against: stored))
        #expect(!PasswordHasher.isVerifiableStoredHash(stored))
    }

    @Test func legacyHashIsAlwaysRehashed() throws {
        #expect(fast.needsRehash(Self.legacyHash))
        #expect(try PasswordHasher().needsRehash(Self.legacyHash))
    }

    @Test func verifiableFormats() throws {
        #expect(PasswordHasher.isVerifiableStoredHash(Self.legacyHash))
        #expect(PasswordHasher.isVerifiableStoredHash(try fast.hash("a password")))
        #expect(PasswordHasher.isVerifiableStoredHash("$2a$12$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"))
        #expect(PasswordHasher.isVerifiableStoredHash("$y$j9T$HbXTycSM18audIE8OXkzW0$5VJzOZOYxygIauBvxB0iuK5u72J6YosuIDfQGr1cNC5"))
        for unusable in ["", "plain", "$", "$9z$whatever", "abJnggxhB/yWI", "pbkdf2_sha256$260000$salt$hash"] {
            #expect(!PasswordHasher.isVerifiableStoredHash(unusable), "\(unusable)")
        }
    }

    // MARK: needsRehash

    @Test func needsRehash() throws {
        let hasher = try PasswordHasher()
        let current = "$2b$12$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"
        #expect(!hasher.needsRehash(current))
        #expect(hasher.needsRehash("$2b$11$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"))
        #expect(hasher.needsRehash("$2b$13$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"))
        #expect(hasher.needsRehash("$2a$12$SLygPUA4pCHKAMcpTlhSKeAS6KAjZnQy6GSNrFrm9kEEQ7Ze/4uKy"))
        #expect(hasher.needsRehash(String(current.dropLast())))
        #expect(hasher.needsRehash(""))
        #expect(hasher.needsRehash("$y$j9T$HbXTycSM18audIE8OXkzW0$5VJzOZOYxygIauBvxB0iuK5u72J6YosuIDfQGr1cNC5"))
        #expect(!fast.needsRehash("$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"))
        #expect(fast.needsRehash(current))
    }

    // MARK: Dummy verify

    @Test func dummyHashIsARealHashOfTheHashersCost() {
        let hasher = PasswordHasher(insecureTestingCost: 5)
        let copy = hasher
        let dummy = hasher.dummyStoredHash()
        #expect(dummy.hasPrefix("$2b$05$"))
        #expect(dummy.utf8.count == 60)
        #expect(!hasher.needsRehash(dummy))
        // Computed once and shared by copies, so only the first call pays for it.
        #expect(copy.dummyStoredHash() == dummy)
        hasher.equalTimeDummyVerify("anything at all")
        hasher.equalTimeDummyVerify("")
        #expect(hasher.dummyStoredHash() == dummy)
        // Another hasher draws its own random password and salt.
        #expect(PasswordHasher(insecureTestingCost: 5).dummyStoredHash() != dummy)
    }

    @Test func errorDescriptionsDoNotContainThePassword() {
        let error = PasswordHashError.passwordTooLong(byteCount: 80)
        #expect(error.description == "password is 80 bytes; bcrypt accepts at most 72")
    }
}
