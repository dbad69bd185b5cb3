import NIOSSL

/// How a client verifies the server and, optionally, proves its own identity (mutual TLS).
public struct ClientTLSConfiguration: Sendable {
    /// Which certificates the client trusts.
    public enum Trust: Sendable {
        /// The operating system's trust store.
        case systemDefault
        /// Certificates in a PEM file (e.g. the server's development certificate).
        case certificateFile(String)
        /// No verification at all: encrypted but unauthenticated. For development only.
        case insecureNoVerification
    }

    public var trust: Trust
    /// The name checked against the certificate and sent as SNI; defaults to the host.
    public var serverHostname: String?
    /// Client certificate chain and key (PEM) for mutual TLS.
    public var certificateChainPath: String?
    public var privateKeyPath: String?

    public init(trust: Trust = .systemDefault, serverHostname: String? = nil, certificateChainPath: String? = nil, privateKeyPath: String? = nil) {
        self.trust = trust
        self.serverHostname = serverHostname
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }

    func makeNIOSSLConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["ova/1"]
        switch self.trust {
        case .systemDefault:
            break
        case .certificateFile(let path):
            tls.trustRoots = .file(path)
        case .insecureNoVerification:
            tls.certificateVerification = .none
        }
        if let chain = self.certificateChainPath, let key = self.privateKeyPath {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return tls
    }
}
