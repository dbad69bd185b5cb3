import NIOCore

/// Turns the flush that follows every write into one flush per event-loop turn: a flush
/// during a read burst waits for `channelReadComplete`, any other one runs once after the
/// tasks queued on the loop (so the writes of every handler task resumed in this turn leave
/// in one TLS record batch and one `write` syscall). Sits right above the TLS handler.
public final class FlushCoalescingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias OutboundIn = NIOAny

    private var inReadBurst = false
    private var flushPending = false
    private var flushScheduled = false
    private var removed = false

    public init() {}

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.removed = true
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.flushIfPending(context: context)
        context.close(mode: mode, promise: promise)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.inReadBurst = true
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        self.inReadBurst = false
        self.flushIfPending(context: context)
    }

    public func flush(context: ChannelHandlerContext) {
        self.flushPending = true
        guard !self.inReadBurst, !self.flushScheduled else { return }
        self.flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.flushScheduled = false
            handler.flushIfPending(context: context)
        }
    }

    private func flushIfPending(context: ChannelHandlerContext) {
        guard self.flushPending, !self.removed else { return }
        self.flushPending = false
        context.flush()
    }
}
