import Logging
import NIOCore

/// Sent down a server connection's pipeline to start a graceful shutdown: GOAWAY, let the
/// accepted streams finish, then close.
struct GracefulShutdownEvent: Sendable {}

/// One OVA connection, either role: frames in, frames out, streams, flow control, limits.
///
/// All state is confined to the channel's event loop. Tasks (handlers, client calls) talk to
/// it only through ``InboundMessages`` and ``OutboundQueue`` and by scheduling closures on the
/// event loop. Frames produced while handling a read burst or a drain are coalesced into one
/// buffer and written with one flush.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let role: ConnectionRole
    let limits: ConnectionLimits
    var logger: Logger

    var context: ChannelHandlerContext?
    var eventLoop: (any EventLoop)?
    private var decoder: FrameDecoder
    /// Bytes received and not yet decoded (a partial frame). Released as soon as it is empty,
    /// so an idle connection holds no read buffer.
    private var unprocessed: ByteBuffer?

    /// The peer's settings (protocol defaults until its SETTINGS frame arrives).
    var peerSettings = Settings()
    var receivedPeerSettings = false
    private var handshakeTimer: Scheduled<Void>?
    /// Armed once while the connection is idle and left alone when calls come and go: when it
    /// fires it closes the connection if it has been idle for the whole timeout, and otherwise
    /// re-arms for what is left (or not at all while calls are open). Cancelling and
    /// rescheduling it on every call cost a promise, a closure and timer-heap work per call.
    private var idleTimer: Scheduled<Void>?
    /// When the connection last became idle (no open streams); nil while streams are open.
    private var idleSince: NIODeadline?

    // Flow control, connection level.
    var connectionSendWindow: Int
    private var connectionReceiveWindow: Int
    private var connectionPendingCredit = 0
    /// Raised while less than half the connection receive window is open.
    let creditSignal = ConnectionCreditSignal()

    var streams: [UInt32: StreamState] = [:]
    /// Highest stream id opened by the client (server role) or allocated (client role).
    var highestStreamID: UInt32 = 0
    /// Streams waiting for connection-level send window.
    private var blockedStreams: Set<UInt32> = []

    // Shutdown.
    var goAwaySent: UInt32?
    var goAwayReceived: UInt32?
    var closed = false

    // Flood protection.
    private var pingBucket: TokenBucket?
    private var resetWindowStart = NIODeadline.now()
    private var resetsInWindow = 0

    // Output coalescing.
    private var output: ByteBuffer?
    private(set) var inReadBurst = false
    private var flushScheduled = false

    // Role-specific parts.
    let server: ServerDispatcher?
    var client: ClientState?

    init(role: ConnectionRole, limits: ConnectionLimits, logger: Logger, server: ServerDispatcher?) {
        self.role = role
        self.limits = limits
        self.logger = logger
        self.server = server
        self.client = role == .client ? ClientState() : nil
        self.decoder = FrameDecoder(
            role: role,
            maxFrameSize: limits.settings.maxFrameSize,
            maxMetadataSize: limits.settings.maxMetadataSize
        )
        self.connectionSendWindow = Settings().initialConnectionWindow
        self.connectionReceiveWindow = limits.settings.initialConnectionWindow
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.eventLoop = context.eventLoop
        self.pingBucket = TokenBucket(capacity: self.limits.pingBurst, perSecond: self.limits.pingsPerSecond, now: .now())
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private var started = false

    private func start(context: ChannelHandlerContext) {
        guard !self.started else { return }
        self.started = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.handshakeTimer = context.eventLoop.scheduleTask(in: self.limits.handshakeTimeout) {
            let handler = loopBound.value
            guard !handler.receivedPeerSettings else { return }
            handler.logger.info("closing connection: handshake timed out")
            handler.closeConnection(code: .deadlineExceeded, message: "handshake timed out")
        }
        if self.role == .client {
            self.emitRaw(ConnectionPreface.bytes)
        }
        self.emit(.settings(self.limits.settings))
        self.flushNow()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.idleTimer?.cancel()
        self.idleTimer = nil
        let error = RPCError(code: .unavailable, message: "the connection was closed")
        // Queued client calls fail first, so that closing streams does not open them.
        self.client?.connectionClosed(error: error)
        for stream in Array(self.streams.values) {
            self.removeStream(stream, error: error)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS failures (plaintext on the TLS port, bad certificates) and I/O errors end the
        // connection; they never reach other connections.
        self.logger.debug("connection error: \(error)")
        self.client?.connectionClosed(error: RPCError(code: .unavailable, message: "connection failed: \(error)"))
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is GracefulShutdownEvent {
            self.beginGracefulShutdown()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.inReadBurst = true
        do {
            if var pending = self.unprocessed {
                self.unprocessed = nil  // unique, so the append does not copy
                pending.writeBuffer(&buffer)
                buffer = pending
            }
            // The decoder rejects a frame longer than MAX_FRAME_SIZE as soon as its header is
            // here, so what stays buffered is at most one frame.
            while let frame = try self.decoder.decode(buffer: &buffer) {
                try self.handle(frame)
            }
            if buffer.readableBytes > 0 {
                buffer.discardReadBytes()
                self.unprocessed = buffer
            }
        } catch let error as WireError {
            self.logger.info("closing connection: protocol error: \(error.detail)")
            self.closeConnection(code: error.statusCode, message: error.detail)
        } catch let error as ConnectionError {
            self.logger.info("closing connection: \(error.message)")
            self.closeConnection(code: error.code, message: error.message)
        } catch {
            self.logger.info("closing connection: \(error)")
            self.closeConnection(code: .internalError, message: "\(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.inReadBurst = false
        self.flushNow()
        context.fireChannelReadComplete()
    }

    /// A violation that ends the connection with GOAWAY.
    struct ConnectionError: Error {
        var code: StatusCode
        var message: String
    }

    private func handle(_ frame: Frame) throws {
        if self.closed { return }
        if !self.receivedPeerSettings {
            guard case .settings(let settings) = frame else {
                throw ConnectionError(code: .internalError, message: "the first frame must be SETTINGS")
            }
            try self.applyPeerSettings(settings)
            return
        }
        switch frame {
        case .settings:
            throw ConnectionError(code: .internalError, message: "SETTINGS may be sent only once")
        case .settingsAck:
            break
        case .requestHeaders(let streamID, let headers, let endStream):
            guard self.role == .server else {
                throw ConnectionError(code: .internalError, message: "a server may not open streams")
            }
            try self.serverReceivedHeaders(streamID: streamID, headers: headers, endStream: endStream)
        case .responseHeaders(let streamID, let metadata):
            self.client?.receivedResponseHeaders(streamID: streamID, metadata: metadata)
        case .message(let streamID, let payload, let flags):
            try self.receivedMessage(streamID: streamID, payload: payload, flags: flags)
        case .halfClose(let streamID):
            try self.receivedHalfClose(streamID: streamID)
        case .trailers(let streamID, let trailers):
            guard self.role == .client else {
                throw ConnectionError(code: .internalError, message: "a client may not send TRAILERS")
            }
            self.clientReceivedTrailers(streamID: streamID, trailers: trailers)
        case .reset(let streamID, let code):
            try self.receivedReset(streamID: streamID, code: code)
        case .windowUpdate(let streamID, let increment):
            try self.receivedWindowUpdate(streamID: streamID, increment: Int(increment))
        case .ping(let data, let ack):
            if !ack {
                guard self.pingBucket?.take(now: .now()) ?? true else {
                    throw ConnectionError(code: .resourceExhausted, message: "too many PING frames")
                }
                self.emit(.ping(data: data, ack: true))
            }
        case .goAway(let lastStreamID, let code, let message):
            self.receivedGoAway(lastStreamID: lastStreamID, code: code, message: message)
        }
    }

    private func applyPeerSettings(_ settings: Settings) throws {
        self.peerSettings = settings
        self.receivedPeerSettings = true
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.connectionSendWindow = settings.initialConnectionWindow
        self.emit(.settingsAck)
        if self.role == .server, self.streams.isEmpty {
            self.becameIdle()
        }
        self.client?.ready(handler: self)
    }

    private func receivedMessage(streamID: UInt32, payload: ByteBuffer, flags: FrameFlags) throws {
        let length = payload.readableBytes
        self.connectionReceiveWindow -= length
        guard self.connectionReceiveWindow >= 0 else {
            throw ConnectionError(code: .resourceExhausted, message: "the connection flow-control window was exceeded")
        }
        if self.connectionReceiveWindow < self.limits.settings.initialConnectionWindow / 2 {
            self.creditSignal.set(true)
        }
        guard let stream = self.streams[streamID] else {
            // A stream that already ended (reset, rejected, finished): the bytes still count
            // against the connection window, so return them at once.
            try self.checkKnownStream(streamID)
            self.creditConnection(length)
            return
        }
        stream.receiveWindow -= length
        stream.uncreditedBytes += length
        guard stream.receiveWindow >= 0 else {
            throw ConnectionError(code: .resourceExhausted, message: "stream \(streamID) exceeded its flow-control window")
        }
        if stream.remoteClosed {
            throw ConnectionError(code: .internalError, message: "MESSAGE on stream \(streamID) after its end")
        }
        let limit = self.limits.settings.maxMessageSize
        let buffered = stream.reassembly?.readableBytes ?? 0
        if buffered + length > limit {
            self.messageTooLarge(stream, size: buffered + length, limit: limit)
            return
        }
        let message: ByteBuffer
        var credit = length
        if flags.contains(.continued) {
            if stream.reassembly == nil {
                stream.reassembly = self.context?.channel.allocator.buffer(capacity: length * 2) ?? ByteBuffer()
            }
            var fragment = payload
            stream.reassembly?.writeBuffer(&fragment)
            stream.reassemblyUncredited += length
            // A message larger than what the window has left could never complete: when the
            // sender can no longer send a full frame, credit the fragments received so far.
            // What this lets through is bounded by MAX_MESSAGE_SIZE.
            if stream.receiveWindow < self.limits.settings.maxFrameSize || self.connectionReceiveWindow < self.limits.settings.maxFrameSize {
                self.returnCredit(stream, bytes: stream.reassemblyUncredited)
                stream.reassemblyUncredited = 0
            }
            return
        } else if var assembled = stream.reassembly {
            var fragment = payload
            assembled.writeBuffer(&fragment)
            stream.reassembly = nil
            message = assembled
            credit = stream.reassemblyUncredited + length
            stream.reassemblyUncredited = 0
        } else {
            message = payload
        }
        stream.inbound.append(message, credit: credit)
        if flags.contains(.endStream) {
            guard self.role == .server else {
                throw ConnectionError(code: .internalError, message: "END_STREAM from a server")
            }
            self.remoteHalfClosed(stream)
        }
    }

    private func receivedHalfClose(streamID: UInt32) throws {
        guard self.role == .server else {
            throw ConnectionError(code: .internalError, message: "HALF_CLOSE from a server")
        }
        guard let stream = self.streams[streamID] else {
            try self.checkKnownStream(streamID)
            return
        }
        self.remoteHalfClosed(stream)
    }

    private func receivedReset(streamID: UInt32, code: StatusCode) throws {
        guard streamID != 0 else { throw ConnectionError(code: .internalError, message: "RESET on stream 0") }
        let now = NIODeadline.now()
        if now - self.resetWindowStart > .seconds(10) {
            self.resetWindowStart = now
            self.resetsInWindow = 0
        }
        self.resetsInWindow += 1
        if self.resetsInWindow > self.limits.maxResetsPerTenSeconds {
            throw ConnectionError(code: .resourceExhausted, message: "too many RESET frames")
        }
        guard let stream = self.streams[streamID] else {
            try self.checkKnownStream(streamID)
            return
        }
        let error: RPCError
        switch self.role {
        case .server:
            error = RPCError(code: .cancelled, message: "the client cancelled the call")
        case .client:
            error = RPCError(code: code, message: "the server reset the stream (\(code.name))")
        }
        self.removeStream(stream, error: error)
    }

    private func receivedWindowUpdate(streamID: UInt32, increment: Int) throws {
        if streamID == 0 {
            self.connectionSendWindow += increment
            guard self.connectionSendWindow <= Settings.maxWindow else {
                throw ConnectionError(code: .internalError, message: "connection window overflow")
            }
            let blocked = self.blockedStreams
            self.blockedStreams.removeAll()
            for id in blocked.sorted() {
                if let stream = self.streams[id] { self.sendPending(stream) }
            }
        } else if let stream = self.streams[streamID] {
            stream.sendWindow += increment
            guard stream.sendWindow <= Settings.maxWindow else {
                throw ConnectionError(code: .internalError, message: "stream \(streamID) window overflow")
            }
            self.sendPending(stream)
        } else {
            try self.checkKnownStream(streamID)
        }
    }

    private func receivedGoAway(lastStreamID: UInt32, code: StatusCode, message: String) {
        self.goAwayReceived = lastStreamID
        self.logger.debug("received GOAWAY last=\(lastStreamID) code=\(code.name) \(message)")
        if self.role == .client {
            self.client?.receivedGoAway()
            let error = RPCError(code: .unavailable, message: "the server is shutting down (GOAWAY)")
            for stream in self.streams.values where stream.id > lastStreamID {
                self.removeStream(stream, error: error)
            }
        }
        self.closeIfDrained()
    }

    /// Frames for a stream id the peer never opened are a protocol error; for one that ended
    /// they are a harmless race.
    private func checkKnownStream(_ streamID: UInt32) throws {
        guard streamID != 0, streamID <= self.highestStreamID else {
            throw ConnectionError(code: .internalError, message: "frame for unknown stream \(streamID)")
        }
    }

    // MARK: - Flow control credit

    /// A task consumed `bytes` of messages on `streamID`: reopen the windows.
    func consumed(streamID: UInt32, bytes: Int) {
        guard streamID != 0, let stream = self.streams[streamID] else { return }
        self.returnCredit(stream, bytes: bytes)
        self.flushSoon()
    }

    private func returnCredit(_ stream: StreamState, bytes: Int) {
        stream.receiveWindow += bytes
        stream.uncreditedBytes -= bytes
        if !stream.remoteClosed {
            self.emit(.windowUpdate(streamID: stream.id, increment: UInt32(bytes)))
        }
        self.creditConnection(bytes)
    }

    private func creditConnection(_ bytes: Int) {
        guard bytes > 0 else { return }
        self.connectionReceiveWindow += bytes
        self.connectionPendingCredit += bytes
        if self.connectionReceiveWindow >= self.limits.settings.initialConnectionWindow / 2 {
            self.creditSignal.set(false)
        }
        if self.connectionPendingCredit >= self.limits.settings.initialConnectionWindow / 16 {
            self.emit(.windowUpdate(streamID: 0, increment: UInt32(self.connectionPendingCredit)))
            self.connectionPendingCredit = 0
        }
    }

    /// Consumed bytes a task accumulates before returning them as credit. Small next to both
    /// windows, so that many streams sharing the connection window keep it open (a WINDOW_UPDATE
    /// per 32 KiB is a negligible cost), and at most half a stream window.
    static func creditReportThreshold(_ settings: Settings) -> Int {
        max(1, min(settings.initialStreamWindow / 2, 32 * 1024))
    }

    // MARK: - Streams

    /// Creates the objects shared between the event loop and the task of a stream. The stream
    /// id is read from `cell` when the callbacks run (a client learns its id on the event loop,
    /// after these objects exist).
    static func makeStreamIO(
        cell: StreamIDCell,
        loopBound: NIOLoopBound<ConnectionHandler>,
        creditSignal: ConnectionCreditSignal,
        eventLoop: any EventLoop,
        limits: ConnectionLimits
    ) -> (InboundMessages, OutboundQueue) {
        let inbound = InboundMessages(
            reportThreshold: Self.creditReportThreshold(limits.settings),
            connectionStarved: creditSignal
        ) { bytes in
            eventLoop.execute { loopBound.value.consumed(streamID: cell.value, bytes: bytes) }
        }
        let outbound = OutboundQueue(highWatermark: limits.outboundHighWatermark) {
            if eventLoop.inEventLoop, loopBound.value.inReadBurst {
                // A handler started with Task.immediate inside this read: drain now, so its
                // frames join the read burst's one flush.
                loopBound.value.drain(streamID: cell.value)
            } else {
                eventLoop.execute { loopBound.value.drain(streamID: cell.value) }
            }
        }
        return (inbound, outbound)
    }

    func addStream(_ stream: StreamState) {
        self.streams[stream.id] = stream
        self.idleSince = nil
    }

    /// Ends a stream locally: fails its task-facing queues with `error` and forgets it.
    /// `status` is what the call ended with, for the server's access log (defaults to `error`).
    func removeStream(_ stream: StreamState, error: RPCError?, status: (StatusCode, String)? = nil) {
        guard self.streams.removeValue(forKey: stream.id) != nil else { return }
        if let server = self.server {
            let (code, message) = status ?? (error.map { ($0.code, $0.message) } ?? (.ok, ""))
            server.callEnded(stream: stream, code: code, message: message)
        }
        if let error {
            self.abandon(stream, error: error)
        } else {
            stream.deadlineTimer?.cancel()
        }
        self.blockedStreams.remove(stream.id)
        self.creditConnection(stream.uncreditedBytes)
        stream.uncreditedBytes = 0
        self.client?.streamClosed(handler: self)
        if self.streams.isEmpty {
            self.becameIdle()
            self.closeIfDrained()
        }
    }

    private func abandon(_ stream: StreamState, error: RPCError) {
        stream.deadlineTimer?.cancel()
        stream.inbound.fail(error)
        stream.outbound.close(error)
        stream.handlerTask?.cancel()
        stream.pendingStart = nil
    }

    func remoteHalfClosed(_ stream: StreamState) {
        guard !stream.remoteClosed else { return }
        stream.remoteClosed = true
        if stream.reassembly != nil {
            stream.reassembly = nil
            self.endStreamWithError(stream, RPCError(code: .invalidArgument, message: "half-closed in the middle of a message"))
            return
        }
        stream.inbound.finish()
        if let start = stream.pendingStart {
            stream.pendingStart = nil
            start()
        }
    }

    private func messageTooLarge(_ stream: StreamState, size: Int, limit: Int) {
        stream.reassembly = nil
        let error = RPCError(
            code: .resourceExhausted,
            message: "message of at least \(size) bytes exceeds the limit of \(limit) bytes"
        )
        self.endStreamWithError(stream, error)
    }

    /// Ends a stream because of an error found by the event loop (limit, deadline): the server
    /// sends TRAILERS, the client sends RESET. Other streams are unaffected.
    func endStreamWithError(_ stream: StreamState, _ error: RPCError) {
        switch self.role {
        case .server:
            self.emit(.trailers(streamID: stream.id, Trailers(code: error.code, message: error.message)))
        case .client:
            self.emit(.reset(streamID: stream.id, code: .cancelled))
        }
        self.removeStream(stream, error: error)
        self.flushSoon()
    }

    /// Ends the stream with DEADLINE_EXCEEDED at `deadline` unless it ends before.
    func scheduleDeadline(_ deadline: NIODeadline, for stream: StreamState) {
        guard let eventLoop = self.eventLoop else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        let streamID = stream.id
        stream.deadlineTimer = eventLoop.scheduleTask(deadline: deadline) {
            let handler = loopBound.value
            guard let stream = handler.streams[streamID] else { return }
            handler.endStreamWithError(stream, RPCError(code: .deadlineExceeded, message: "the deadline expired"))
        }
    }

    // MARK: - Writing

    /// Takes what the stream's task queued and sends as much as flow control allows.
    func drain(streamID: UInt32) {
        guard streamID != 0, let stream = self.streams[streamID] else { return }
        stream.sendQueue.append(contentsOf: stream.outbound.takeAll())
        self.sendPending(stream)
        self.flushSoon()
    }

    /// Sends the stream's queued items in order until one does not fit the windows.
    func sendPending(_ stream: StreamState) {
        while let item = stream.sendQueue.first {
            switch item {
            case .headers(let metadata):
                self.emit(.responseHeaders(streamID: stream.id, metadata))
            case .message(let buffer, let endStream):
                guard self.sendMessage(buffer, endStream: endStream, on: stream) else { return }
            case .halfClose:
                self.emit(.halfClose(streamID: stream.id))
            case .trailers(let trailers):
                self.emit(.trailers(streamID: stream.id, trailers))
                stream.sendQueue.removeAll()
                self.removeStream(stream, error: nil, status: (trailers.code, trailers.message))
                return
            }
            stream.sendQueue.removeFirst()
        }
    }

    /// Sends (the rest of) one message, fragmented to the peer's frame size. Returns false when
    /// a window ran out before the end; the rest goes when the peer returns credit.
    private func sendMessage(_ buffer: ByteBuffer, endStream: Bool, on stream: StreamState) -> Bool {
        let payloadStart = buffer.readerIndex + FrameHeader.size
        let size = buffer.writerIndex - payloadStart
        let maxFrame = self.peerSettings.maxFrameSize

        // Fast path: the whole message in one frame. The header goes straight into the
        // coalescing buffer and the payload after it: framing the queued buffer in place would
        // copy it (the send queue still holds a reference, so the write is copy-on-write).
        if stream.headSentBytes == 0, size <= maxFrame, size <= stream.sendWindow, size <= self.connectionSendWindow {
            var payload = buffer
            payload.moveReaderIndex(forwardBy: FrameHeader.size)
            self.emitMessageFrame(streamID: stream.id, flags: endStream ? .endStream : [], payload: payload)
            stream.sendWindow -= size
            self.connectionSendWindow -= size
            stream.outbound.sent(bytes: size)
            return true
        }

        while stream.headSentBytes < size || (size == 0 && stream.headSentBytes == 0) {
            let remaining = size - stream.headSentBytes
            let room = min(maxFrame, stream.sendWindow, self.connectionSendWindow)
            if remaining > 0 && room <= 0 {
                if self.connectionSendWindow <= 0 { self.blockedStreams.insert(stream.id) }
                return false
            }
            let chunk = min(remaining, room)
            let last = chunk == remaining
            var flags: FrameFlags = last ? [] : .continued
            if last && endStream { flags.insert(.endStream) }
            guard let slice = buffer.getSlice(at: payloadStart + stream.headSentBytes, length: chunk) else { return false }
            self.emitMessageFrame(streamID: stream.id, flags: flags, payload: slice)
            stream.sendWindow -= chunk
            self.connectionSendWindow -= chunk
            stream.headSentBytes += chunk
            if size == 0 { break }
        }
        stream.headSentBytes = 0
        stream.outbound.sent(bytes: size)
        return true
    }

    /// Runs `body` on the coalescing buffer, allocating it (at least `capacity` bytes) on first use.
    private func appendToOutput(capacity: Int = 1024, _ body: (inout ByteBuffer) -> Void) {
        if self.output == nil {
            let allocator = self.context?.channel.allocator ?? ByteBufferAllocator()
            self.output = allocator.buffer(capacity: max(1024, capacity))
        }
        body(&self.output!)
    }

    /// Encodes a frame into the coalescing buffer.
    func emit(_ frame: Frame) {
        guard !self.closed else { return }
        self.appendToOutput { FrameEncoder.encode(frame, into: &$0) }
    }

    /// Appends one MESSAGE frame: the header and small payloads are copied into the coalescing
    /// buffer; a large payload is written as it is (a slice, no copy) after what was coalesced.
    private func emitMessageFrame(streamID: UInt32, flags: FrameFlags, payload: ByteBuffer) {
        guard !self.closed else { return }
        let length = payload.readableBytes
        let copy = length <= Self.copyLimit
        self.appendToOutput(capacity: copy ? length + FrameHeader.size : FrameHeader.size) { output in
            FrameEncoder.writeHeader(length: length, type: .message, flags: flags, streamID: streamID, into: &output)
            if copy {
                var payload = payload
                output.writeBuffer(&payload)
            }
        }
        if !copy, let context = self.context, let pending = self.output {
            self.output = nil
            context.write(self.wrapOutboundOut(pending), promise: nil)
            context.write(self.wrapOutboundOut(payload), promise: nil)
            self.needsFlush = true
        }
    }

    /// Payloads up to this size are copied into the coalescing buffer; larger ones are written
    /// as they are.
    static let copyLimit = 16 * 1024

    private func emitRaw(_ bytes: [UInt8]) {
        self.appendToOutput { $0.writeBytes(bytes) }
    }

    private var needsFlush = false

    /// Flushes once the current event-loop turn's work is done: during a read burst
    /// `channelReadComplete` flushes; otherwise one flush task runs after every drain that is
    /// already queued, so a burst of handler writes on many streams becomes one TLS write.
    func flushSoon() {
        guard !self.inReadBurst, !self.flushScheduled, let eventLoop = self.eventLoop else { return }
        self.flushScheduled = true
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute {
            let handler = loopBound.value
            handler.flushScheduled = false
            handler.flushNow()
        }
    }

    func flushNow() {
        guard let context = self.context else { return }
        if let output = self.output, output.readableBytes > 0 {
            self.output = nil
            context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
            self.needsFlush = false
        } else if self.needsFlush {
            self.needsFlush = false
            context.flush()
        }
    }

    // MARK: - Shutdown

    /// Sends GOAWAY and closes.
    func closeConnection(code: StatusCode, message: String) {
        guard !self.closed, let context = self.context else { return }
        self.emit(.goAway(lastStreamID: self.highestStreamID, code: code, debugMessage: message))
        self.flushNow()
        self.closed = true
        context.close(promise: nil)
    }

    /// GOAWAY(OK) with the last accepted stream; streams in progress finish, then the
    /// connection closes.
    func beginGracefulShutdown() {
        guard self.goAwaySent == nil, !self.closed else { return }
        self.goAwaySent = self.highestStreamID
        self.emit(.goAway(lastStreamID: self.highestStreamID, code: .ok, debugMessage: "server shutting down"))
        self.flushNow()
        self.closeIfDrained()
    }

    private func closeIfDrained() {
        guard !self.closed, self.streams.isEmpty, self.goAwaySent != nil || self.goAwayReceived != nil else { return }
        if self.role == .client, self.goAwaySent == nil, self.client?.hasWaiters == true { return }
        self.flushNow()
        self.closed = true
        self.context?.close(promise: nil)
    }

    /// Records that the last stream closed and makes sure the idle timer is armed.
    private func becameIdle() {
        guard self.role == .server, !self.closed, let timeout = self.limits.idleTimeout else { return }
        let now = NIODeadline.now()
        self.idleSince = now
        if self.idleTimer == nil {
            self.armIdleTimer(at: now + timeout)
        }
    }

    private func armIdleTimer(at deadline: NIODeadline) {
        guard let eventLoop = self.eventLoop else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        self.idleTimer = eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        self.idleTimer = nil
        // Streams open: re-armed when the last one closes.
        guard !self.closed, self.streams.isEmpty, let idleSince = self.idleSince, let timeout = self.limits.idleTimeout else { return }
        let deadline = idleSince + timeout
        if NIODeadline.now() < deadline {
            self.armIdleTimer(at: deadline)
            return
        }
        self.logger.debug("closing idle connection")
        self.closeConnection(code: .ok, message: "idle timeout")
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
