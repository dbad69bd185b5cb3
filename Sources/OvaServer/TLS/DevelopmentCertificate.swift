import Crypto
import Foundation
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The self-signed certificate a development server uses when no certificate is configured.
///
/// ``ensure(in:now:)`` keeps `dev-cert.pem` and `dev-key.pem` in the data directory: it reuses
/// them while they parse, belong together and are valid for at least another
/// ``renewalMargin``, and generates new ones otherwise. The certificate is for `localhost`,
/// `127.0.0.1` and `::1`; clients trust it with `ova --ca data/dev-cert.pem` or by pinning
/// ``fingerprint``.
public struct DevelopmentCertificate: Sendable, Equatable {
    public static let certificateFileName = "dev-cert.pem"
    public static let keyFileName = "dev-key.pem"
    public static let commonName = "OVA development server"
    /// How long a generated certificate is valid.
    public static let validity: TimeInterval = 365 * 24 * 3600
    /// notBefore is set this far in the past, to tolerate clock skew between client and server.
    public static let backdating: TimeInterval = 3600
    /// Certificates expiring sooner than this are replaced.
    public static let renewalMargin: TimeInterval = 7 * 24 * 3600

    /// Absolute path of the PEM certificate.
    public var certificatePath: String
    /// Absolute path of the PEM (PKCS#8) private key, mode 0600.
    public var keyPath: String
    /// SHA-256 of the certificate's DER, as `AB:CD:...`.
    public var fingerprint: String
    public var notValidAfter: Date
    /// True when this call generated the files, false when existing ones were reused.
    public var wasGenerated: Bool
    /// The mode a reused key had when group or others could access it (it is now 0600).
    public var tightenedKeyMode: Int? = nil

    /// Returns the development certificate in `directory`, generating it if it is missing,
    /// unreadable, mismatched with its key, or expiring within ``renewalMargin`` of `now`.
    /// Creates `directory` (mode 0700) if needed.
    public static func ensure(in directory: String, now: Date = Date()) throws(ConfigurationError) -> DevelopmentCertificate {
        let directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        try DataFiles.ensureDirectory(directory)
        let certificatePath = directory + "/" + certificateFileName
        let keyPath = directory + "/" + keyFileName

        if let existing = loadExisting(certificatePath: certificatePath, keyPath: keyPath, now: now) {
            return existing
        }
        return try generate(certificatePath: certificatePath, keyPath: keyPath, now: now)
    }

    /// SHA-256 over `der`, formatted as colon-separated upper-case hex (`AB:CD:...`).
    public static func fingerprint(ofDER der: some Sequence<UInt8>) -> String {
        SHA256.hash(data: Array(der)).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    // MARK: - Reuse

    private static func loadExisting(certificatePath: String, keyPath: String, now: Date) -> DevelopmentCertificate? {
        guard let certificatePEM = readSmallFile(certificatePath),
              let keyPEM = readSmallFile(keyPath),
              let certificate = try? Certificate(pemEncoded: certificatePEM),
              let privateKey = try? Certificate.PrivateKey(pemEncoded: keyPEM),
              privateKey.publicKey == certificate.publicKey,
              certificate.notValidBefore <= now,
              certificate.notValidAfter > now.addingTimeInterval(renewalMargin),
              let der = try? certificate.serializeAsPEM().derBytes
        else {
            return nil
        }
        // The key must stay private even if someone loosened its mode.
        let tightened: mode_t?
        do {
            tightened = try DataFiles.makePrivate(path: keyPath, create: false)
        } catch {
            return nil
        }
        return DevelopmentCertificate(
            certificatePath: certificatePath,
            keyPath: keyPath,
            fingerprint: fingerprint(ofDER: der),
            notValidAfter: certificate.notValidAfter,
            wasGenerated: false,
            tightenedKeyMode: tightened.map { Int($0) }
        )
    }

    /// Reads a file of at most 1 MiB as UTF-8; nil if it is missing, larger or not text.
    private static func readSmallFile(_ path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              (attributes[.type] as? FileAttributeType) == .typeRegular,
              let size = attributes[.size] as? NSNumber, size.intValue <= 1 << 20,
              let data = FileManager.default.contents(atPath: path)
        else {
            return nil
        }
        return String(data: data, encoding: .utf8)
    }

    // MARK: - Generation

    private static func generate(certificatePath: String, keyPath: String, now: Date) throws(ConfigurationError) -> DevelopmentCertificate {
        let privateKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let certificatePEM: String
        let keyPEM: String
        let der: [UInt8]
        let notValidAfter = now.addingTimeInterval(validity)
        do {
            let name = try DistinguishedName {
                CommonName(commonName)
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                // No keyUsage extension on purpose: BoringSSL (NIOSSL) treats a certificate as
                // self-signed, and so accepts it as its own trust anchor (`ova --ca dev-cert.pem`),
                // only if it has no keyUsage or one with keyCertSign; and keyCertSign on a
                // CA:false certificate would violate RFC 5280. Usage is limited by
                // extendedKeyUsage=serverAuth instead.
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"),
                    .ipAddress(.init(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(.init(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                ])
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: privateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-backdating),
                notValidAfter: notValidAfter,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: privateKey
            )
            let pemDocument = try certificate.serializeAsPEM()
            certificatePEM = pemDocument.pemString + "\n"
            der = pemDocument.derBytes
            keyPEM = try privateKey.serializeAsPEM().pemString + "\n"
        } catch {
            throw .developmentCertificate(path: certificatePath, reason: "could not create the certificate: \(error)")
        }

        // Key first: a crash in between leaves a pair that fails the match check and is regenerated.
        try DataFiles.writeAtomically(path: keyPath, contents: Array(keyPEM.utf8), mode: DataFiles.privateFileMode)
        try DataFiles.writeAtomically(path: certificatePath, contents: Array(certificatePEM.utf8), mode: 0o644)

        return DevelopmentCertificate(
            certificatePath: certificatePath,
            keyPath: keyPath,
            fingerprint: fingerprint(ofDER: der),
            notValidAfter: notValidAfter,
            wasGenerated: true
        )
    }
}
