import NIOCore

/// First in a server connection's pipeline: adds what the socket reads and what is written to
/// it (TLS records, so what the network carries) to the server's byte counters.
final class ByteCountingHandler: ChannelDuplexHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let metrics: ServerMetrics

    init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.metrics.bytesReceived(self.unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.metrics.bytesSent(self.unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}
