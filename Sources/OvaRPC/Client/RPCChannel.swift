import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A client's connection to an OVA server, shared by any number of concurrent calls.
///
/// Connects lazily on the first call and reconnects for new calls after the connection closes
/// or the server sends GOAWAY. With several endpoints (instances, or load balancers, of one
/// service), each new connection goes to the next address in turn from a random start,
/// skipping addresses that failed to connect moments ago. Calls in flight when a connection
/// is lost fail with UNAVAILABLE; a unary call the server had not started (sent after the
/// GOAWAY, or refused by it) is retried on the new connection. Generated clients
/// (`EchoClient(channel:)`) wrap it.
public final class RPCChannel: Sendable {
    public struct Configuration: Sendable {
        /// One server address.
        public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
            public var host: String
            public var port: Int

            public init(host: String, port: Int) {
                self.host = host
                self.port = port
            }

            public var description: String {
                self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
            }
        }

        /// The addresses connections go to, in turn; never empty when made by the initializers
        /// (an empty list fails every call with UNAVAILABLE).
        public var endpoints: [Endpoint]
        public var tls: ClientTLSConfiguration
        /// What this client declares in SETTINGS (windows, limits).
        public var limits = ConnectionLimits()
        public var connectTimeout: TimeAmount = .seconds(10)
        /// How long an address that failed to connect is skipped; doubled on each further
        /// failure up to ``maxReconnectBackoff``, cleared when a connection to it comes up.
        public var reconnectBackoff: TimeAmount = .milliseconds(100)
        public var maxReconnectBackoff: TimeAmount = .seconds(2)
        /// The endpoint the first connection goes to; nil picks one at random (tests choose).
        var firstEndpoint: Int?

        public init(host: String, port: Int, tls: ClientTLSConfiguration) {
            self.endpoints = [Endpoint(host: host, port: port)]
            self.tls = tls
        }

        public init(endpoints: [Endpoint], tls: ClientTLSConfiguration) {
            self.endpoints = endpoints
            self.tls = tls
        }

        /// The first endpoint's host (the only one for a single-address channel).
        public var host: String {
            get { self.endpoints.first?.host ?? "" }
            set {
                if self.endpoints.isEmpty { self.endpoints = [Endpoint(host: newValue, port: 0)] } else { self.endpoints[0].host = newValue }
            }
        }

        /// The first endpoint's port.
        public var port: Int {
            get { self.endpoints.first?.port ?? 0 }
            set {
                if self.endpoints.isEmpty { self.endpoints = [Endpoint(host: "127.0.0.1", port: newValue)] } else { self.endpoints[0].port = newValue }
            }
        }

        /// Parses a comma-separated list of addresses (`a:7443,b:7443`), each as
        /// ``parseAddress(_:)`` takes it; spaces around the commas are ignored.
        ///
        /// - Returns: nil when the list is empty or any address is invalid.
        public static func parseAddresses(_ list: String) -> [Endpoint]? {
            var endpoints: [Endpoint] = []
            for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = String(item.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
                guard let (host, port) = Self.parseAddress(trimmed) else { return nil }
                endpoints.append(Endpoint(host: host, port: port))
            }
            return endpoints.isEmpty ? nil : endpoints
        }

