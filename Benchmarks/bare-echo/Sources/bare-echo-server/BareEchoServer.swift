import ArgumentParser
import BareEchoWire
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// `bare-echo-server`: the practical ceiling for OVA's benchmarks: SwiftNIO + swift-nio-ssl,
/// a length-prefixed frame, and an echo handler running as a Swift task. Nothing else: no
/// protobuf, no streams, no flow control, no auth, no limits beyond the maximum frame length.
@main
struct BareEchoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-echo-server",
        abstract: "Echo length-prefixed frames over TLS 1.3 (the ceiling for ova-server benchmarks).",
        discussion: """
            Prints "listening on <port>" on stdout once bound. A self-signed P-256 certificate for \
            "localhost" is generated in memory at start; clients need --insecure. Wire format: \
            u32 big-endian payload length, u32 big-endian call id, payload; every frame is \
            answered with the same call id and payload. A frame longer than 16 MiB closes the \
            connection.
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0 = any free port).")
    var port = 7445

    @Option(help: "Event-loop threads (default: one per core).")
    var threads = System.coreCount

    @Flag(
        inversion: .prefixedNo,
        help: """
            Run Swift concurrency's tasks on the event loops (NIOSingletons global executor), as \
            ova-server does by default, and start each connection's task with its channel's event \
            loop as task executor preference; --no-tasks-on-event-loops keeps Swift's default \
            executor.
            """
    )
    var tasksOnEventLoops = true

    @Flag(
        inversion: .prefixedNo,
        help: "Coalesce the flush after each echo into one per event-loop turn (one TLS write for all replies ready then)."
    )
    var flushCoalescing = true

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0-65535") }
        guard self.threads >= 1, self.threads <= 256 else { throw ValidationError("--threads must be 1-256") }
    }

    func run() async throws {
        let group: MultiThreadedEventLoopGroup
        if self.tasksOnEventLoops {
            NIOSingletons.groupLoopCountSuggestion = self.threads
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                throw ValidationError("could not install NIO as the global executor")
            }
            group = .singleton
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        }

        let generated = try Self.selfSignedCertificate()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: generated.certificate, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: generated.key, format: .der))
        )
        tls.minimumTLSVersion = .tlsv13
        let sslContext = try NIOSSLContext(configuration: tls)
        let coalesce = self.flushCoalescing

        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    var handlers: [any ChannelHandler] = [NIOSSLServerHandler(context: sslContext)]
                    if coalesce { handlers.append(FlushCoalescingHandler()) }
                    handlers += [ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder())]
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        // Unbuffered, so a script reading a pipe sees it at once.
        FileHandle.standardOutput.write(Data("listening on \(server.channel.localAddress?.port ?? self.port)\n".utf8))

        let taskExecutors = self.tasksOnEventLoops
        try await server.executeThenClose { connections in
            try await withThrowingDiscardingTaskGroup { tasks in
                for try await connection in connections {
                    // One task per connection: it awaits each inbound frame and writes the echo
                    // through the async writer. A child task per message buys nothing for an echo
                    // that never suspends between read and write; it would only add a task
                    // allocation and a hop per call. With --tasks-on-event-loops the task prefers
                    // its connection's event loop as executor (see EventLoopTaskExecutor), so it
                    // runs where the channel does and handles a whole read burst per wake-up.
                    let preference = taskExecutors ? EventLoopTaskExecutor(connection.channel.eventLoop) : nil
                    tasks.addTask(executorPreference: preference) {
                        try? await connection.executeThenClose { inbound, outbound in
                            for try await frame in inbound {
                                try await outbound.write(frame)
                            }
                        }
                    }
                }
            }
        }
        if !self.tasksOnEventLoops { try await group.shutdownGracefully() }
    }

    /// A self-signed P-256 certificate for "localhost", as grpc-echo-server makes.
    static func selfSignedCertificate() throws -> (certificate: [UInt8], key: [UInt8]) {
        let privateKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName { CommonName("bare-echo-server") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-60 * 60),
            notValidAfter: now.addingTimeInterval(60 * 60 * 24 * 365),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                Critical(try ExtendedKeyUsage([.serverAuth]))
                SubjectAlternativeNames([.dnsName("localhost")])
            },
            issuerPrivateKey: privateKey
        )
        return (try certificate.serializeAsPEM().derBytes, try privateKey.serializeAsPEM().derBytes)
    }
}
