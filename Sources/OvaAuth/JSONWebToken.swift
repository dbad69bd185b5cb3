/// The encoding pieces of compact JSON Web Tokens (RFC 7515/7519) that
/// ``AccessTokenSigner`` needs: base64url without padding (claims are quoted by `JSONString`).
///
/// Decoding is strict on purpose: only the canonical encoding of a byte string is accepted
/// (no `=` padding, no whitespace, unused trailing bits zero), so every token has exactly one
/// spelling and a flipped character in any segment can never decode to the same bytes.
enum JSONWebToken {
    /// `{"alg":"HS256","typ":"JWT"}`, the only header ``AccessTokenSigner`` writes.
    static let headerJSON = #"{"alg":"HS256","typ":"JWT"}"#
    /// ``headerJSON`` base64url encoded: the first segment of every token we sign.
    static let encodedHeader = base64URLEncode(Array(headerJSON.utf8))

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Base64url (RFC 4648 section 5) without padding.
    static func base64URLEncode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var accumulator: UInt32 = 0
        var bitCount = 0
        for byte in bytes {
            accumulator = (accumulator << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 6 {
                bitCount -= 6
                output.append(alphabet[Int((accumulator >> UInt32(bitCount)) & 0x3F)])
            }
            accumulator &= (1 << UInt32(bitCount)) - 1
        }
        if bitCount > 0 {
            output.append(alphabet[Int((accumulator << UInt32(6 - bitCount)) & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes in canonical unpadded base64url, or nil when it contains any
    /// other character (including `=`), has an impossible length, or non-zero unused bits.
    static func base64URLDecode(_ text: some StringProtocol) -> [UInt8]? {
        let characters = text.utf8
        // 4n+1 characters cannot come from any byte string.
        guard characters.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bitCount = 0
        for character in characters {
            guard let value = sextet(character) else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
                accumulator &= (1 << UInt32(bitCount)) - 1
            }
        }
        // The 2 or 4 bits left over are padding; anything but zero is a second spelling.
        guard accumulator == 0 else { return nil }
        return output
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}
