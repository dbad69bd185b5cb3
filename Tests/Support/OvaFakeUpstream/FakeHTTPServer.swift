import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A scripted HTTP/1.1 server on 127.0.0.1 for provider tests.
///
/// Each path has a script of ``Step``s (status and headers, body parts, pauses, waits on a
/// ``Gate``, closing mid-response, hanging). Every request is recorded with its headers and
/// body, and a client that closes its connection while a response is in progress is counted
/// per path, so tests can prove that cancellation reached the network.
public final class FakeHTTPServer: Sendable {
    public enum Step: Sendable {
        /// The status line and headers; without `Content-Length` the body is chunked.
        case head(status: Int, headers: [(String, String)] = [])
        case body([UInt8])
        case sleep(Duration)
        /// Waits until the gate opens (at most 60 s, so a broken test cannot hang forever; a
        /// shorter limit would let a slow, loaded run play past the gate and change the script).
        case wait(Gate)
        /// Runs a side effect, such as setting a flag the test checks.
        case run(@Sendable () -> Void)
        /// Ends the response (the last chunk); the connection stays open for the next request.
        case end
        /// Closes the connection where the script stands.
        case close
        /// Sends nothing more and waits for the client to go away.
        case hang

        public static func text(_ text: String) -> Step { .body(Array(text.utf8)) }
    }

    /// A complete response with `Content-Length`.
    public static func respond(status: Int, headers: [(String, String)] = [], body: [UInt8]) -> [Step] {
        [.head(status: status, headers: headers + [("Content-Length", "\(body.count)")]), .body(body), .end]
    }

    public static func json(status: Int = 200, headers: [(String, String)] = [], _ json: String) -> [Step] {
        Self.respond(status: status, headers: headers + [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    public struct RecordedRequest: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var path: String { String(self.uri.prefix { $0 != "?" }) }
    }

    public let port: Int
    private let serverChannel: any Channel
    private let acceptTask: Mutex<Task<Void, Never>?>
    private let routes = Mutex<[String: [Step]]>([:])
    private let recorded = Mutex<[RecordedRequest]>([])
    private let clientDisconnects = Mutex<[String: Int]>([:])
    /// Open connections, closed by ``stop()`` (a `.hang` step would otherwise wait forever).
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    private init(port: Int, serverChannel: any Channel) {
        self.port = port
        self.serverChannel = serverChannel
        self.acceptTask = Mutex(nil)
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    public static func start() async throws -> FakeHTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: child
                    )
                }
            }
        guard let port = channel.channel.localAddress?.port else {
            throw ChannelError.unknownLocalAddress
        }
        let server = FakeHTTPServer(port: port, serverChannel: channel.channel)
        let task = Task {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await server.serve(connection) }
                    }
                }
            }
        }
        server.acceptTask.withLock { $0 = task }
        return server
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(self.port)" }

    public func route(_ path: String, _ steps: [Step]) {
        self.routes.withLock { $0[path] = steps }
    }

    /// Requests received, all or those for `path` (the URI without its query).
    public func requests(_ path: String? = nil) -> [RecordedRequest] {
        self.recorded.withLock { all in
            guard let path else { return all }
            return all.filter { $0.path == path }
        }
    }

    /// How many times a client closed its connection while a response to `path` was in progress.
    public func disconnects(_ path: String) -> Int {
        self.clientDisconnects.withLock { $0[path] ?? 0 }
    }

    /// Waits (at most `limit`) until a client has closed its connection during a response to `path`.
    public func waitForClientDisconnect(_ path: String, within limit: Duration = .seconds(30)) async -> Bool {
        await Self.poll(within: limit) { self.disconnects(path) > 0 }
    }

    /// Waits (at most `limit`) until `condition` holds; true if it did.
    public static func poll(within limit: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    public func stop() async {
        let task = self.acceptTask.withLock { $0 }
        task?.cancel()
        try? await self.serverChannel.close()
        for channel in self.connections.withLock({ Array($0.values) }) {
            try? await channel.close()
        }
        await task?.value
    }

    // MARK: - Serving

    /// Per connection: which path is being answered, and whether the server closed it.
    private final class ConnectionState: Sendable {
        struct Fields {
            var respondingTo: String?
            var closedByServer = false
        }
        let fields = Mutex(Fields())
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let state = ConnectionState()
        let id = ObjectIdentifier(connection.channel)
        self.connections.withLock { $0[id] = connection.channel }
        connection.channel.closeFuture.whenComplete { _ in
            self.connections.withLock { $0[id] = nil }
            let path = state.fields.withLock { $0.closedByServer ? nil : $0.respondingTo }
            if let path {
                self.clientDisconnects.withLock { $0[path, default: 0] += 1 }
            }
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var requestHead: HTTPRequestHead?
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        requestHead = head
                        body = []
                    case .body(let buffer):
                        body.append(contentsOf: buffer.readableBytesView)
                    case .end:
                        guard let head = requestHead else { continue }
                        let request = RecordedRequest(
                            method: head.method.rawValue,
                            uri: head.uri,
                            headers: head.headers.map { ($0.name, $0.value) },
                            body: body
                        )
                        self.recorded.withLock { $0.append(request) }
                        let path = String(head.uri.prefix { $0 != "?" })
                        let steps = self.routes.withLock { $0[path] } ?? Self.json(status: 404, #"{"error":"no route"}"#)
                        state.fields.withLock { $0.respondingTo = path }
                        let keepOpen = try await self.run(steps, outbound: outbound, channel: connection.channel, state: state)
                        guard keepOpen else { return }
                        state.fields.withLock { $0.respondingTo = nil }
                    }
                }
            }
        } catch {
            // The client went away mid-write; the close callback has counted it.
        }
        state.fields.withLock { $0.closedByServer = true }
    }

    /// Plays `steps`; false when the connection is finished (closed, or the client left).
    private func run(
        _ steps: [Step],
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        channel: any Channel,
        state: ConnectionState
    ) async throws -> Bool {
        for step in steps {
            switch step {
            case .head(let status, let headers):
                var fields = HTTPHeaders()
                for (name, value) in headers { fields.add(name: name, value: value) }
                try await outbound.write(
                    .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields))
                )
            case .body(let bytes):
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
            case .sleep(let duration):
                try await Task.sleep(for: duration)
            case .wait(let gate):
                _ = await gate.wait(within: .seconds(60))
            case .run(let effect):
                effect()
            case .end:
                try await outbound.write(.end(nil))
            case .close:
                state.fields.withLock { $0.closedByServer = true }
                try await channel.close()
                return false
            case .hang:
                try? await channel.closeFuture.get()
                return false
            }
        }
        return true
    }
}

/// A one-way signal between a test and a server script.
public final class Gate: Sendable {
    public init() {}

    private let isOpen = Atomic<Bool>(false)

    public func open() {
        self.isOpen.store(true, ordering: .sequentiallyConsistent)
    }

    public var opened: Bool { self.isOpen.load(ordering: .sequentiallyConsistent) }

    /// True when opened within `limit`.
    public func wait(within limit: Duration) async -> Bool {
        await FakeHTTPServer.poll(within: limit) { self.opened }
    }
}