        /// Parses a server address: `host:port`, `[ipv6]:port`, or `:port` (127.0.0.1).
        ///
        /// - Returns: nil unless the port is 1-65535.
        public static func parseAddress(_ address: String) -> (host: String, port: Int)? {
            guard let colon = address.lastIndex(of: ":"),
                  let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
            else { return nil }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return (host.isEmpty ? "127.0.0.1" : host, port)
        }
    }

    struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ConnectionHandler>
        let peerSettings: Settings
        let usable: ConnectionUsability
        let shared: ConnectionSharedState
    }

    private enum State {
        case idle
        case connecting(EventLoopFuture<Connection>)
        case ready(Connection)
        case closed
    }

    public let configuration: Configuration
    private let sslContext: NIOSSLContext
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State.idle)
    private let rotation: Mutex<EndpointRotation>

    /// - Throws: when the TLS configuration is invalid (e.g. an unreadable CA file).
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ova.client")
    ) throws {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.sslContext = try NIOSSLContext(configuration: configuration.tls.makeNIOSSLConfiguration())
        let count = configuration.endpoints.count
        self.rotation = Mutex(EndpointRotation(
            count: count,
            start: configuration.firstEndpoint ?? (count > 1 ? Int.random(in: 0..<count) : 0),
            baseBackoff: configuration.reconnectBackoff,
            maxBackoff: configuration.maxReconnectBackoff
        ))
    }

    /// Closes the connection; calls in progress fail with UNAVAILABLE and new calls are refused.
    public func close() async {
        let current: State = self.state.withLock { state in
            defer { state = .closed }
            return state
        }
        switch current {
        case .ready(let connection):
            try? await connection.channel.close()
        case .connecting(let future):
            if let connection = try? await future.get() {
                try? await connection.channel.close()
            }
        case .idle, .closed:
            break
        }
    }

    /// Whether new calls would go to the current connection (false once it received GOAWAY
    /// or closed): what tests wait for after stopping a server.
    var hasUsableConnection: Bool {
        self.state.withLock { state in
            if case .ready(let connection) = state { return connection.usable.isUsable }
            return false
        }
    }

    /// Connects now instead of on the first call (fails fast on a bad address or certificate).
    public func connect() async throws {
        _ = try await self.connection()
    }

    // MARK: - Connection management

    func connection() async throws -> Connection {
        // Fast path without futures: awaiting even a completed future hops to its event loop.
        enum Next {
            case ready(Connection)
            case wait(EventLoopFuture<Connection>)
        }
        let next: Next = try self.state.withLock { state in
            switch state {
            case .ready(let connection) where connection.usable.isUsable:
                return .ready(connection)
            case .connecting(let future):
                return .wait(future)
            case .closed:
                throw RPCError(code: .unavailable, message: "the channel is closed")
            case .idle, .ready:
                let promise = self.group.next().makePromise(of: Connection.self)
                promise.completeWithTask { try await self.connectToAnEndpoint() }
                state = .connecting(promise.futureResult)
                return .wait(promise.futureResult)
            }
        }
        switch next {
        case .ready(let connection):
            return connection
        case .wait(let future):
            return try await self.awaitConnection(future)
        }
    }

    private func awaitConnection(_ future: EventLoopFuture<Connection>) async throws -> Connection {
        do {
            let connection = try await future.get()
            self.state.withLock { state in
                if case .connecting = state { state = .ready(connection) }
            }
            return connection
        } catch {
            self.state.withLock { state in
                if case .connecting = state { state = .idle }
            }
            throw error
        }
    }

    /// Connects to the next address in turn, then to the following ones if it fails: each
    /// address at most once per call, so a call never spins over dead servers. When every
    /// address failed moments ago, it first waits for the shortest of their pauses.
    private func connectToAnEndpoint() async throws -> Connection {
        let endpoints = self.configuration.endpoints
        guard !endpoints.isEmpty else {
            throw RPCError(code: .unavailable, message: "no server address is configured")
        }
        var tried = Set<Int>()
        var failures: [RPCError] = []
        while let attempt = self.rotation.withLock({ $0.next(now: .now(), excluding: tried) }) {
            if let notBefore = attempt.notBefore {
                // Only before the first attempt: later, the addresses left are all pausing.
                guard tried.isEmpty else { break }
                let delay = notBefore - .now()
                if delay > .zero { try await Task.sleep(nanoseconds: UInt64(delay.nanoseconds)) }
            }
            tried.insert(attempt.index)
            let endpoint = endpoints[attempt.index]
            do {
                let connection = try await self.makeConnection(to: endpoint).get()
                self.rotation.withLock { $0.connected(attempt.index) }
                return connection
            } catch {
                self.rotation.withLock { $0.failed(attempt.index, now: .now()) }
                failures.append(self.describeConnectFailure(error, endpoint: endpoint))
            }
        }
        if failures.count == 1, let only = failures.first { throw only }
        throw RPCError(
            code: .unavailable,
            message: "no server address answered: " + failures.map(\.message).joined(separator: "; ")
        )
    }

    private func describeConnectFailure(_ error: any Error, endpoint: Configuration.Endpoint) -> RPCError {
        // An RPCError without a cause is already worded for people (e.g. GOAWAY before SETTINGS).
        if let error = error as? RPCError, error.cause == nil { return error }
        let failure = ConnectFailure.classify(
            error, host: endpoint.host, port: endpoint.port,
            checkedName: self.configuration.tls.serverHostname, connectTimeout: self.configuration.connectTimeout
        )
        return RPCError(code: .unavailable, message: failure.description, cause: failure)
    }

    private func makeConnection(to endpoint: Configuration.Endpoint) -> EventLoopFuture<Connection> {
        let eventLoop = self.group.next()
        let ready = eventLoop.makePromise(of: Settings.self)
        let usable = ConnectionUsability()
        let hostname = self.configuration.tls.serverHostname ?? endpoint.host
        let sniHostname = hostname.first?.isNumber == true || hostname.contains(":") ? nil : hostname
        let sslContext = self.sslContext
        let limits = self.configuration.limits
        let logger = self.logger
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(self.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: sniHostname)
                    try sync.addHandler(tlsHandler)
                    let client = ClientState()
                    client.readyPromise = ready
                    client.usability = usable
                    let handler = ConnectionHandler(role: .client(client), limits: limits, logger: logger)
                    try sync.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let connected = bootstrap.connect(host: endpoint.host, port: endpoint.port)
        // A failed connect never runs the initializer: nobody else would complete `ready`.
        connected.whenFailure { error in ready.fail(error) }
        return connected.flatMap { channel in
            ready.futureResult.flatMapThrowing { settings in
                let handler = try channel.pipeline.syncOperations.handler(type: ConnectionHandler.self)
                return Connection(
                    channel: channel,
                    handler: NIOLoopBound(handler, eventLoop: channel.eventLoop),
                    peerSettings: settings,
                    usable: usable,
                    shared: handler.shared
                )
            }
        }
    }

    // MARK: - Calls

    /// One call's task-side handles.
    private struct Call: Sendable {
        let connection: Connection
        let cell: StreamIDCell
        let inbound: InboundMessages
        let outbound: OutboundQueue

        func cancel(_ error: RPCError) {
            let handler = self.connection.handler
            let cell = self.cell
            self.connection.channel.eventLoop.execute {
                handler.value.cancelClientStream(cell, error: error)
            }
        }

        /// Runs `body`; if the task is cancelled or `body` returns or throws while the call is
        /// still open, the call is reset so the server stops working on it.
        func run<Result>(_ body: () async throws -> Result) async throws -> Result {
            do {
                let result = try await withTaskCancellationHandler {
                    try await body()
                } onCancel: {
                    self.cancel(RPCError(code: .cancelled, message: "the call was cancelled"))
                }
                if !self.inbound.isFinished {
                    self.cancel(RPCError(code: .cancelled, message: "the caller finished the call early"))
                }
                return result
            } catch {
                if !self.inbound.isFinished {
                    self.cancel(RPCError(code: .cancelled, message: "the caller failed: \(error)"))
                }
                if error is CancellationError {
                    throw RPCError(code: .cancelled, message: "the call was cancelled")
                }
                throw error
            }
        }

        func responses<Response: RPCMessage>(_ type: Response.Type) -> RPCResponseStream<Response> {
            RPCResponseStream(inbound: self.inbound, decodeFailureCode: .internalError)
        }

        func requestWriter<Request: RPCMessage>(_ type: Request.Type) -> RPCRequestWriter<Request> {
            RPCRequestWriter(sender: MessageSender(outbound: self.outbound, maxMessageSize: self.connection.peerSettings.maxMessageSize))
        }

        /// The single response of a unary or client-streaming call, after the OK trailers.
        func singleResponse<Response: RPCMessage>(_ type: Response.Type) async throws -> RPCResponse<Response> {
            guard let payload = try await self.inbound.next() else {
                throw RPCError(code: .internalError, message: "the server ended the call without a response")
            }
            guard try await self.inbound.next() == nil else {
                throw RPCError(code: .internalError, message: "the server sent more than one response")
            }
            let message: Response
            do {
                message = try Response(rpcPayload: payload)
            } catch {
                throw RPCError(code: .internalError, message: "could not decode \(Response.self): \(error)")
            }
            // Settled by now: HEADERS, when sent at all, come before the message.
            return RPCResponse(metadata: await self.inbound.initialMetadata(), message: message)
        }
    }

    private func startCall(
        _ method: MethodDescriptor,
        options: CallOptions,
        firstMessage: (some RPCMessage)?,
        endStream: Bool
    ) async throws -> Call {
        let connection = try await self.connection()
        var first: ByteBuffer?
        if let firstMessage {
            first = try encodeForSending(firstMessage, maxMessageSize: connection.peerSettings.maxMessageSize).0
        }
        let cell = StreamIDCell()
        let eventLoop = connection.channel.eventLoop
        let (inbound, outbound) = ConnectionHandler.makeStreamIO(
            cell: cell,
            loopBound: connection.handler,
            shared: connection.shared,
            eventLoop: eventLoop,
            limits: self.configuration.limits
        )
        var timeoutMicroseconds: UInt64?
        var deadline: NIODeadline?
        if let timeout = options.timeout {
            let (seconds, attoseconds) = timeout.components
            let micros = max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
            timeoutMicroseconds = UInt64(micros)
            deadline = .now() + .microseconds(micros)
        }
        let open = ClientStreamOpen(
            cell: cell,
            headers: RequestHeaders(path: method.path, timeoutMicroseconds: timeoutMicroseconds, metadata: options.metadata),
            inbound: inbound,
            outbound: outbound,
            firstMessage: first,
            endStream: endStream,
            deadline: deadline
        )
        let handler = connection.handler
        eventLoop.execute {
            handler.value.openClientStream(open)
        }
        return Call(connection: connection, cell: cell, inbound: inbound, outbound: outbound)
    }

    /// A unary call: one request, one response.
    ///
    /// - Throws: ``RPCError`` with the server's status, DEADLINE_EXCEEDED, CANCELLED, or
    ///   UNAVAILABLE when the server cannot be reached.
    public func unary<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        request: Request,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults
    ) async throws -> Response {
        try await self.unary(method, request: request, options: options) { (response: RPCResponse<Response>) in
            response.message
        }
    }

    /// A unary call whose `onResponse` also reads the response's initial metadata (what the
    /// handler sent with `ServerContext`'s or the writer's metadata; empty when it sent none).
    public func unary<Request: RPCMessage, Response: RPCMessage, Result: Sendable>(
        _ method: MethodDescriptor,
        request: Request,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults,
        onResponse: (RPCResponse<Response>) async throws -> Result
    ) async throws -> Result {
        var attempt = 1
        while true {
            let call = try await self.startCall(method, options: options, firstMessage: request, endStream: true)
            let response: RPCResponse<Response>
            do {
                response = try await call.run {
                    try await call.singleResponse(Response.self)
                }
            } catch let error as RPCError where error.cause is CallNotStarted && attempt < Self.notStartedAttempts {
                // The server never saw this call (its connection was going away): the request
                // is whole, so it goes again on the next connection.
                attempt += 1
                continue
            }
            return try await onResponse(response)
        }
    }

    /// How many connections a unary call the server did not start may try: more than one
    /// GOAWAY in a row means the servers are going away faster than calls can be placed.
    static let notStartedAttempts = 3

    /// A server-streaming call: `body` reads the responses; returning early cancels the call.
    public func serverStreaming<Request: RPCMessage, Response: RPCMessage, Result: Sendable>(
        _ method: MethodDescriptor,
        request: Request,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults,
        body: (RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let call = try await self.startCall(method, options: options, firstMessage: request, endStream: true)
        return try await call.run {
            try await body(call.responses(Response.self))
        }
    }

    /// A client-streaming call: `body` writes the requests; when it returns, the client
    /// half-closes and waits for the single response.
    public func clientStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        requestType: Request.Type = Request.self,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults,
        body: (RPCRequestWriter<Request>) async throws -> Void
    ) async throws -> Response {
        try await self.clientStreaming(method, options: options, body: body) { (response: RPCResponse<Response>) in
            response.message
        }
    }

    /// A client-streaming call whose `onResponse` also reads the response's initial metadata.
    public func clientStreaming<Request: RPCMessage, Response: RPCMessage, Result: Sendable>(
        _ method: MethodDescriptor,
        requestType: Request.Type = Request.self,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults,
        body: (RPCRequestWriter<Request>) async throws -> Void,
        onResponse: (RPCResponse<Response>) async throws -> Result
    ) async throws -> Result {
        let call = try await self.startCall(method, options: options, firstMessage: Request?.none, endStream: false)
        let response = try await call.run {
            let writer = call.requestWriter(Request.self)
            try await body(writer)
            writer.finish()
            return try await call.singleResponse(Response.self)
        }
        return try await onResponse(response)
    }

    /// A bidirectional-streaming call: `body` writes requests and reads responses concurrently
    /// (e.g. in a task group). Call `finish()` on the writer to half-close; returning from
    /// `body` before the server ends the call cancels it.
    public func bidiStreaming<Request: RPCMessage, Response: RPCMessage, Result: Sendable>(
        _ method: MethodDescriptor,
        requestType: Request.Type = Request.self,
        responseType: Response.Type = Response.self,
        options: CallOptions = .defaults,
        body: (RPCRequestWriter<Request>, RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let call = try await self.startCall(method, options: options, firstMessage: Request?.none, endStream: false)
        return try await call.run {
            try await body(call.requestWriter(Request.self), call.responses(Response.self))
        }
    }
}

/// Whether a connection still accepts new calls (cleared on GOAWAY and close).
final class ConnectionUsability: Sendable {
    private let usable = Atomic<Bool>(true)

    var isUsable: Bool { self.usable.load(ordering: .relaxed) }

    func markUnusable() {
        self.usable.store(false, ordering: .relaxed)
    }
}
