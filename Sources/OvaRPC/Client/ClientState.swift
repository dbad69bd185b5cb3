import NIOCore

/// The client-only part of a connection's event-loop state.
final class ClientState {
    /// Completed when the server's SETTINGS arrive (the connection is usable).
    var readyPromise: EventLoopPromise<Settings>?
    /// Streams waiting for room under the server's MAX_CONCURRENT_STREAMS.
    var pendingOpens = CircularBuffer<PendingOpen>()
    var goAwayReceived = false
    /// Shared with the channel: cleared when this connection must not take new calls.
    var usability: ConnectionUsability?

    struct PendingOpen {
        let open: ClientStreamOpen
    }

    var hasWaiters: Bool { !self.pendingOpens.isEmpty }

    func ready(handler: ConnectionHandler) {
        self.readyPromise?.succeed(handler.peerSettings)
        self.readyPromise = nil
    }

    func receivedGoAway() {
        self.goAwayReceived = true
        self.usability?.markUnusable()
        let error = RPCError(code: .unavailable, message: "the server is shutting down (GOAWAY)", cause: CallNotStarted())
        while let pending = self.pendingOpens.popFirst() {
            pending.open.inbound.fail(error)
            pending.open.outbound.close(error)
        }
    }

    func connectionClosed(error: RPCError) {
        self.usability?.markUnusable()
        if error.cause == nil, !self.goAwayReceived {
            // Closed before SETTINGS without a GOAWAY or a TLS error: the way a TLS server that
            // does not speak OVA/1 hangs up (§2).
            var closedEarly = error
            closedEarly.cause = ClosedBeforeSettings(evidence: "it closed the connection before sending SETTINGS")
            self.readyPromise?.fail(closedEarly)
        } else {
            self.readyPromise?.fail(error)
        }
        self.readyPromise = nil
        // Calls still waiting for a stream were never sent.
        let notSent = RPCError(code: error.code, message: error.message, cause: CallNotStarted())
        while let pending = self.pendingOpens.popFirst() {
            pending.open.inbound.fail(notSent)
            pending.open.outbound.close(notSent)
        }
    }

    /// The server's initial metadata for a call: handed to the caller's response stream.
    func receivedResponseHeaders(streamID: UInt32, metadata: Metadata, handler: ConnectionHandler) {
        handler.streams[streamID]?.inbound.receivedInitialMetadata(metadata)
    }

    /// A stream ended: start a waiting one if the server's limit now allows.
    func streamClosed(handler: ConnectionHandler) {
        while !self.pendingOpens.isEmpty, handler.streams.count < handler.peerSettings.maxConcurrentStreams {
            guard let pending = self.pendingOpens.popFirst() else { break }
            handler.openClientStreamNow(pending.open)
        }
    }
}

/// Everything needed to open a client stream on the event loop.
struct ClientStreamOpen: Sendable {
    let cell: StreamIDCell
    let headers: RequestHeaders
    let inbound: InboundMessages
    let outbound: OutboundQueue
    /// The first request message, framed lazily (unary and server-streaming send it with the
    /// headers in one write).
    let firstMessage: ByteBuffer?
    let endStream: Bool
    let deadline: NIODeadline?
}

extension ConnectionHandler {
    /// Opens a stream now, or queues it under the server's concurrency limit.
    func openClientStream(_ open: ClientStreamOpen) {
        guard self.lifecycle.acceptsNewStreams || self.lifecycle.state == .awaitingPeerSettings else {
            // A GOAWAY (or the close) won the race with this call: the server never saw it.
            let error = RPCError(code: .unavailable, message: "the connection is closing", cause: CallNotStarted())
            open.inbound.fail(error)
            open.outbound.close(error)
            return
        }
        if self.streams.count >= self.peerSettings.maxConcurrentStreams {
            self.client?.pendingOpens.append(ClientState.PendingOpen(open: open))
            return
        }
        self.openClientStreamNow(open)
        self.flushSoon()
    }

    func openClientStreamNow(_ open: ClientStreamOpen) {
        let streamID = self.highestStreamID == 0 ? 1 : self.highestStreamID + 2
        guard streamID < (1 << 31) else {
            let error = RPCError(code: .unavailable, message: "stream ids exhausted on this connection")
            open.inbound.fail(error)
            open.outbound.close(error)
            return
        }
        self.highestStreamID = streamID
        open.cell.set(streamID)
        let stream = StreamState(
            id: streamID,
            inbound: open.inbound,
            outbound: open.outbound,
            sendWindow: self.peerSettings.initialStreamWindow,
            receiveWindow: self.limits.settings.initialStreamWindow,
            openedAt: self.now
        )
        stream.path = open.headers.path
        self.addStream(stream)
        self.emit(.requestHeaders(streamID: streamID, open.headers, endStream: open.firstMessage == nil && open.endStream))
        if let first = open.firstMessage {
            stream.sendQueue.append(.message(first, endStream: open.endStream))
        }
        if let deadline = open.deadline {
            self.scheduleDeadline(deadline, for: stream)
        }
        // Anything the caller queued before the stream had an id goes now, in order.
        stream.sendQueue.append(contentsOf: open.outbound.takeAll())
        self.sendPending(stream)
    }

    /// The caller gave up (task cancelled): RESET(CANCELLED) and fail its queues.
    func cancelClientStream(_ cell: StreamIDCell, error: RPCError) {
        let streamID = cell.value
        if streamID == 0 {
            // Still waiting to open: drop it from the queue.
            if let client = self.client {
                var kept = CircularBuffer<ClientState.PendingOpen>()
                while let pending = client.pendingOpens.popFirst() {
                    if pending.open.cell === cell {
                        pending.open.inbound.fail(error)
                        pending.open.outbound.close(error)
                    } else {
                        kept.append(pending)
                    }
                }
                client.pendingOpens = kept
            }
            return
        }
        guard let stream = self.streams[streamID] else { return }
        self.emit(.reset(streamID: streamID, code: .cancelled))
        self.removeStream(stream, error: error)
        self.flushSoon()
    }

    /// The server ended a call.
    func clientReceivedTrailers(streamID: UInt32, trailers: Trailers) {
        guard let stream = self.streams[streamID] else { return }
        stream.remoteClosed = true
        stream.inbound.finish(error: RPCError(trailers: trailers))
        // The call is over for the server; whatever the client still queued is moot.
        stream.outbound.close(RPCError(trailers: trailers) ?? RPCError(code: .ok, message: "the call has ended"))
        self.removeStream(stream, error: nil)
    }
}

/// The `RPCError.cause` of a call that failed before the server processed it: it was never
/// sent (its connection was closing), or it crossed the server's GOAWAY (its stream id is
/// above the GOAWAY's last stream id, docs/PROTOCOL.md §14). Such a call is safe to send again.
struct CallNotStarted: Error, Sendable, CustomStringConvertible {
    var description: String { "the server did not start the call" }
}
