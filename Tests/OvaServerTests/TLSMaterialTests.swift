import Crypto
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import OvaServer
import Testing
import X509

// MARK: - Helpers

/// A fresh directory under the system temp directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/ova-tls-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Collects log messages so tests can assert what the server would print.
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [(level: Logger.Level, message: String)] = []

    var entries: [(level: Logger.Level, message: String)] {
        lock.withLock { storage }
    }

    func append(_ level: Logger.Level, _ message: String) {
        lock.withLock { storage.append((level, message)) }
    }

    func logger() -> Logger {
        Logger(label: "test") { _ in CapturingHandler(logs: self) }
    }

    struct CapturingHandler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logs.append(event.level, event.message.description)
        }
    }
}

func fileMode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? NSNumber).intValue & 0o777
}

func developmentConfiguration(dataDirectory: String, extra: [String: String] = [:]) throws -> ServerConfiguration {
    var environment = extra
    environment["OVA_DATA_DIR"] = dataDirectory
    return try ServerConfiguration.load(environment: environment)
}

/// Issues certificates for the mutual TLS tests.
struct TestAuthority {
    let certificate: Certificate
    let key: Certificate.PrivateKey

    init() throws {
        key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName { CommonName("OVA test CA") }
        certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(24 * 3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: key
        )
    }

    func pem() throws -> String { try certificate.serializeAsPEM().pemString }

    /// A client certificate and key signed by this authority, as NIOSSL sources.
    func issueClient() throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let clientKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let client = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: clientKey.publicKey,
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(24 * 3600),
            issuer: certificate.subject,
            subject: try DistinguishedName { CommonName("test client") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: key
        )
        return (
            try NIOSSLCertificate(bytes: Array(try client.serializeAsPEM().pemString.utf8), format: .pem),
            try NIOSSLPrivateKey(bytes: Array(try clientKey.serializeAsPEM().pemString.utf8), format: .pem)
        )
    }
}

/// Records TLS handshake events.
final class HandshakeRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var negotiatedProtocol: String??
    var received = ""

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let proto) = event {
            negotiatedProtocol = .some(proto)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
    }
}

struct HandshakeOutcome {
    var serverProtocol: String??
    var clientProtocol: String??
    var serverReceived: String
    var serverSawClientCertificate: Bool
    var error: (any Error)?

    var succeeded: Bool { error == nil && serverProtocol != nil && clientProtocol != nil }
}

/// Moves bytes between the two in-memory channels until neither has anything to send.
func pump(_ clientChannel: EmbeddedChannel, _ serverChannel: EmbeddedChannel) throws {
    var moved = true
    var rounds = 0
    while moved, rounds < 1000 {
        moved = false
        rounds += 1
        serverChannel.embeddedEventLoop.run()
        clientChannel.embeddedEventLoop.run()
        if let data = try clientChannel.readOutbound(as: IOData.self) {
            try serverChannel.writeInbound(data)
            moved = true
        }
        if let data = try serverChannel.readOutbound(as: IOData.self) {
            try clientChannel.writeInbound(data)
            moved = true
        }
        try serverChannel.throwIfErrorCaught()
        try clientChannel.throwIfErrorCaught()
    }
}

