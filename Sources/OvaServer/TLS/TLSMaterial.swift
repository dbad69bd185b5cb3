import Foundation
import Logging
import NIOSSL
import X509

/// The certificate, key and optional client CA the server listens with.
///
/// ``resolve(configuration:logger:)`` picks the configured files (`OVA_TLS_CERT`,
/// `OVA_TLS_KEY`, `OVA_TLS_CLIENT_CA`) or, in development with none configured, the
/// self-signed ``DevelopmentCertificate`` in the data directory.
public struct TLSMaterial: Sendable, Equatable {
    /// The ALPN protocol the server offers.
    public static let applicationProtocol = "ova/1"

    public var certificatePath: String
    public var keyPath: String
    /// When set, clients must present a certificate signed by one of these CAs (mutual TLS).
    public var clientCAPath: String?
    /// SHA-256 of the leaf certificate's DER, `AB:CD:...`.
    public var fingerprint: String
    public var isDevelopmentCertificate: Bool

    public init(
        certificatePath: String,
        keyPath: String,
        clientCAPath: String?,
        fingerprint: String,
        isDevelopmentCertificate: Bool
    ) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
        self.fingerprint = fingerprint
        self.isDevelopmentCertificate = isDevelopmentCertificate
    }

    public var requiresClientCertificate: Bool { clientCAPath != nil }

    /// Finds the TLS files to use and checks that they are there and readable.
    ///
    /// - Throws: ``ConfigurationError`` naming the variable and path of a missing or unreadable
    ///   file, or, in production, that `OVA_TLS_CERT` and `OVA_TLS_KEY` are required.
    public static func resolve(configuration: ServerConfiguration, logger: Logger) throws(ConfigurationError) -> TLSMaterial {
        var clientCAPath: String?
        if let path = configuration.tls.clientCAPath {
            try checkReadable(path, variable: "OVA_TLS_CLIENT_CA")
            clientCAPath = path
        }

        switch (configuration.tls.certificatePath, configuration.tls.keyPath) {
        case (.some(let certificatePath), .some(let keyPath)):
            try checkReadable(certificatePath, variable: "OVA_TLS_CERT")
            try checkReadable(keyPath, variable: "OVA_TLS_KEY")
            warnIfKeyIsExposed(keyPath, logger: logger)
            let leaf = try loadCertificateChain(certificatePath, variable: "OVA_TLS_CERT")[0]
            let der: [UInt8]
            do {
                der = try leaf.toDERBytes()
            } catch {
                throw .unusableFile(variable: "OVA_TLS_CERT", path: certificatePath, reason: "cannot encode the certificate: \(error)")
            }
            let fingerprint = DevelopmentCertificate.fingerprint(ofDER: der)
            if let certificate = try? Certificate(derEncoded: der) {
                let remaining = certificate.notValidAfter.timeIntervalSinceNow
                if remaining <= 0 {
                    logger.error(
                        "TLS certificate has expired; clients will reject it",
                        metadata: ["path": "\(certificatePath)", "not_after": "\(certificate.notValidAfter)"]
                    )
                } else if remaining < 30 * 24 * 3600 {
                    logger.warning(
                        "TLS certificate expires soon",
                        metadata: ["path": "\(certificatePath)", "not_after": "\(certificate.notValidAfter)"]
                    )
                }
            }
            logger.info(
                "using TLS certificate at \(certificatePath), SHA-256 fingerprint \(fingerprint)",
                metadata: ["mutual_tls": "\(clientCAPath != nil)"]
            )
            return TLSMaterial(
                certificatePath: certificatePath,
                keyPath: keyPath,
                clientCAPath: clientCAPath,
                fingerprint: fingerprint,
                isDevelopmentCertificate: false
            )

        case (.some, .none), (.none, .some):
            throw .inconsistent(
                variable: configuration.tls.certificatePath == nil ? "OVA_TLS_CERT" : "OVA_TLS_KEY",
                reason: "OVA_TLS_CERT and OVA_TLS_KEY must be set together (PEM certificate chain and PEM private key)"
            )

        case (.none, .none):
            guard configuration.environment == .development else {
                throw .missingValue(
                    variable: "OVA_TLS_CERT",
                    reason: "ENVIRONMENT=production requires OVA_TLS_CERT and OVA_TLS_KEY (PEM certificate chain and PEM private key); "
                        + "the self-signed development certificate is only generated in development"
                )
            }
            let development = try DevelopmentCertificate.ensure(in: configuration.storage.dataDirectory)
            if let mode = development.tightenedKeyMode {
                DataFiles.logTightened(path: development.keyPath, previousMode: mode_t(mode), logger: logger)
            }
            let verb = development.wasGenerated ? "generated" : "using existing"
            logger.notice(
                "\(verb) development certificate at \(development.certificatePath), SHA-256 fingerprint \(development.fingerprint)",
                metadata: [
                    "not_after": "\(development.notValidAfter)",
                    "client_hint": "ova --ca \(development.certificatePath) (or --insecure)",
                ]
            )
            return TLSMaterial(
                certificatePath: development.certificatePath,
                keyPath: development.keyPath,
                clientCAPath: clientCAPath,
                fingerprint: development.fingerprint,
                isDevelopmentCertificate: true
            )
        }
    }

    /// The NIOSSL server configuration: TLS 1.2+, ALPN `ova/1`, and with a client CA,
    /// mandatory client certificates verified against it (no hostname check).
    ///
    /// - Throws: ``ConfigurationError`` naming the file that NIOSSL could not load.
    public func makeServerTLSConfiguration() throws(ConfigurationError) -> TLSConfiguration {
        let chain = try Self.loadCertificateChain(certificatePath, variable: isDevelopmentCertificate ? nil : "OVA_TLS_CERT")
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw .unusableFile(
                variable: isDevelopmentCertificate ? nil : "OVA_TLS_KEY",
                path: keyPath,
                reason: "not a readable PEM private key (\(error))"
            )
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [Self.applicationProtocol]
        if let clientCAPath {
            // Parsed here rather than with `.file(path)` so a bad bundle fails now, naming the file.
            let roots = try Self.loadCertificateChain(clientCAPath, variable: "OVA_TLS_CLIENT_CA")
            configuration.trustRoots = .certificates(roots)
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }

    // MARK: - Helpers

    static func checkReadable(_ path: String, variable: String) throws(ConfigurationError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unusableFile(variable: variable, path: path, reason: "file does not exist")
        }
        guard !isDirectory.boolValue else {
            throw .unusableFile(variable: variable, path: path, reason: "is a directory, expected a PEM file")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unusableFile(variable: variable, path: path, reason: "file is not readable by this process")
        }
    }

    /// All certificates in a PEM file; at least one.
    static func loadCertificateChain(_ path: String, variable: String?) throws(ConfigurationError) -> [NIOSSLCertificate] {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw .unusableFile(variable: variable, path: path, reason: "not a readable PEM certificate file (\(error))")
        }
        guard !chain.isEmpty else {
            throw .unusableFile(variable: variable, path: path, reason: "contains no PEM certificate")
        }
        return chain
    }

    private static func warnIfKeyIsExposed(_ path: String, logger: Logger) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
        else { return }
        if mode & 0o077 != 0 {
            logger.warning(
                "TLS private key is readable by group or others; chmod 600 it",
                metadata: ["path": "\(path)", "mode": "\(String(mode, radix: 8))"]
            )
        }
    }
}
