import Logging
import NIOCore
import NIOTLS

/// Sent down a server connection's pipeline to start a graceful shutdown: GOAWAY, let the
/// accepted streams finish, then close.
struct GracefulShutdownEvent: Sendable {}

/// One OVA connection, either role: frames in, frames out, streams, flow control, limits.
///
/// The rules live in value types this handler drives: ``ConnectionStateMachine`` (SETTINGS
/// first, GOAWAY draining, idle and handshake timeouts), ``FloodGuard`` (PING, control-frame
/// and rapid-reset budgets), ``FlowControlPolicy`` (when to fragment, when to credit) and
/// ``FrameOutput`` (coalescing). Time is the event loop's (`eventLoop.now`), so tests drive it
/// with an `EmbeddedEventLoop`.
///
/// All state is confined to the channel's event loop. Tasks (handlers, client calls) talk to
/// it only through ``InboundMessages`` and ``OutboundQueue`` and by scheduling closures on the
/// event loop. Frames produced while handling a read burst or a drain are coalesced into one
/// buffer and written with one flush. While the channel is not writable nothing more is taken
/// from the streams' queues, so their writers suspend (``ConnectionWriteBudget``).
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which side this is, with what only that side has.
    enum Role {
        case server(ServerDispatcher)
        case client(ClientState)
    }

    let role: Role
    let limits: ConnectionLimits
    var logger: Logger
    /// Shared with the tasks of this connection's streams.
    let shared: ConnectionSharedState

    var context: ChannelHandlerContext?
    var eventLoop: (any EventLoop)?
    private var decoder: FrameDecoder
    /// Bytes received and not yet decoded (a partial frame). Released as soon as it is empty,
    /// so an idle connection holds no read buffer.
    private var unprocessed: ByteBuffer?

    private(set) var lifecycle = ConnectionStateMachine()
    /// The ALPN protocol a server requires; the handler starts only once TLS negotiated it.
    private let requiredApplicationProtocol: String?
    private var started = false

    /// The peer's settings (protocol defaults until its SETTINGS frame arrives).
    var peerSettings = Settings()
    private var handshakeTimer: Scheduled<Void>?
    /// Armed once while the connection is idle and left alone when calls come and go: when it
    /// fires it closes the connection if it has been idle for the whole timeout, and otherwise
    /// re-arms for what is left. Cancelling and rescheduling it on every call cost a promise, a
    /// closure and timer-heap work per call.
    private var idleTimer: Scheduled<Void>?
    /// Armed while the socket is not writable (`writeStallTimeout`).
    private var writeStallTimer: Scheduled<Void>?
    /// Server side: fires at this connection's age limit (`maxConnectionAge`, jittered).
    private var maxAgeTimer: Scheduled<Void>?
    /// Server side: closes the connection once the grace after the age GOAWAY is over.
    private var maxAgeGraceTimer: Scheduled<Void>?
    /// Where in the ±10 % spread this connection's age limit falls (-1...1).
    private let ageJitterUnit: () -> Double
    /// The age limit passed before the handshake ended: the GOAWAY follows the SETTINGS.
    private var maxAgeReachedDuringHandshake = false

    // Flow control, connection level.
    var connectionSendWindow: Int
    private var connectionReceiveWindow: Int
    private var connectionPendingCredit = 0
    /// T of §9 for what we receive (our settings) and what we send (the peer's).
    private let receiveFragmentThreshold: Int
    private var sendFragmentThreshold: Int

    var streams: [UInt32: StreamState] = [:]
    /// Highest stream id opened by the client (server role) or allocated (client role).
    var highestStreamID: UInt32 = 0
    /// Streams waiting for connection-level send window.
    private var blockedStreams: Set<UInt32> = []
    /// Streams with items left to send once the channel is writable again.
    private var parkedStreams: Set<UInt32> = []
    /// Mirrors the channel's writability (updated by `channelWritabilityChanged`).
    private(set) var isWritable = true

    private var floodGuard: FloodGuard?
    private var skippedFramesSeen = 0
    private var settingsAcksReceived = 0

    private var output = FrameOutput()
    private(set) var inReadBurst = false
    private var flushScheduled = false

    /// - Parameter requiredApplicationProtocol: for a server behind TLS, the ALPN protocol the
    ///   client must have negotiated; the connection starts (sends SETTINGS) only after the TLS
    ///   handshake, and is closed without a frame if the protocol differs (docs/PROTOCOL.md §2).
    /// - Parameter ageJitterUnit: a value in -1...1 placing this connection's age limit within
    ///   ±10 % of `maxConnectionAge` (random unless a test chooses it).
    init(
        role: Role,
        limits: ConnectionLimits,
        logger: Logger,
        requiredApplicationProtocol: String? = nil,
        ageJitterUnit: @escaping () -> Double = ConnectionAgeLimit.randomUnit
    ) {
        self.role = role
        self.ageJitterUnit = ageJitterUnit
        if case .server = role { self.isServer = true } else { self.isServer = false }
        self.limits = limits
        self.logger = logger
        self.requiredApplicationProtocol = requiredApplicationProtocol
        let metrics: ServerMetrics?
        if case .server(let dispatcher) = role { metrics = dispatcher.metrics } else { metrics = nil }
        self.shared = ConnectionSharedState(writeBudget: ConnectionWriteBudget(limit: limits.maxConnectionBuffer, metrics: metrics))
        self.decoder = FrameDecoder(
            role: role.wireRole,
            maxFrameSize: limits.settings.maxFrameSize,
            maxMetadataSize: limits.settings.maxMetadataSize
        )
        self.connectionSendWindow = Settings().initialConnectionWindow
        self.connectionReceiveWindow = limits.settings.initialConnectionWindow
        self.receiveFragmentThreshold = FlowControlPolicy.fragmentThreshold(limits.settings)
        self.sendFragmentThreshold = FlowControlPolicy.fragmentThreshold(Settings())
    }

    var server: ServerDispatcher? {
        if case .server(let dispatcher) = self.role { return dispatcher }
        return nil
    }

    var client: ClientState? {
        if case .client(let state) = self.role { return state }
        return nil
    }

    /// Read on every frame: stored, not matched against `role` each time.
    let isServer: Bool

    var now: NIODeadline { self.eventLoop?.now ?? .now() }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.eventLoop = context.eventLoop
        self.floodGuard = FloodGuard(limits: self.limits, now: context.eventLoop.now)
        if context.channel.isActive {
            self.channelBecameActive(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.channelBecameActive(context: context)
        context.fireChannelActive()
    }

    private var handshakeTimerArmed = false

    private func channelBecameActive(context: ChannelHandlerContext) {
        guard !self.handshakeTimerArmed else { return }
        self.handshakeTimerArmed = true
        self.isWritable = context.channel.isWritable
        // The handshake timeout covers TLS, the preface and SETTINGS: it starts with the TCP
        // connection.
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.handshakeTimer = context.eventLoop.scheduleTask(in: self.limits.handshakeTimeout) {
            let handler = loopBound.value
            guard handler.lifecycle.handshakeTimedOut() else { return }
            handler.logger.info("closing connection: handshake timed out")
            handler.closeConnection(code: .deadlineExceeded, message: "handshake timed out")
        }
        self.armMaxAgeTimer(context: context)
        if self.requiredApplicationProtocol == nil {
            self.start(context: context)
        }
    }

    /// Sends what this side sends first: the preface (client) and SETTINGS.
    private func start(context: ChannelHandlerContext) {
        guard !self.started, !self.lifecycle.isClosed else { return }
        self.started = true
        if case .client = self.role {
            self.output.appendRaw(ConnectionPreface.bytes, allocator: context.channel.allocator)
        }
        self.emit(.settings(self.limits.settings))
        self.flushNow()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is GracefulShutdownEvent {
            self.beginGracefulShutdown()
        } else if let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls,
                  let required = self.requiredApplicationProtocol {
            guard negotiated == required else {
                // A peer that did not negotiate OVA/1 is not spoken to at all (§2): no SETTINGS,
                // no GOAWAY, whatever it offered instead (h2, http/1.1, or no ALPN).
                self.logger.info("closing connection: ALPN \(negotiated.map { "\"\($0)\"" } ?? "none") instead of \"\(required)\"")
                self.lifecycle.closed()
                context.close(promise: nil)
                return
            }
            self.start(context: context)
            context.fireUserInboundEventTriggered(event)
        } else if let client = self.client, let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls,
                  negotiated != RPCServer.applicationProtocol {
            // A peer that did not select ova/1 is not an OVA/1 server (§2): say so now rather
            // than wait for SETTINGS that will not come.
            let evidence = "TLS negotiated \(negotiated.map { "ALPN \($0)" } ?? "no ALPN protocol") instead of \(RPCServer.applicationProtocol)"
            client.connectionClosed(error: RPCError(
                code: .unavailable, message: evidence, cause: ClosedBeforeSettings(evidence: evidence)
            ))
            self.lifecycle.closed()
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.lifecycle.closed()
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.idleTimer?.cancel()
        self.idleTimer = nil
        self.writeStallTimer?.cancel()
        self.writeStallTimer = nil
        self.maxAgeTimer?.cancel()
        self.maxAgeTimer = nil
        self.maxAgeGraceTimer?.cancel()
        self.maxAgeGraceTimer = nil
        self.output.discard()
        let error = RPCError(code: .unavailable, message: "the connection was closed")
        // Queued client calls fail first, so that closing streams does not open them.
        self.client?.connectionClosed(error: error)
        // Handlers are cancelled at once and their queues dropped: a peer that vanished must
        // not keep memory or CPU busy.
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
        self.client?.connectionClosed(error: RPCError(code: .unavailable, message: "connection failed: \(error)", cause: error))
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.isWritable = context.channel.isWritable
        if self.isWritable {
            self.writeStallTimer?.cancel()
            self.writeStallTimer = nil
            self.resumeParkedStreams()
        } else {
            self.armWriteStallTimer(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// A peer that reads nothing for `writeStallTimeout` is dropped: its calls would otherwise
    /// hold their memory (the connection buffer, the message each handler is blocked on) for
    /// as long as it keeps the TCP connection open.
    private func armWriteStallTimer(context: ChannelHandlerContext) {
        guard self.writeStallTimer == nil, let timeout = self.limits.writeStallTimeout else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.writeStallTimer = context.eventLoop.scheduleTask(in: timeout) {
            let handler = loopBound.value
            handler.writeStallTimer = nil
            guard !handler.isWritable, !handler.lifecycle.isClosed, let context = handler.context else { return }
            handler.logger.info("closing connection: the peer has read nothing for \(timeout.nanoseconds / 1_000_000_000) s")
            // No GOAWAY: the peer does not read, so nothing more can reach it.
            handler.lifecycle.closed()
            context.close(promise: nil)
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
            // Once per read, not per frame: the decoder skips a run of unknown frames inside
            // one call, so a flood is seen here within the read that carried it.
            try self.admitSkippedFrames()
            if buffer.readableBytes > 0 {
                buffer.discardReadBytes()
                self.unprocessed = buffer
            }
        } catch let error as WireError {
            self.logger.info("closing connection: protocol error: \(error.detail)")
            self.closeConnection(code: error.statusCode, message: error.detail)
        } catch let error as ConnectionViolation {
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

    /// Unknown frame types the decoder skipped count as control frames.
    private func admitSkippedFrames() throws(ConnectionViolation) {
        let skipped = self.decoder.skippedUnknownFrames - self.skippedFramesSeen
        guard skipped > 0 else { return }
        self.skippedFramesSeen = self.decoder.skippedUnknownFrames
        try self.floodGuard?.admitControlFrames(skipped, now: self.now)
    }

    private func handle(_ frame: Frame) throws {
        if self.lifecycle.isClosed { return }
        if case .settings(let settings) = frame {
            try self.lifecycle.receivedSettings(now: self.now)
            try self.applyPeerSettings(settings)
            return
        }
        try self.lifecycle.checkFrameAllowed()
        switch frame {
        case .settings:
            break  // handled above
        case .settingsAck:
            self.settingsAcksReceived += 1
            if self.settingsAcksReceived > 1 {
                try self.floodGuard?.admitControlFrames(now: self.now)
            }
        case .requestHeaders(let streamID, let headers, let endStream):
            guard self.isServer else {
                throw ConnectionViolation(code: .internalError, message: "a server may not open streams")
            }
            try self.serverReceivedHeaders(streamID: streamID, headers: headers, endStream: endStream)
        case .responseHeaders(let streamID, let metadata):
            self.client?.receivedResponseHeaders(streamID: streamID, metadata: metadata, handler: self)
        case .message(let streamID, let payload, let flags):
            try self.receivedMessage(streamID: streamID, payload: payload, flags: flags)
        case .halfClose(let streamID):
            try self.receivedHalfClose(streamID: streamID)
        case .trailers(let streamID, let trailers):
            guard !self.isServer else {
                throw ConnectionViolation(code: .internalError, message: "a client may not send TRAILERS")
            }
            self.clientReceivedTrailers(streamID: streamID, trailers: trailers)
        case .reset(let streamID, let code):
            try self.receivedReset(streamID: streamID, code: code)
        case .windowUpdate(let streamID, let increment):
            try self.receivedWindowUpdate(streamID: streamID, increment: Int(increment))
        case .ping(let data, let ack):
            if ack {
                try self.floodGuard?.admitControlFrames(now: self.now)
            } else {
                try self.floodGuard?.admitPing(now: self.now)
                self.emit(.ping(data: data, ack: true))
            }
        case .goAway(let lastStreamID, let code, let message):
            self.receivedGoAway(lastStreamID: lastStreamID, code: code, message: message)
        }
    }

    private func applyPeerSettings(_ settings: Settings) throws {
        self.peerSettings = settings
        self.sendFragmentThreshold = FlowControlPolicy.fragmentThreshold(settings)
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.connectionSendWindow = settings.initialConnectionWindow
        self.emit(.settingsAck)
        if self.isServer, self.streams.isEmpty {
            self.armIdleTimerIfNeeded()
        }
        if self.maxAgeReachedDuringHandshake {
            self.maxAgeReachedDuringHandshake = false
            self.maxAgeReached()
        }
        self.client?.ready(handler: self)
    }

    private func receivedMessage(streamID: UInt32, payload: ByteBuffer, flags: FrameFlags) throws {
        let length = payload.readableBytes
        self.connectionReceiveWindow -= length
        guard self.connectionReceiveWindow >= 0 else {
            throw ConnectionViolation(code: .resourceExhausted, message: "the connection flow-control window was exceeded")
        }
        if self.connectionReceiveWindow < self.limits.settings.initialConnectionWindow / 2 {
            self.shared.creditSignal.set(true)
        }
        guard let stream = self.streams[streamID] else {
            // A stream that already ended (reset, rejected, finished) or an id the client
            // skipped: the bytes still count against the connection window, so return them.
            try self.checkKnownStream(streamID)
            self.creditConnection(length)
            return
        }
        stream.receiveWindow -= length
        stream.uncreditedBytes += length
        guard stream.receiveWindow >= 0 else {
            throw ConnectionViolation(code: .resourceExhausted, message: "stream \(streamID) exceeded its flow-control window")
        }
        if stream.remoteClosed {
            throw ConnectionViolation(code: .internalError, message: "MESSAGE on stream \(streamID) after its end")
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
            self.creditFragmentsIfStalled(stream)
            return
        } else if var assembled = stream.reassembly {
            var fragment = payload
            assembled.writeBuffer(&fragment)
            stream.reassembly = nil
            stream.fragmentCreditDeferred = false
            message = assembled
            credit = stream.reassemblyUncredited + length
            stream.reassemblyUncredited = 0
        } else {
            message = payload
        }
        stream.inbound.append(message, credit: credit)
        if flags.contains(.endStream) {
            guard self.isServer else {
                throw ConnectionViolation(code: .internalError, message: "END_STREAM from a server")
            }
            try self.remoteHalfClosed(stream)
        }
    }

    /// §9: the fragments of a message under reassembly are credited when the sender could not
    /// send another fragment of at least T (the window left is below T) — so a message larger
    /// than the window completes — but never while a complete message of the stream waits to
    /// be read, so an unread stream receives at most its window.
    private func creditFragmentsIfStalled(_ stream: StreamState) {
        guard stream.reassemblyUncredited > 0,
              stream.receiveWindow < self.receiveFragmentThreshold
                || self.connectionReceiveWindow < self.receiveFragmentThreshold
        else { return }
        if stream.inbound.deferFragmentCredit() {
            // Credited when the consumer has taken the waiting messages (`consumed`).
            stream.fragmentCreditDeferred = true
            return
        }
        stream.fragmentCreditDeferred = false
        self.returnCredit(stream, bytes: stream.reassemblyUncredited)
        stream.reassemblyUncredited = 0
    }

    private func receivedHalfClose(streamID: UInt32) throws {
        guard self.isServer else {
            throw ConnectionViolation(code: .internalError, message: "HALF_CLOSE from a server")
        }
        guard let stream = self.streams[streamID] else {
            try self.checkKnownStream(streamID)
            return
        }
        try self.remoteHalfClosed(stream)
    }

    private func receivedReset(streamID: UInt32, code: StatusCode) throws {
        guard streamID != 0 else { throw ConnectionViolation(code: .internalError, message: "RESET on stream 0") }
        guard let stream = self.streams[streamID] else {
            // Racing the stream's end, or for a stream that is long gone: costs a lookup.
            try self.checkKnownStream(streamID)
            try self.floodGuard?.admitControlFrames(now: self.now)
            return
        }
        let error: RPCError
        switch self.role {
        case .server:
            let now = self.now
            if stream.handlerTask != nil,
               !FloodGuard.isDeadlineCancellation(openedAt: stream.openedAt, deadline: stream.deadline, now: now) {
                try self.floodGuard?.admitCancellation(now: now)
            }
            error = RPCError(code: .cancelled, message: "the client cancelled the call")
        case .client:
            error = RPCError(code: code, message: "the server reset the stream (\(code.name))")
        }
        self.removeStream(stream, error: error)
    }

    private func receivedWindowUpdate(streamID: UInt32, increment: Int) throws {
        if increment < FloodGuard.smallWindowUpdate {
            try self.floodGuard?.admitControlFrames(now: self.now)
        }
        if streamID == 0 {
            self.connectionSendWindow += increment
            guard self.connectionSendWindow <= Settings.maxWindow else {
                throw ConnectionViolation(code: .internalError, message: "connection window overflow")
            }
            let blocked = self.blockedStreams
            self.blockedStreams.removeAll()
            for id in blocked.sorted() {
                if let stream = self.streams[id] { self.sendPending(stream) }
            }
        } else if let stream = self.streams[streamID] {
            stream.sendWindow += increment
            guard stream.sendWindow <= Settings.maxWindow else {
                throw ConnectionViolation(code: .internalError, message: "stream \(streamID) window overflow")
            }
            self.sendPending(stream)
        } else {
            try self.checkKnownStream(streamID)
        }
    }

    private func receivedGoAway(lastStreamID: UInt32, code: StatusCode, message: String) {
        self.lifecycle.receivedGoAway(lastStreamID: lastStreamID)
        self.logger.debug("received GOAWAY last=\(lastStreamID) code=\(code.name) \(message)")
        if let client = self.client {
            client.receivedGoAway()
            // Streams above the last id were not processed (§14): safe to send again.
            let error = RPCError(code: .unavailable, message: "the server is shutting down (GOAWAY)", cause: CallNotStarted())
            for stream in self.streams.values where stream.id > lastStreamID {
                self.removeStream(stream, error: error)
            }
        }
        self.closeIfDrained()
    }

    /// Frames for a stream id above any the client opened are a protocol error; ids at or
    /// below the highest opened belong to streams that ended or that the client skipped, and
    /// are ignored (§8.1).
    private func checkKnownStream(_ streamID: UInt32) throws {
        guard streamID != 0, streamID <= self.highestStreamID else {
            throw ConnectionViolation(code: .internalError, message: "frame for unknown stream \(streamID)")
        }
    }

    // MARK: - Flow control credit

    /// A task consumed `bytes` of messages on `streamID`: reopen the windows, and credit the
    /// fragments held back while messages were waiting.
    func consumed(streamID: UInt32, bytes: Int) {
        guard streamID != 0, let stream = self.streams[streamID] else { return }
        self.returnCredit(stream, bytes: bytes)
        if stream.fragmentCreditDeferred {
            stream.fragmentCreditDeferred = false
            self.creditFragmentsIfStalled(stream)
        }
        self.flushSoon()
    }

    private func returnCredit(_ stream: StreamState, bytes: Int) {
        guard bytes > 0 else { return }
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
            self.shared.creditSignal.set(false)
        }
        if self.connectionPendingCredit >= self.limits.settings.initialConnectionWindow / 16 {
            self.emit(.windowUpdate(streamID: 0, increment: UInt32(self.connectionPendingCredit)))
            self.connectionPendingCredit = 0
        }
    }

    // MARK: - Streams

    /// Creates the objects shared between the event loop and the task of a stream. The stream
    /// id is read from `cell` when the callbacks run (a client learns its id on the event loop,
    /// after these objects exist).
    static func makeStreamIO(
        cell: StreamIDCell,
        loopBound: NIOLoopBound<ConnectionHandler>,
        shared: ConnectionSharedState,
        eventLoop: any EventLoop,
        limits: ConnectionLimits
    ) -> (InboundMessages, OutboundQueue) {
        let inbound = InboundMessages(
            reportThreshold: FlowControlPolicy.creditReportThreshold(limits.settings),
            connectionStarved: shared.creditSignal
        ) { bytes in
            eventLoop.execute { loopBound.value.consumed(streamID: cell.value, bytes: bytes) }
        }
        let outbound = OutboundQueue(highWatermark: limits.outboundHighWatermark, budget: shared.writeBudget) {
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
        self.lifecycle.streamOpened()
    }

    /// Ends a stream locally: fails its task-facing queues with `error` and forgets it.
    /// `status` is what the call ended with, for the server's access log (defaults to `error`).
    func removeStream(_ stream: StreamState, error: RPCError?, status: (StatusCode, String)? = nil) {
        guard self.streams.removeValue(forKey: stream.id) != nil else { return }
        if case .server(let server) = self.role {
            let (code, message) = status ?? (error.map { ($0.code, $0.message) } ?? (.ok, ""))
            server.callEnded(stream: stream, code: code, message: message, now: self.now)
        }
        stream.deadlineTimer?.cancel()
        if let error {
            stream.inbound.fail(error)
            stream.handlerTask?.cancel()
            stream.pendingStart = nil
            // Whatever the stream's task still had queued leaves the connection's budget. (A
            // stream that ended with its trailers sent everything it queued.)
            stream.outbound.close(error)
        }
        if !self.blockedStreams.isEmpty { self.blockedStreams.remove(stream.id) }
        if !self.parkedStreams.isEmpty { self.parkedStreams.remove(stream.id) }
        self.creditConnection(stream.uncreditedBytes)
        stream.uncreditedBytes = 0
        self.client?.streamClosed(handler: self)
        if self.streams.isEmpty {
            if self.lifecycle.streamsBecameEmpty(now: self.now, hasWaitingOpens: self.client?.hasWaiters ?? false) {
                self.closeAfterDraining()
            } else {
                self.armIdleTimerIfNeeded()
            }
        }
    }

    func remoteHalfClosed(_ stream: StreamState) throws {
        guard !stream.remoteClosed else {
            // §6.4: the client already half-closed this stream.
            throw ConnectionViolation(code: .internalError, message: "HALF_CLOSE on stream \(stream.id) after its end")
        }
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
        stream.deadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        let streamID = stream.id
        stream.deadlineTimer = eventLoop.scheduleTask(deadline: deadline) {
            let handler = loopBound.value
            guard let stream = handler.streams[streamID] else { return }
            handler.endStreamWithError(stream, RPCError(code: .deadlineExceeded, message: "the deadline expired"))
        }
    }

    // MARK: - Writing

    /// Takes what the stream's task queued and sends as much as flow control and the socket
    /// allow. While the channel is not writable the items stay in the task's queue, where they
    /// count against the stream's and the connection's limits, so the writers suspend.
    func drain(streamID: UInt32) {
        guard streamID != 0, let stream = self.streams[streamID] else { return }
        guard self.isWritable else {
            self.parkedStreams.insert(streamID)
            return
        }
        stream.sendQueue.append(contentsOf: stream.outbound.takeAll())
        self.sendPending(stream)
        self.flushSoon()
    }

    /// The channel became writable: drain the streams that were held back.
    private func resumeParkedStreams() {
        while self.isWritable, let id = self.parkedStreams.first {
            self.parkedStreams.remove(id)
            self.drain(streamID: id)
        }
        self.flushSoon()
    }

    /// Sends the stream's queued items in order until one does not fit the windows or the
    /// channel stops being writable.
    func sendPending(_ stream: StreamState) {
        while let item = stream.sendQueue.first {
            if !self.isWritable {
                self.parkedStreams.insert(stream.id)
                return
            }
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
            if self.output.bufferedBytes >= FrameOutput.flushThreshold {
                // Hand a large batch to the channel now: its writability then tells whether
                // the peer keeps up.
                self.flushNow()
            }
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
            let chunk = FlowControlPolicy.nextFragmentSize(
                remaining: remaining,
                peerMaxFrameSize: maxFrame,
                streamWindow: stream.sendWindow,
                connectionWindow: self.connectionSendWindow,
                peerThreshold: self.sendFragmentThreshold
            )
            if remaining > 0 && chunk == 0 {
                if self.connectionSendWindow < min(remaining, self.sendFragmentThreshold) {
                    self.blockedStreams.insert(stream.id)
                }
                return false
            }
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

    /// Encodes a frame into the coalescing buffer.
    func emit(_ frame: Frame) {
        guard !self.lifecycle.isClosed, let context = self.context else { return }
        self.output.append(frame, allocator: context.channel.allocator)
    }

    /// Appends one MESSAGE frame: the header and small payloads are copied into the coalescing
    /// buffer; a large payload is written as it is (a slice, no copy) after what was coalesced.
    private func emitMessageFrame(streamID: UInt32, flags: FrameFlags, payload: ByteBuffer) {
        guard !self.lifecycle.isClosed, let context = self.context else { return }
        if let batch = self.output.appendMessage(streamID: streamID, flags: flags, payload: payload, allocator: context.channel.allocator) {
            context.write(self.wrapOutboundOut(batch), promise: nil)
            context.write(self.wrapOutboundOut(payload), promise: nil)
        }
    }

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
        switch self.output.takeForFlush() {
        case .nothing:
            break
        case .flushOnly:
            context.flush()
        case .write(let batch):
            context.writeAndFlush(self.wrapOutboundOut(batch), promise: nil)
        }
    }

    // MARK: - Shutdown

    /// Sends GOAWAY and closes.
    func closeConnection(code: StatusCode, message: String) {
        guard !self.lifecycle.isClosed, let context = self.context else { return }
        self.emit(.goAway(lastStreamID: self.highestStreamID, code: code, debugMessage: message))
        self.flushNow()
        self.lifecycle.closed()
        context.close(promise: nil)
    }

    /// GOAWAY(OK) with the last accepted stream; streams in progress finish, then the
    /// connection closes. Returns false when a GOAWAY had already been sent (or it is closed).
    @discardableResult
    func beginGracefulShutdown(message: String = "server shutting down") -> Bool {
        guard self.lifecycle.beginGracefulShutdown(lastStreamID: self.highestStreamID) else { return false }
        self.emit(.goAway(lastStreamID: self.highestStreamID, code: .ok, debugMessage: message))
        self.flushNow()
        self.closeIfDrained()
        return true
    }

    /// Counts from the TCP connection, like the handshake timeout: the age is the socket's.
    private func armMaxAgeTimer(context: ChannelHandlerContext) {
        guard self.isServer, self.maxAgeTimer == nil, let maxAge = self.limits.maxConnectionAge else { return }
        let age = ConnectionAgeLimit.jittered(maxAge, unit: self.ageJitterUnit())
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.maxAgeTimer = context.eventLoop.scheduleTask(in: age) {
            loopBound.value.maxAgeReached()
        }
    }

    /// The connection is old enough to leave: GOAWAY as during draining, so the client moves
    /// its new calls to a new connection (through the load balancer, maybe to another
    /// instance), and the calls in flight get the grace to finish.
    private func maxAgeReached() {
        self.maxAgeTimer = nil
        guard !self.lifecycle.isClosed, let eventLoop = self.eventLoop else { return }
        guard self.started, self.lifecycle.state != .awaitingPeerSettings else {
            // Our SETTINGS must be the first frame and the peer's must be accepted: GOAWAY
            // after the handshake (whose own timeout bounds the wait).
            self.maxAgeReachedDuringHandshake = true
            return
        }
        self.logger.debug("connection reached its maximum age: sending GOAWAY")
        // Already draining (server shutdown): that shutdown's own grace applies.
        guard self.beginGracefulShutdown(message: "max connection age"), !self.lifecycle.isClosed else { return }
        let grace = self.limits.maxConnectionAgeGrace
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        self.maxAgeGraceTimer = eventLoop.scheduleTask(in: grace) {
            let handler = loopBound.value
            handler.maxAgeGraceTimer = nil
            guard !handler.lifecycle.isClosed, let context = handler.context else { return }
            handler.logger.info("closing connection: \(handler.streams.count) calls still running at the end of the max-age grace")
            // The GOAWAY is out; closing fails the remaining calls with UNAVAILABLE on both sides.
            handler.flushNow()
            handler.lifecycle.closed()
            context.close(promise: nil)
        }
    }

    private func closeIfDrained() {
        guard self.streams.isEmpty,
              self.lifecycle.streamsBecameEmpty(now: self.now, hasWaitingOpens: self.client?.hasWaiters ?? false)
        else { return }
        self.closeAfterDraining()
    }

    private func closeAfterDraining() {
        guard !self.lifecycle.isClosed else { return }
        self.flushNow()
        self.lifecycle.closed()
        self.context?.close(promise: nil)
    }

    /// Makes sure the idle timer is armed while the connection has no streams (server side).
    private func armIdleTimerIfNeeded() {
        guard self.isServer, self.idleTimer == nil, !self.lifecycle.isClosed,
              let timeout = self.limits.idleTimeout, let idleSince = self.lifecycle.idleSince
        else { return }
        self.armIdleTimer(at: idleSince + timeout)
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
        switch self.lifecycle.idleTimerFired(now: self.now, timeout: self.limits.idleTimeout, openStreams: self.streams.count) {
        case .none:
            break  // streams open: re-armed when the last one closes
        case .rearm(let deadline):
            self.armIdleTimer(at: deadline)
        case .close:
            self.logger.debug("closing idle connection")
            self.closeConnection(code: .ok, message: "idle timeout")
        }
    }
}

extension ConnectionHandler.Role {
    var wireRole: ConnectionRole {
        switch self {
        case .server: return .server
        case .client: return .client
        }
    }
}

/// What a connection shares with the tasks of its streams.
final class ConnectionSharedState: Sendable {
    /// Raised while less than half the connection receive window is open.
    let creditSignal = ConnectionCreditSignal()
    /// The bytes all the connection's streams may queue.
    let writeBudget: ConnectionWriteBudget

    init(writeBudget: ConnectionWriteBudget) {
        self.writeBudget = writeBudget
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