/// Runs a TLS handshake between the server configuration and a client in memory, then sends
/// "ping" from client to server. Never blocks: nothing here calls `wait()` (an
/// `EmbeddedChannel.finish()` on an open TLS channel would wait forever for close_notify).
func handshake(server: TLSConfiguration, client: TLSConfiguration, hostname: String = "localhost") throws -> HandshakeOutcome {
    let serverContext = try NIOSSLContext(configuration: server)
    let clientContext = try NIOSSLContext(configuration: client)
    let serverRecorder = HandshakeRecorder()
    let clientRecorder = HandshakeRecorder()
    let serverChannel = EmbeddedChannel()
    let clientChannel = EmbeddedChannel()
    defer {
        // Orderly TLS shutdown, then let any shutdown timers fire. No finish()/wait().
        clientChannel.close(promise: nil)
        try? pump(clientChannel, serverChannel)
        serverChannel.close(promise: nil)
        try? pump(clientChannel, serverChannel)
        clientChannel.embeddedEventLoop.advanceTime(by: .seconds(60))
        serverChannel.embeddedEventLoop.advanceTime(by: .seconds(60))
    }
    try serverChannel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
    try serverChannel.pipeline.syncOperations.addHandler(serverRecorder)
    try clientChannel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: clientContext, serverHostname: hostname))
    try clientChannel.pipeline.syncOperations.addHandler(clientRecorder)

    var failure: (any Error)?
    do {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 7443)
        serverChannel.pipeline.fireChannelActive()
        clientChannel.connect(to: address, promise: nil)
        try pump(clientChannel, serverChannel)
        if clientRecorder.negotiatedProtocol != nil {
            clientChannel.writeAndFlush(ByteBuffer(string: "ping"), promise: nil)
            try pump(clientChannel, serverChannel)
        }
    } catch {
        failure = error
    }
    let peer = try? serverChannel.pipeline.syncOperations.nioSSL_peerCertificate()
    return HandshakeOutcome(
        serverProtocol: serverRecorder.negotiatedProtocol,
        clientProtocol: clientRecorder.negotiatedProtocol,
        serverReceived: serverRecorder.received,
        serverSawClientCertificate: (peer ?? nil) != nil,
        error: failure
    )
}

func clientTrusting(_ certificatePath: String) throws -> TLSConfiguration {
    var client = TLSConfiguration.makeClientConfiguration()
    client.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificatePath))
    client.applicationProtocols = ["ova/1"]
    return client
}

// MARK: - Development certificate

@Suite("DevelopmentCertificate")
struct DevelopmentCertificateTests {
    @Test func generatesUsableFiles() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let dataDirectory = temp.file("nested/data")

        let development = try DevelopmentCertificate.ensure(in: dataDirectory)

        #expect(development.wasGenerated)
        #expect(development.certificatePath == dataDirectory + "/dev-cert.pem")
        #expect(development.keyPath == dataDirectory + "/dev-key.pem")
        #expect(FileManager.default.fileExists(atPath: development.certificatePath))
        #expect(FileManager.default.fileExists(atPath: development.keyPath))
        #expect(try fileMode(development.keyPath) == 0o600)
        #expect(try fileMode(dataDirectory) == 0o700)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted()
        #expect(leftovers == ["dev-cert.pem", "dev-key.pem"], "no temporary files left behind")

