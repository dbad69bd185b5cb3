import NIOCore
import NIOPosix
import NIOSSL
import OvaWire

/// A bare connection that writes arbitrary bytes and reads frames: for protocol tests the
/// typed client would refuse to produce (garbage, oversize, truncation).
///
/// Used by one test task at a time, hence the unchecked Sendable.
final class RawConnection: @unchecked Sendable {
    let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private var decoder = FrameDecoder(role: .client)

    private init(channel: any Channel, inbound: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.iterator = inbound.makeAsyncIterator()
    }

    /// Connects to 127.0.0.1:`port`, over TLS unless `plaintext`, offering `alpn`.
    static func connect(port: Int, plaintext: Bool = false, alpn: [String] = ["ova/1"]) async throws -> RawConnection {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let tls = plaintext ? nil : try NIOSSLContext(configuration: {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            configuration.applicationProtocols = alpn
            return configuration
        }())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                do {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, inbound: stream)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ frames: [Frame], preface: Bool = false) async throws {
        var buffer = ByteBuffer()
        if preface { buffer.writeBytes(ConnectionPreface.bytes) }
        for frame in frames { FrameEncoder.encode(frame, into: &buffer) }
        try await self.channel.writeAndFlush(buffer)
    }

    /// The next frame from the server, or nil when the connection closed first.
    func nextFrame() async throws -> Frame? {
        while true {
            if let frame = try self.decoder.decode(buffer: &self.buffer) {
                return frame
            }
            guard var chunk = await self.iterator.next() else { return nil }
            self.buffer.writeBuffer(&chunk)
        }
    }

    /// The next chunk of raw bytes (for connections that do not speak frames back).
    func nextRawChunk() async throws -> ByteBuffer? {
        await self.iterator.next()
    }

    /// Reads frames until one matches, skipping others; nil if the connection closed first.
    func nextFrame(where predicate: (Frame) -> Bool) async throws -> Frame? {
        while let frame = try await self.nextFrame() {
            if predicate(frame) { return frame }
        }
        return nil
    }

    /// Reads until the server closes the connection; returns the frames seen.
    func readUntilClosed() async throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try await self.nextFrame() {
            frames.append(frame)
        }
        return frames
    }

    func close() async {
        try? await self.channel.close()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation

        init(continuation: AsyncStream<ByteBuffer>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.continuation.yield(self.unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
