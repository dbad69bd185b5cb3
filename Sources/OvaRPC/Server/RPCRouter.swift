/// A set of handlers, registered by generated code, one per method path.
public protocol RPCService: Sendable {
    /// Registers a handler for each method of the service.
    func registerMethods(with router: inout RPCRouter)
}

/// Runs around every handler, in registration order: authentication, audit, metrics.
///
/// Throwing ends the call with that error before (or after) the handler runs.
public protocol ServerInterceptor: Sendable {
    func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws

    /// Whether calls to `method` go through this interceptor. Decided once per route when the
    /// server starts, so methods no interceptor applies to (diagnostics under load) run with
    /// an empty chain. Default: every method.
    func applies(to method: MethodDescriptor) -> Bool
}

extension ServerInterceptor {
    public func applies(to method: MethodDescriptor) -> Bool { true }
}

/// What a type-erased handler gets: the call's inbound messages, outbound queue and context.
struct ServerCallIO: Sendable {
    let inbound: InboundMessages
    let outbound: OutboundQueue
    let context: ServerContext
    /// The client's limit on message size.
    let peerMaxMessageSize: Int

    /// The single request of a unary or server-streaming call.
    func singleRequest<Request: RPCMessage>(_ type: Request.Type) async throws -> Request {
        guard let payload = try await self.inbound.next() else {
            throw RPCError(code: .invalidArgument, message: "the call ended without a request message")
        }
        guard try await self.inbound.next() == nil else {
            throw RPCError(code: .invalidArgument, message: "\(self.context.method.kind) call with more than one request message")
        }
        do {
            return try Request(rpcPayload: payload)
        } catch {
            throw RPCError.decodeFailure(error, of: Request.self, code: .invalidArgument)
        }
    }

    func requests<Request: RPCMessage>(_ type: Request.Type) -> RPCRequestStream<Request> {
        RPCRequestStream(inbound: self.inbound, decodeFailureCode: .invalidArgument)
    }

    func responseWriter<Response: RPCMessage>(_ type: Response.Type) -> RPCResponseWriter<Response> {
        RPCResponseWriter(sender: MessageSender(outbound: self.outbound, maxMessageSize: self.peerMaxMessageSize))
    }

    /// The single response of a unary or client-streaming call, after the initial metadata the
    /// handler added to its context (no HEADERS frame when it added none).
    func writeSingleResponse<Response: RPCMessage>(_ response: Response) async throws {
        let writer = self.responseWriter(Response.self)
        let initialMetadata = self.context.initialMetadata
        if !initialMetadata.isEmpty {
            try await writer.writeMetadata(initialMetadata)
        }
        try await writer.write(response)
    }
}

/// Maps method paths to handlers.
public struct RPCRouter: Sendable {
    struct Route: Sendable {
        let method: MethodDescriptor
        let run: @Sendable (ServerCallIO) async throws -> Void
        /// The interceptors that apply to this method, in order (set by the server).
        var interceptors: [any ServerInterceptor] = []
    }

    /// Gives every route the interceptors that apply to its method.
    mutating func attach(_ interceptors: [any ServerInterceptor]) {
        for (path, route) in self.routes {
            var route = route
            route.interceptors = interceptors.filter { $0.applies(to: route.method) }
            self.routes[path] = route
        }
    }

    private(set) var routes: [String: Route] = [:]

    public init() {}

    /// Registers every method of `service`.
    public mutating func register(_ service: some RPCService) {
        service.registerMethods(with: &self)
    }

    /// The methods that have a handler.
    public var registeredMethods: [MethodDescriptor] {
        self.routes.values.map(\.method).sorted { $0.path < $1.path }
    }

    /// Whether any method of the service `name` has a handler.
    public func hasService(_ name: String) -> Bool {
        self.routes.values.contains { $0.method.service == name }
    }

    func route(forPath path: String) -> Route? {
        self.routes[path]
    }

    public mutating func registerUnary<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        self.routes[method.path] = Route(method: method) { call in
            let request = try await call.singleRequest(Request.self)
            let response = try await handler(request, call.context)
            try await call.writeSingleResponse(response)
        }
    }

    public mutating func registerServerStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        handler: @escaping @Sendable (Request, RPCResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        self.routes[method.path] = Route(method: method) { call in
            let request = try await call.singleRequest(Request.self)
            try await handler(request, call.responseWriter(Response.self), call.context)
        }
    }

    public mutating func registerClientStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        handler: @escaping @Sendable (RPCRequestStream<Request>, ServerContext) async throws -> Response
    ) {
        self.routes[method.path] = Route(method: method) { call in
            let response = try await handler(call.requests(Request.self), call.context)
            try await call.writeSingleResponse(response)
        }
    }

    public mutating func registerBidiStreaming<Request: RPCMessage, Response: RPCMessage>(
        _ method: MethodDescriptor,
        handler: @escaping @Sendable (RPCRequestStream<Request>, RPCResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        self.routes[method.path] = Route(method: method) { call in
            try await handler(call.requests(Request.self), call.responseWriter(Response.self), call.context)
        }
    }
}