        let chain = try NIOSSLCertificate.fromPEMFile(development.certificatePath)
        #expect(chain.count == 1)
        _ = try NIOSSLPrivateKey(file: development.keyPath, format: .pem)
    }

    @Test func certificateHasTheRequestedContents() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let now = Date()
        let development = try DevelopmentCertificate.ensure(in: temp.path, now: now)
        let pem = try String(contentsOfFile: development.certificatePath, encoding: .utf8)
        let certificate = try Certificate(pemEncoded: pem)

        #expect(certificate.subject.description.contains("CN=OVA development server"))
        #expect(certificate.issuer == certificate.subject, "self-signed")
        #expect(abs(certificate.notValidBefore.timeIntervalSince(now.addingTimeInterval(-3600))) < 2)
        #expect(abs(certificate.notValidAfter.timeIntervalSince(now.addingTimeInterval(365 * 24 * 3600))) < 2)
        #expect(abs(development.notValidAfter.timeIntervalSince(certificate.notValidAfter)) < 2)
        #expect((19...21).contains(certificate.serialNumber.bytes.count), "random 20-byte serial")

        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil, "P-256 key")
        let basicConstraints = try #require(try certificate.extensions.basicConstraints)
        #expect(basicConstraints == .notCertificateAuthority)
        // No keyUsage: BoringSSL would otherwise refuse the certificate as its own trust
        // anchor (see DevelopmentCertificate.swift); clientTrustingDevelopmentCertificateConnects
        // checks the consequence.
        #expect(try certificate.extensions.keyUsage == nil)
        let extendedKeyUsage = try #require(try certificate.extensions.extendedKeyUsage)
        #expect(Array(extendedKeyUsage) == [.serverAuth])
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.ipAddress(.init(contentBytes: [127, 0, 0, 1]))))
        #expect(names.contains(.ipAddress(.init(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))))
        #expect(Array(names).count == 3)
    }

    @Test func fingerprintIsSHA256OfDER() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let development = try DevelopmentCertificate.ensure(in: temp.path)
        let der = try #require(try NIOSSLCertificate.fromPEMFile(development.certificatePath).first).toDERBytes()
        let expected = SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
        #expect(development.fingerprint == expected)
        #expect(development.fingerprint.count == 32 * 3 - 1)
    }

    @Test func secondCallReusesTheCertificate() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        let pemBefore = try String(contentsOfFile: first.certificatePath, encoding: .utf8)
        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(!second.wasGenerated)
        #expect(second.fingerprint == first.fingerprint)
        #expect(try String(contentsOfFile: second.certificatePath, encoding: .utf8) == pemBefore)
    }

    @Test func corruptCertificateIsReplaced() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
            .write(toFile: first.certificatePath, atomically: true, encoding: .utf8)

        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(second.wasGenerated)
        #expect(second.fingerprint != first.fingerprint)
        #expect(try NIOSSLCertificate.fromPEMFile(second.certificatePath).count == 1)
        #expect(try fileMode(second.keyPath) == 0o600)
    }

    @Test func missingKeyIsRegenerated() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        try FileManager.default.removeItem(atPath: first.keyPath)
        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(second.wasGenerated)
        #expect(FileManager.default.fileExists(atPath: second.keyPath))
    }

    @Test func keyThatDoesNotMatchIsRegenerated() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        let otherKey = try Certificate.PrivateKey(P256.Signing.PrivateKey()).serializeAsPEM().pemString
        try otherKey.write(toFile: first.keyPath, atomically: true, encoding: .utf8)
        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(second.wasGenerated)
        #expect(second.fingerprint != first.fingerprint)
        // The new pair belongs together: NIOSSL accepts it as a server identity.
        let material = try TLSMaterial.resolve(
            configuration: developmentConfiguration(dataDirectory: temp.path),
            logger: CapturedLogs().logger()
        )
        _ = try NIOSSLContext(configuration: material.makeServerTLSConfiguration())
    }

    @Test func expiringCertificateIsRenewed() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let now = Date()
        let first = try DevelopmentCertificate.ensure(in: temp.path, now: now)
        let stillFine = try DevelopmentCertificate.ensure(in: temp.path, now: now.addingTimeInterval(300 * 24 * 3600))
        #expect(!stillFine.wasGenerated)
        let later = now.addingTimeInterval(360 * 24 * 3600)  // 5 days before expiry
        let renewed = try DevelopmentCertificate.ensure(in: temp.path, now: later)
        #expect(renewed.wasGenerated)
        #expect(renewed.fingerprint != first.fingerprint)
        #expect(renewed.notValidAfter > first.notValidAfter)
    }

    @Test func loosenedKeyModeIsTightened() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: first.keyPath)
        #expect(try fileMode(first.keyPath) == 0o644)
        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(!second.wasGenerated)
        #expect(try fileMode(second.keyPath) == 0o600)
    }

    @Test func dataDirectoryThatIsAFileFails() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let notADirectory = temp.file("data")
        try "x".write(toFile: notADirectory, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) {
            try DevelopmentCertificate.ensure(in: notADirectory)
        }
    }
}

// MARK: - TLSMaterial

@Suite("TLSMaterial")
struct TLSMaterialTests {
    @Test func developmentUsesGeneratedCertificateAndLogsFingerprint() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let logs = CapturedLogs()
        let configuration = try developmentConfiguration(dataDirectory: temp.path)

        let material = try TLSMaterial.resolve(configuration: configuration, logger: logs.logger())

        #expect(material.isDevelopmentCertificate)
        #expect(material.certificatePath == temp.path + "/dev-cert.pem")
        #expect(material.keyPath == temp.path + "/dev-key.pem")
        #expect(material.clientCAPath == nil)
        #expect(!material.requiresClientCertificate)
        let expected = "generated development certificate at \(material.certificatePath), SHA-256 fingerprint \(material.fingerprint)"
        #expect(logs.entries.contains { $0.message == expected }, "\(logs.entries)")

