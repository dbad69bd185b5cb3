import NIOCore
import NIOPosix
import NIOSSL

/// Loopback peers that are not OVA servers, for the CLI's connection-failure messages.
enum LoopbackPeers {
    /// A plain TCP listener that answers whatever it reads with an HTTP error and closes, as a
    /// web server on the wrong port does.
    static func withHTTPListener(_ body: (Int) async throws -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HTTPErrorReply()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        try await self.serve(channel, body)
    }

    /// A TLS server with `certificate` on `host` that selects no ALPN protocol for a client
    /// offering only `ova/1` (it speaks `h2`), and then says nothing.
    static func withTLSServer(host: String, certificate: String, key: String, _ body: (Int) async throws -> Void) async throws {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        configuration.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
            }
            .bind(host: host, port: 0).get()
        try await self.serve(channel, body)
    }

    /// A port on which nothing listens: bound, then closed.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    private static func serve(_ channel: any Channel, _ body: (Int) async throws -> Void) async throws {
        do {
            try await body(channel.localAddress?.port ?? 0)
        } catch {
            try? await channel.close()
            throw error
        }
        try await channel.close()
    }
}

private final class HTTPErrorReply: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
        context.close(promise: nil)
    }
}
