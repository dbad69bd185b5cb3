import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An OVA server: accepts TLS connections and runs the router's handlers for their calls.
///
/// ```swift
/// var router = RPCRouter()
/// router.register(EchoService())
/// let server = RPCServer(configuration: .init(host: "127.0.0.1", port: 7443, tls: tls), router: router)
/// let address = try await server.start()
/// ...
/// await server.shutdownGracefully()
/// ```
public final class RPCServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (see the address `start()` returns).
        public var port: Int
        public var tls: TLSConfiguration
        public var limits = ConnectionLimits()
        /// Connections beyond this are closed as soon as they are accepted.
        public var maxConnections = Self.defaultMaxConnections
        /// How long in-flight calls may run after a graceful shutdown starts.
        public var shutdownGracePeriod = Self.defaultShutdownGracePeriod
        /// Told about every finished call (metrics); nil costs nothing per call.
        public var callObserver: (any ServerCallObserver)?
        /// Count the bytes each connection reads and writes into ``ServerMetrics`` (one more
        /// handler in every connection's pipeline, so only when something reads them).
        public var countsBytes = false

        /// The default of ``maxConnections``, for configuration layers that document it.
        public static let defaultMaxConnections = 20_000
        /// The default of ``shutdownGracePeriod``.
        public static let defaultShutdownGracePeriod: TimeAmount = .seconds(10)

        public init(host: String, port: Int, tls: TLSConfiguration) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    private enum State {
        case idle
        case running(any Channel)
        case shuttingDown
        case stopped
    }

    public let configuration: Configuration
    public let metrics = ServerMetrics()
    private let router: RPCRouter
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State.idle)
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let listenerClosed: EventLoopPromise<Void>

    public init(
        configuration: Configuration,
        router: RPCRouter,
        interceptors: [any ServerInterceptor] = [],
        logger: Logger = Logger(label: "ova.server"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        var router = router
        router.attach(interceptors)
        self.router = router
        self.logger = logger
        self.group = eventLoopGroup
        self.listenerClosed = eventLoopGroup.next().makePromise()
    }

    deinit {
        // A server dropped without being started or stopped; otherwise a no-op.
        self.listenerClosed.succeed(())
    }

    /// Binds and starts accepting connections.
    ///
    /// - Returns: the bound address (useful with port 0).
    /// - Throws: TLS configuration errors and bind errors (e.g. the port is in use).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let channel: any Channel
        do {
            // ALPN `ova/1` is offered and required (docs/PROTOCOL.md §2): a client that does not
            // negotiate it is closed without a frame.
            var tls = self.configuration.tls
            tls.applicationProtocols = [Self.applicationProtocol]
            let sslContext = try NIOSSLContext(configuration: tls)
            let bootstrap = ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                // What the socket buffers for a slow reader before the connection stops
                // taking from its streams' queues (ConnectionHandler, "writability").
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
                .childChannelInitializer { channel in
                    self.initializeConnection(channel, sslContext: sslContext)
                }
            channel = try await bootstrap.bind(host: self.configuration.host, port: self.configuration.port).get()
        } catch {
            // A server that never listened is stopped: `waitUntilStopped` returns at once.
            let neverStarted: Bool = self.state.withLock { state in
                guard case .idle = state else { return false }
                state = .stopped
                return true
            }
            if neverStarted { self.listenerClosed.succeed(()) }
            throw error
        }
        channel.closeFuture.cascade(to: self.listenerClosed)
        let accepted: Bool = self.state.withLock { state in
            guard case .idle = state else { return false }
            state = .running(channel)
            return true
        }
        guard accepted, let address = channel.localAddress else {
            try? await channel.close()
            throw RPCError(code: .failedPrecondition, message: "the server was already started or stopped")
        }
        return address
    }

    private func initializeConnection(_ channel: any Channel, sslContext: NIOSSLContext) -> EventLoopFuture<Void> {
        let count = self.metrics.connectionOpened()
        channel.closeFuture.whenComplete { _ in
            self.metrics.connectionClosed()
            _ = self.connections.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        let shuttingDown = self.state.withLock { state -> Bool in
            if case .running = state { return false }
            return true
        }
        if shuttingDown || count > self.configuration.maxConnections {
            if count > self.configuration.maxConnections {
                self.logger.warning("refusing connection: \(count - 1) connections open (limit OVA_MAX_CONNECTIONS=\(self.configuration.maxConnections))")
            }
            return channel.close()
        }
        self.connections.withLock { $0[ObjectIdentifier(channel)] = channel }

        let peer = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        var connectionLogger = self.logger
        let connectionID = Self.randomConnectionID()
        connectionLogger[metadataKey: "connection"] = "\(connectionID)"
        connectionLogger[metadataKey: "peer"] = "\(peer)"
        let dispatcher = ServerDispatcher(
            router: self.router,
            connectionID: connectionID,
            peerAddress: peer,
            callLogger: self.logger,
            metrics: self.metrics,
            observer: self.configuration.callObserver
        )
        do {
            let sync = channel.pipeline.syncOperations
            if self.configuration.countsBytes {
                try sync.addHandler(ByteCountingHandler(metrics: self.metrics))
            }
            try sync.addHandler(NIOSSLServerHandler(context: sslContext))
            try sync.addHandler(ConnectionHandler(
                role: .server(dispatcher),
                limits: self.configuration.limits,
                logger: connectionLogger,
                requiredApplicationProtocol: Self.applicationProtocol
            ))
            return channel.eventLoop.makeSucceededVoidFuture()
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    /// The ALPN protocol id of OVA/1.
    public static let applicationProtocol = "ova/1"

    private static func randomConnectionID() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// True once a graceful shutdown has begun (and after the server stopped): a load balancer
    /// should send it no new connections.
    public var isDraining: Bool {
        self.state.withLock { state in
            switch state {
            case .idle, .running: return false
            case .shuttingDown, .stopped: return true
            }
        }
    }

    /// Stops accepting connections and sends GOAWAY on every open one; calls in progress
    /// finish, for up to the grace period, after which remaining connections are closed.
    /// Idempotent.
    public func beginGracefulShutdown() {
        let listener: (any Channel)? = self.state.withLock { state in
            switch state {
            case .running(let channel):
                state = .shuttingDown
                return channel
            case .idle:
                state = .stopped
                self.listenerClosed.succeed(())
                return nil
            case .shuttingDown, .stopped:
                return nil
            }
        }
        guard let listener else { return }
        self.logger.info("graceful shutdown: draining \(self.metrics.activeCalls) calls on \(self.metrics.openConnections) connections")
        listener.close(promise: nil)
        let open = self.connections.withLock { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(GracefulShutdownEvent())
        }
        let grace = self.configuration.shutdownGracePeriod
        self.group.next().scheduleTask(in: grace) {
            let remaining = self.connections.withLock { Array($0.values) }
            if !remaining.isEmpty {
                self.logger.warning("grace period over: closing \(remaining.count) connections")
            }
            for channel in remaining {
                channel.close(promise: nil)
            }
        }
    }

    /// Returns when the listener and every connection have closed.
    public func waitUntilStopped() async {
        try? await self.listenerClosed.futureResult.get()
        while true {
            let open = self.connections.withLock { Array($0.values) }
            guard !open.isEmpty else { break }
            for channel in open {
                try? await channel.closeFuture.get()
            }
        }
        self.state.withLock { $0 = .stopped }
    }

    /// Graceful shutdown, then waits for it to finish.
    public func shutdownGracefully() async {
        self.beginGracefulShutdown()
        await self.waitUntilStopped()
    }
}