        let again = try TLSMaterial.resolve(configuration: configuration, logger: logs.logger())
        #expect(again.fingerprint == material.fingerprint)
        #expect(logs.entries.contains { $0.message.hasPrefix("using existing development certificate at") })
    }

    @Test func serverConfigurationMakesAContext() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let material = try TLSMaterial.resolve(
            configuration: developmentConfiguration(dataDirectory: temp.path),
            logger: CapturedLogs().logger()
        )
        let tls = try material.makeServerTLSConfiguration()
        #expect(tls.minimumTLSVersion == .tlsv12)
        #expect(tls.applicationProtocols == ["ova/1"])
        #expect(tls.certificateVerification == .none, "no client certificates without OVA_TLS_CLIENT_CA")
        _ = try NIOSSLContext(configuration: tls)
    }

    @Test func clientTrustingDevelopmentCertificateConnects() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let material = try TLSMaterial.resolve(
            configuration: developmentConfiguration(dataDirectory: temp.path),
            logger: CapturedLogs().logger()
        )
        let outcome = try handshake(
            server: material.makeServerTLSConfiguration(),
            client: clientTrusting(material.certificatePath)
        )
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        #expect(outcome.clientProtocol == .some("ova/1"))
        #expect(outcome.serverProtocol == .some("ova/1"))
        #expect(outcome.serverReceived == "ping")
        #expect(!outcome.serverSawClientCertificate)
    }

    @Test func clientNotTrustingTheCertificateFails() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let material = try TLSMaterial.resolve(
            configuration: developmentConfiguration(dataDirectory: temp.path),
            logger: CapturedLogs().logger()
        )
        // A client that trusts some other certificate must reject the server.
        let other = try TemporaryDirectory()
        defer { other.remove() }
        let otherCertificate = try DevelopmentCertificate.ensure(in: other.path)
        let outcome = try handshake(
            server: material.makeServerTLSConfiguration(),
            client: clientTrusting(otherCertificate.certificatePath)
        )
        #expect(!outcome.succeeded)
        #expect(outcome.serverReceived.isEmpty)
    }

    @Test func configuredFilesAreUsed() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let generated = try DevelopmentCertificate.ensure(in: temp.file("issued"))
        let configuration = try ServerConfiguration.load(environment: [
            "ENVIRONMENT": "production",
            "JWT_SECRET_KEY": "0123456789abcdef0123456789abcdef-prod",
            "OVA_DATA_DIR": temp.file("data"),
            "OVA_TLS_CERT": generated.certificatePath,
            "OVA_TLS_KEY": generated.keyPath,
        ])
        let material = try TLSMaterial.resolve(configuration: configuration, logger: CapturedLogs().logger())
        #expect(!material.isDevelopmentCertificate)
        #expect(material.certificatePath == generated.certificatePath)
        #expect(material.fingerprint == generated.fingerprint)
        #expect(!FileManager.default.fileExists(atPath: temp.file("data/dev-cert.pem")), "no dev cert in production")
        _ = try NIOSSLContext(configuration: material.makeServerTLSConfiguration())
    }

    @Test func missingConfiguredFileNamesVariableAndPath() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let generated = try DevelopmentCertificate.ensure(in: temp.path)
        let missing = temp.file("nope.pem")

        let configuration = try ServerConfiguration.load(environment: [
            "OVA_TLS_CERT": missing, "OVA_TLS_KEY": generated.keyPath,
        ])
        let error = #expect(throws: ConfigurationError.self) {
            try TLSMaterial.resolve(configuration: configuration, logger: CapturedLogs().logger())
        }
        #expect(error?.variable == "OVA_TLS_CERT")
        #expect(error?.description.contains(missing) == true)
        #expect(error?.description.contains("does not exist") == true)

        let keyConfiguration = try ServerConfiguration.load(environment: [
            "OVA_TLS_CERT": generated.certificatePath, "OVA_TLS_KEY": temp.path,
        ])
        let keyError = #expect(throws: ConfigurationError.self) {
            try TLSMaterial.resolve(configuration: keyConfiguration, logger: CapturedLogs().logger())
        }
        #expect(keyError?.variable == "OVA_TLS_KEY")
        #expect(keyError?.description.contains("directory") == true)
    }

    @Test func corruptConfiguredFilesNameTheFile() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let generated = try DevelopmentCertificate.ensure(in: temp.path)
        let badCertificate = temp.file("bad-cert.pem")
        try "hello".write(toFile: badCertificate, atomically: true, encoding: .utf8)
        let badCertificateConfig = try ServerConfiguration.load(environment: [
            "OVA_TLS_CERT": badCertificate, "OVA_TLS_KEY": generated.keyPath,
        ])
        let certificateError = #expect(throws: ConfigurationError.self) {
            try TLSMaterial.resolve(configuration: badCertificateConfig, logger: CapturedLogs().logger())
        }
        #expect(certificateError?.variable == "OVA_TLS_CERT")
        #expect(certificateError?.description.contains(badCertificate) == true)

        let badKey = temp.file("bad-key.pem")
        try "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".write(toFile: badKey, atomically: true, encoding: .utf8)
        let badKeyConfig = try ServerConfiguration.load(environment: [
            "OVA_TLS_CERT": generated.certificatePath, "OVA_TLS_KEY": badKey,
        ])
        let material = try TLSMaterial.resolve(configuration: badKeyConfig, logger: CapturedLogs().logger())
        let keyError = #expect(throws: ConfigurationError.self) {
            try material.makeServerTLSConfiguration()
        }
        #expect(keyError?.variable == "OVA_TLS_KEY")
        #expect(keyError?.description.contains(badKey) == true)
    }

    @Test func productionWithoutCertificateIsRejected() throws {
        var configuration = try ServerConfiguration.load(environment: [:])
        configuration.environment = .production
        let error = #expect(throws: ConfigurationError.self) {
            try TLSMaterial.resolve(configuration: configuration, logger: CapturedLogs().logger())
        }
        #expect(error?.description.contains("OVA_TLS_CERT") == true)
    }

    @Test func mutualTLSRequiresAClientCertificateFromTheCA() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let authority = try TestAuthority()
        let caPath = temp.file("client-ca.pem")
        try authority.pem().write(toFile: caPath, atomically: true, encoding: .utf8)
        let configuration = try developmentConfiguration(
            dataDirectory: temp.file("data"),
            extra: ["OVA_TLS_CLIENT_CA": caPath]
        )
        let material = try TLSMaterial.resolve(configuration: configuration, logger: CapturedLogs().logger())
        #expect(material.clientCAPath == caPath)
        #expect(material.requiresClientCertificate)
        let server = try material.makeServerTLSConfiguration()
        #expect(server.certificateVerification == .noHostnameVerification)

        // Without a client certificate: rejected.
        let anonymous = try handshake(server: server, client: clientTrusting(material.certificatePath))
        #expect(!anonymous.succeeded)
        #expect(anonymous.serverReceived.isEmpty)

        // With a certificate from another CA: rejected.
        let stranger = try TestAuthority().issueClient()
        var strangerClient = try clientTrusting(material.certificatePath)
        strangerClient.certificateChain = [.certificate(stranger.certificate)]
        strangerClient.privateKey = .privateKey(stranger.key)
        let strangerOutcome = try handshake(server: server, client: strangerClient)
        #expect(!strangerOutcome.succeeded)
        #expect(strangerOutcome.serverReceived.isEmpty)

        // With a certificate the CA issued: accepted, and the server sees it.
        let issued = try authority.issueClient()
        var client = try clientTrusting(material.certificatePath)
        client.certificateChain = [.certificate(issued.certificate)]
        client.privateKey = .privateKey(issued.key)
        let outcome = try handshake(server: server, client: client)
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        #expect(outcome.serverReceived == "ping")
        #expect(outcome.serverSawClientCertificate)
    }

    @Test func unreadableClientCANamesVariable() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let configuration = try developmentConfiguration(
            dataDirectory: temp.path,
            extra: ["OVA_TLS_CLIENT_CA": temp.file("missing-ca.pem")]
        )
        let error = #expect(throws: ConfigurationError.self) {
            try TLSMaterial.resolve(configuration: configuration, logger: CapturedLogs().logger())
        }
        #expect(error?.variable == "OVA_TLS_CLIENT_CA")
        #expect(error?.description.contains("missing-ca.pem") == true)
    }
}
