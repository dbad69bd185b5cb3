import CLibFuzzer
import Glibc
import Crypto
import OvaAuth

// Property: AccessTokenSigner.verify never traps on any string, and accepts only tokens whose
// claims re-sign to a token that verifies to the same claims.
//
// Random strings almost never carry a valid signature, which would leave the claims parser
// unreached. So byte 0 picks the mode:
//   even  the rest is the token, verified as is (header checks, base64url, signature);
//   odd   the rest is the signing input "header.payload", which the harness signs with the
//         test key before verifying: the claims JSON is then parsed for real.
// The key is a fixed test secret, not used anywhere else.

private let secret = Array("ova-fuzz-test-secret-not-a-real-key".utf8)
private let signer = AccessTokenSigner(secret: secret)
private let key = SymmetricKey(data: secret)
private let now: Int64 = 1_700_000_000

@main
enum JWTFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzJWT))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let rest = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let token: String
    if data[0] & 1 == 0 {
        token = String(decoding: rest, as: UTF8.self)
    } else {
        let signingInput = String(decoding: rest, as: UTF8.self)
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: key)
        token = signingInput + "." + base64URL(Array(signature))
    }
    guard let claims = try? signer.verify(token, nowSeconds: now) else { return 0 }
    guard !claims.subject.isEmpty, !claims.tokenID.isEmpty, claims.expiresAt > now else {
        fatalError("verify accepted incomplete or expired claims \(claims)")
    }
    guard let again = try? signer.verify(signer.sign(claims), nowSeconds: now), again == claims else {
        fatalError("claims \(claims) do not survive sign + verify")
    }
    return 0
}

private func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var output: [UInt8] = []
    var accumulator: UInt32 = 0
    var bits = 0
    for byte in bytes {
        accumulator = (accumulator << 8) | UInt32(byte)
        bits += 8
        while bits >= 6 {
            bits -= 6
            output.append(alphabet[Int((accumulator >> UInt32(bits)) & 0x3F)])
        }
        accumulator &= (1 << UInt32(bits)) - 1
    }
    if bits > 0 { output.append(alphabet[Int((accumulator << UInt32(6 - bits)) & 0x3F)]) }
    return String(decoding: output, as: UTF8.self)
}
