import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What the admin listener answers: each endpoint's body, computed when asked.
public struct AdminEndpoints: Sendable {
    /// Ready (200) or not, with a one-line reason.
    public struct Readiness: Sendable, Equatable {
        public var isReady: Bool
        public var reason: String

        public init(isReady: Bool, reason: String) {
            self.isReady = isReady
            self.reason = reason
        }
    }

    /// `/readyz`.
    public var readiness: @Sendable () async -> Readiness
    /// `/metrics`: the Prometheus text exposition format 0.0.4.
    public var metrics: @Sendable () async -> [UInt8]

    public init(readiness: @escaping @Sendable () async -> Readiness, metrics: @escaping @Sendable () async -> [UInt8]) {
        self.readiness = readiness
        self.metrics = metrics
    }
}

/// The operators' plain-HTTP/1.1 listener (`OVA_ADMIN_LISTEN`): `/healthz`, `/readyz` and
/// `/metrics` for load balancers and Prometheus. No TLS and no authentication, so it belongs on
/// loopback or a private network, never where clients connect.
///
/// Defensive because it is reachable without credentials: only GET and HEAD, request heads of
/// at most 8 KiB, no request body beyond 1 KiB, at most 64 connections, and a connection idle
/// for 30 s is closed.
public final class AdminListener: Sendable {
    /// Connections beyond this are closed as soon as they are accepted.
    static let maxConnections = 64
    static let idleTimeout: TimeAmount = .seconds(30)
    static let maxHeadBytes = 8 * 1024
    static let maxBodyBytes = 1024

    private let channel: any Channel
    /// The bound address (the port the OS chose for port 0).
    public let address: SocketAddress

    private init(channel: any Channel, address: SocketAddress) {
        self.channel = channel
        self.address = address
    }

    /// Binds `host:port` and starts answering.
    ///
    /// - Throws: bind errors (the address is in use, a privileged port).
    public static func start(
        host: String, port: Int, endpoints: AdminEndpoints, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> AdminListener {
        let counter = ConnectionCounter()
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard counter.open() <= Self.maxConnections else {
                    counter.close()
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in counter.close() }
                do {
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderFieldSize = Self.maxHeadBytes
                    limits.maxHeaderListSize = Self.maxHeadBytes
                    limits.maxHeaderFieldCount = 64
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(
                        withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits
                    )
                    try sync.addHandler(IdleStateHandler(allTimeout: Self.idleTimeout))
                    try sync.addHandler(AdminHTTPHandler(endpoints: endpoints, logger: logger))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw ChannelError.inappropriateOperationForState
        }
        return AdminListener(channel: channel, address: address)
    }

    /// Stops accepting; open admin connections end at their next request or idle timeout.
    public func close() async {
        try? await self.channel.close()
    }
}

/// Counts the admin connections open now (lock-free, any thread).
private final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    func open() -> Int {
        self.count.add(1, ordering: .relaxed).newValue
    }

    func close() {
        self.count.subtract(1, ordering: .relaxed)
    }
}

/// One admin connection: routes each request, answers it, closes when asked or idle.
/// NIO's pipelining assistance hands it one request at a time.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: AdminEndpoints
    private let logger: Logger
    private var request: HTTPRequestHead?
    private var bodyBytes = 0
    /// The request was answered early (body too large); the rest of it is ignored.
    private var rejected = false

    init(endpoints: AdminEndpoints, logger: Logger) {
        self.endpoints = endpoints
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
            self.bodyBytes = 0
            self.rejected = false
        case .body(let body):
            self.bodyBytes += body.readableBytes
            if self.bodyBytes > AdminListener.maxBodyBytes, !self.rejected, let head = self.request {
                self.rejected = true
                self.respond(context: context, to: head, with: .text(.payloadTooLarge, "request body too large\n"), close: true)
            }
        case .end:
            guard let head = self.request, !self.rejected else { return }
            self.request = nil
            self.route(head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Malformed requests are answered 400 by NIO's error handler; anything else ends the connection.
        context.close(promise: nil)
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let answer: @Sendable () async -> AdminResponse
        switch path {
        case "/healthz":
            answer = { .text(.ok, "ok\n") }
        case "/readyz":
            let endpoints = self.endpoints
            answer = {
                let readiness = await endpoints.readiness()
                return readiness.isReady ? .text(.ok, "ready\n") : .text(.serviceUnavailable, "not ready: \(readiness.reason)\n")
            }
        case "/metrics":
            let endpoints = self.endpoints
            answer = { AdminResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: await endpoints.metrics()) }
        default:
            return self.respond(context: context, to: head, with: .text(.notFound, "not found: /healthz, /readyz and /metrics are served here\n"))
        }
        guard head.method == .GET || head.method == .HEAD else {
            return self.respond(context: context, to: head, with: .text(.methodNotAllowed, "method not allowed: use GET\n"))
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let response = await answer()
            eventLoop.execute {
                let (handler, context) = loopBound.value
                guard context.channel.isActive else { return }
                handler.respond(context: context, to: head, with: response)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, to request: HTTPRequestHead, with response: AdminResponse, close: Bool = false) {
        let keepAlive = request.isKeepAlive && !close
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        if response.status == .methodNotAllowed {
            headers.add(name: "Allow", value: "GET, HEAD")
        }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD, !response.body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: response.body)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.whenComplete { _ in closing.value.close(promise: nil) }
        }
    }
}

/// One admin response.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static func text(_ status: HTTPResponseStatus, _ text: String) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }
}
