import ArgumentParser
import Crypto
import EchoProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
import X509

/// `grpc-echo-server`: OVA's Echo contract (ova.v1.Echo) served by grpc-swift-2 over
/// HTTP/2 + TLS, as the baseline for Benchmarks/compare.sh.
@main
struct GRPCEchoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-echo-server",
        abstract: "Serve ova.v1.Echo with grpc-swift-2 (HTTP/2 + TLS) for side-by-side benchmarks.",
        discussion: """
            Prints "listening on <port>" on stdout once bound. Without --cert/--key (or when the \
            files do not exist) a self-signed P-256 certificate for "localhost" is generated in \
            memory; clients then need --insecure.
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0 = any free port).")
    var port = 7444

    @Option(help: ArgumentHelp("PEM certificate chain.", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("PEM private key.", valueName: "file"))
    var key: String?

    @Option(help: "Event-loop threads (default: one per core).")
    var threads = System.coreCount

    @Flag(help: "Disable grpc-swift's server flush coalescing (on by default since transport 2.8).")
    var noFlushCoalescing = false

    @Flag(help: """
        Run Swift concurrency on NIO's event loops (NIOSingletons global executor, --threads loops). \
        Without it, handler writes are queued to the event loop without waiting, so a fast \
        server stream buffers without bound in memory (compare.sh passes this flag).
        """)
    var nioExecutor = false

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0-65535") }
        guard self.threads >= 1, self.threads <= 256 else { throw ValidationError("--threads must be 1-256") }
        if (self.cert == nil) != (self.key == nil) { throw ValidationError("--cert and --key go together") }
    }

    func run() async throws {
        let security: HTTP2ServerTransport.Posix.TransportSecurity
        if let cert = self.cert, let key = self.key,
           FileManager.default.fileExists(atPath: cert), FileManager.default.fileExists(atPath: key) {
            security = .tls(
                certificateChain: [.file(path: cert, format: .pem)],
                privateKey: .file(path: key, format: .pem)
            )
        } else {
            if self.cert != nil {
                FileHandle.standardError.write(Data("grpc-echo-server: --cert/--key not found, using a generated self-signed certificate\n".utf8))
            }
            let generated = try Self.selfSignedCertificate()
            security = .tls(
                certificateChain: [.bytes(generated.certificate, format: .der)],
                privateKey: .bytes(generated.key, format: .der)
            )
        }

        let group: MultiThreadedEventLoopGroup
        if self.nioExecutor {
            NIOSingletons.groupLoopCountSuggestion = self.threads
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                throw ValidationError("could not install NIO as the global executor")
            }
            group = .singletonMultiThreadedEventLoopGroup
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: self.host, port: self.port),
            transportSecurity: security,
            config: .defaults { config in
                if self.noFlushCoalescing { config.connection.flushCoalescing = nil }
            },
            eventLoopGroup: group
        )
        let server = GRPCServer(transport: transport, services: [EchoService()])
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask { try await server.serve() }
            let address = try await transport.listeningAddress
            let port = address.ipv4?.port ?? address.ipv6?.port ?? self.port
            // Unbuffered, so a script reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8))
        }
        if !self.nioExecutor { try await group.shutdownGracefully() }
    }

    /// A self-signed P-256 certificate for "localhost", as grpc-swift-nio-transport's TLS tests make.
    static func selfSignedCertificate() throws -> (certificate: [UInt8], key: [UInt8]) {
        let privateKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName { CommonName("grpc-echo-server") }
        let now = Date()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            Critical(try ExtendedKeyUsage([.serverAuth, .clientAuth]))
            SubjectAlternativeNames([.dnsName("localhost")])
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-60 * 60),
            notValidAfter: now.addingTimeInterval(60 * 60 * 24 * 365),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: privateKey
        )
        let der = try certificate.serializeAsPEM().derBytes
        return (der, try privateKey.serializeAsPEM().derBytes)
    }
}
