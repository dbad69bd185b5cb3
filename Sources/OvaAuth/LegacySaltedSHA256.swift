import Crypto

/// The oldest password format of the original OVA Web backend: `"salt:hexhash"`, where
/// `hexhash` is the lowercase hex SHA-256 of the salt followed by the password (UTF-8) and the
/// salt is `"OVASecureSalt_"` and 16 hex characters (Python's `token_hex(8)`).
///
/// One unsalted-per-round SHA-256 is fast to brute-force, so these hashes are only ever
/// verified, never created: ``PasswordHasher/needsRehash(_:)`` is true for them, and the login
/// replaces one with bcrypt as soon as its password is proven.
enum LegacySaltedSHA256 {
    /// The salt's length limit: the original's is 30 characters; a little slack for variants,
    /// none for arbitrary text.
    static let maximumSaltBytes = 64

    /// The salt and the expected digest's 64 hex characters (lowercased), or nil when `stored`
    /// is not in this format.
    static func parse(_ stored: String) -> (salt: Substring, hexDigest: String)? {
        guard let colon = stored.lastIndex(of: ":") else { return nil }
        let salt = stored[..<colon]
        let digest = stored[stored.index(after: colon)...]
        guard
            (1...Self.maximumSaltBytes).contains(salt.utf8.count),
            salt.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }),
            digest.utf8.count == 64,
            digest.utf8.allSatisfy({ Self.isHexDigit($0) })
        else {
            return nil
        }
        return (salt, digest.lowercased())
    }

    /// Whether `stored` is a hash in this format.
    static func matchesFormat(_ stored: String) -> Bool {
        self.parse(stored) != nil
    }

    /// Whether SHA-256(salt + password) is the stored digest, compared in constant time; false
    /// for anything not in this format.
    static func verify(_ password: String, against stored: String) -> Bool {
        guard let (salt, expected) = self.parse(stored) else { return false }
        let digest = SHA256.hash(data: Array(salt.utf8) + Array(password.utf8))
        let computed = digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
        return ConstantTime.equals(computed.utf8, expected.utf8)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): return true
        default: return false
        }
    }
}
