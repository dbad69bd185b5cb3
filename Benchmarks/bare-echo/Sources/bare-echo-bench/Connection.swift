import BareEchoWire
import NIOCore
import NIOPosix
import NIOSSL

struct ConnectionClosed: Error {}
struct UnexpectedReply: Error {}

/// Matches replies to calls by call id on one connection. Lives on the channel's event loop.
final class ClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private var context: ChannelHandlerContext?
    private var pending: [UInt32: EventLoopPromise<ByteBuffer>] = [:]
    private var nextID: UInt32 = 0
    private var failure: (any Error)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(ConnectionClosed())
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(ConnectionClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(error)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        if let promise = self.pending.removeValue(forKey: frame.id) {
            promise.succeed(frame.payload)
        } else {
            self.failAll(UnexpectedReply())
            context.close(promise: nil)
        }
    }

    /// Sends one call; `promise` completes with the reply's payload or the connection's failure.
    func send(_ payload: ByteBuffer, promise: EventLoopPromise<ByteBuffer>) {
        guard let context = self.context, self.failure == nil, context.channel.isActive else {
            promise.fail(self.failure ?? ConnectionClosed())
            return
        }
        self.nextID &+= 1
        self.pending[self.nextID] = promise
        context.writeAndFlush(Self.wrapOutboundOut(Frame(id: self.nextID, payload: payload)), promise: nil)
    }

    private func failAll(_ error: any Error) {
        if self.failure == nil { self.failure = error }
        let pending = self.pending
        self.pending = [:]
        for promise in pending.values { promise.fail(error) }
    }
}

/// One TLS connection; any number of tasks may have calls in flight on it.
final class Connection: Sendable {
    let channel: any Channel
    /// Workers on this connection prefer this executor with --tasks-on-event-loops.
    let taskExecutor: EventLoopTaskExecutor
    private let handler: NIOLoopBound<ClientHandler>

    private init(channel: any Channel, handler: NIOLoopBound<ClientHandler>) {
        self.channel = channel
        self.taskExecutor = EventLoopTaskExecutor(channel.eventLoop)
        self.handler = handler
    }

    /// Connects and completes the TLS handshake (with one empty call), bounded by `timeout`.
    static func connect(
        group: any EventLoopGroup,
        host: String,
        port: Int,
        sslContext: NIOSSLContext,
        flushCoalescing: Bool,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> Connection {
        // SNI takes a name, not an address.
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        let serverHostname = isAddress ? nil : host
        let (channel, handler) = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ClientHandler()
                    var handlers: [any ChannelHandler] = [try NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname)]
                    if flushCoalescing { handlers.append(FlushCoalescingHandler()) }
                    handlers += [ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), handler]
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                    return (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
        let connection = Connection(channel: channel, handler: handler)
        let guardTimer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { guardTimer.cancel() }
        do {
            _ = try await connection.call(ByteBuffer())
        } catch {
            try? await channel.close()
            throw error
        }
        return connection
    }

    func call(_ payload: ByteBuffer) async throws -> ByteBuffer {
        let loop = self.channel.eventLoop
        let promise = loop.makePromise(of: ByteBuffer.self)
        if loop.inEventLoop {
            self.handler.value.send(payload, promise: promise)
        } else {
            let handler = self.handler
            loop.execute { handler.value.send(payload, promise: promise) }
        }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await self.channel.close()
    }
}
