import Logging
import NIOCore
import NIOEmbedded
import OvaWire
import Synchronization
import Testing

@testable import OvaRPC

/// The server side of a connection in memory: no sockets, no TLS, and the event loop's clock
/// moved by hand. Each test reads like a transcript of frames.
struct InMemoryConnection {
    let loop = NIOAsyncTestingEventLoop()
    let channel: NIOAsyncTestingChannel
    let methods: TestMethods
    private var decoder = FrameDecoder(role: .client, maxFrameSize: 1 << 24, maxMetadataSize: 1 << 20)
    private var received = ByteBuffer()
    private var nextStreamID: UInt32 = 1

    /// - Parameter ageJitterUnit: where the connection's age limit falls in its ±10 % spread.
    init(
        limits: ConnectionLimits = ConnectionLimits(),
        methods: TestMethods = TestMethods(),
        ageJitterUnit: @escaping @Sendable () -> Double = ConnectionAgeLimit.randomUnit
    ) async throws {
        self.methods = methods
        let channel = NIOAsyncTestingChannel(loop: self.loop)
        self.channel = channel
        var router = RPCRouter()
        methods.register(in: &router)
        let dispatcher = ServerDispatcher(
            router: router,
            connectionID: "test",
            peerAddress: "in-memory",
            callLogger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metrics: ServerMetrics()
        )
        try await self.loop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
                role: .server(dispatcher),
                limits: limits,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                ageJitterUnit: ageJitterUnit
            ))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
    }

    /// Preface and the client's SETTINGS; returns the server's SETTINGS.
    mutating func handshake(_ settings: Settings = Settings()) async throws -> Settings? {
        var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
        FrameEncoder.encode(.settings(settings), into: &bytes)
        try await self.channel.writeInbound(bytes)
        for frame in try await self.readFrames() {
            if case .settings(let server) = frame { return server }
        }
        return nil
    }

    mutating func send(_ frames: [Frame]) async throws {
        var bytes = ByteBuffer()
        for frame in frames { FrameEncoder.encode(frame, into: &bytes) }
        try await self.channel.writeInbound(bytes)
    }

    /// Opens a call: HEADERS, and with `request` a MESSAGE with END_STREAM.
    mutating func open(_ method: MethodDescriptor, request: [UInt8]? = nil, timeoutMicroseconds: UInt64? = nil) async throws -> UInt32 {
        let id = self.nextStreamID
        self.nextStreamID += 2
        var frames: [Frame] = [.requestHeaders(streamID: id, RequestHeaders(path: method.path, timeoutMicroseconds: timeoutMicroseconds), endStream: false)]
        if let request {
            frames.append(.message(streamID: id, payload: ByteBuffer(bytes: request), flags: .endStream))
        }
        try await self.send(frames)
        return id
    }

    /// Runs what the event loop has queued and returns the frames written since the last call.
    mutating func readFrames() async throws -> [Frame] {
        await self.loop.run()
        while let buffer = try await self.channel.readOutbound(as: ByteBuffer.self) {
            var buffer = buffer
            self.received.writeBuffer(&buffer)
        }
        var frames: [Frame] = []
        while let frame = try self.decoder.decode(buffer: &self.received) {
            frames.append(frame)
        }
        return frames
    }

    func advanceTime(by amount: TimeAmount) async {
        await self.loop.advanceTime(by: amount)
    }

    var isActive: Bool { self.channel.isActive }

    /// The connection's write budget (bytes its calls have queued).
    func writeBudget() async throws -> ConnectionWriteBudget {
        let channel = self.channel
        return try await self.loop.executeInContext {
            try channel.pipeline.syncOperations.handler(type: ConnectionHandler.self).shared.writeBudget
        }
    }

    func setWritable(_ writable: Bool) async throws {
        let channel = self.channel
        try await self.loop.executeInContext {
            channel.isWritable = writable
            channel.pipeline.fireChannelWritabilityChanged()
        }
    }
}

/// Methods whose progress the tests can watch and control.
final class TestMethods: Sendable {
    /// Unary: waits (up to 60 s) until cancelled.
    static let hang = MethodDescriptor(service: "test.Conn", name: "Hang", kind: .unary, inputType: "raw", outputType: "raw")
    /// Server streaming: the request is `count` (u16) and `size` (u32); sends `count` responses of `size` bytes.
    static let flood = MethodDescriptor(service: "test.Conn", name: "Flood", kind: .serverStreaming, inputType: "raw", outputType: "raw")
    /// Client streaming: reads nothing until `openGate()`, then counts the requests.
    static let gated = MethodDescriptor(service: "test.Conn", name: "Gated", kind: .clientStreaming, inputType: "raw", outputType: "raw")

    private let state = Mutex<(writes: Int, cancelled: Int, read: Int)>((0, 0, 0))
    private let gate = AsyncStream<Void>.makeStream()

    var writesCompleted: Int { self.state.withLock { $0.writes } }
    var cancelled: Int { self.state.withLock { $0.cancelled } }
    var requestsRead: Int { self.state.withLock { $0.read } }

    func openGate() { self.gate.continuation.finish() }

    static func floodRequest(count: UInt16, size: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(count)
        buffer.writeInteger(size)
        return Array(buffer.readableBytesView)
    }

    func register(in router: inout RPCRouter) {
        router.registerUnary(Self.hang) { (_: RawMessage, _: ServerContext) -> RawMessage in
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                self.state.withLock { $0.cancelled += 1 }
                throw error
            }
            return RawMessage(bytes: [])
        }
        router.registerServerStreaming(Self.flood) { (request: RawMessage, writer: RPCResponseWriter<RawMessage>, _: ServerContext) in
            var buffer = ByteBuffer(bytes: request.bytes)
            guard let count = buffer.readInteger(as: UInt16.self), let size = buffer.readInteger(as: UInt32.self) else { return }
            let response = RawMessage(bytes: [UInt8](repeating: 7, count: Int(size)))
            for _ in 0..<count {
                try await writer.write(response)
                self.state.withLock { $0.writes += 1 }
            }
        }
        router.registerClientStreaming(Self.gated) { (requests: RPCRequestStream<RawMessage>, _: ServerContext) -> RawMessage in
            for await _ in self.gate.stream {}
            for try await _ in requests {
                self.state.withLock { $0.read += 1 }
            }
            return RawMessage(bytes: [])
        }
    }

    /// Waits (polling, up to 10 s of real time) until `condition` holds; the work it waits
    /// for runs on other threads (handler tasks).
    func eventually(_ connection: InMemoryConnection, _ condition: (TestMethods) async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            await connection.loop.run()
            if try await condition(self) { return true }
            try await Task.sleep(for: .milliseconds(2))
        }
        return try await condition(self)
    }
}

extension Array where Element == Frame {
    var goAway: (code: StatusCode, message: String)? {
        for frame in self {
            if case .goAway(_, let code, let message) = frame { return (code, message) }
        }
        return nil
    }

    func trailers(on streamID: UInt32) -> Trailers? {
        for frame in self {
            if case .trailers(streamID, let trailers) = frame { return trailers }
        }
        return nil
    }

    /// MESSAGE frames: (stream, payload size, continued).
    var messages: [(streamID: UInt32, size: Int, continued: Bool)] {
        self.compactMap { frame in
            if case .message(let id, let payload, let flags) = frame { return (id, payload.readableBytes, flags.contains(.continued)) }
            return nil
        }
    }

    var windowUpdates: [(streamID: UInt32, increment: UInt32)] {
        self.compactMap { frame in
            if case .windowUpdate(let id, let increment) = frame { return (id, increment) }
            return nil
        }
    }
}

@Suite("Connection in memory (state machine, timeouts, floods, windows, writability)")
struct ConnectionHandlerTests {
    // MARK: - SETTINGS first, timeouts, draining

    @Test func theFirstFrameMustBeSettings() async throws {
        var connection = try await InMemoryConnection()
        var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
        FrameEncoder.encode(.ping(data: 1, ack: false), into: &bytes)
        try await connection.channel.writeInbound(bytes)
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .internalError)
        #expect(frames.goAway?.message == "the first frame must be SETTINGS")
        #expect(!connection.isActive)
    }

    @Test func aSecondSettingsIsAConnectionError() async throws {
        var connection = try await InMemoryConnection()
        // On its defaults the server sends the protocol defaults: the `settings-defaults`
        // vector of §17 (TestVectorTests decodes that vector to `Settings()`).
        #expect(try await connection.handshake() == Settings())
        try await connection.send([.settings(Settings())])
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .internalError)
        #expect(frames.goAway?.message == "SETTINGS may be sent only once")
    }

    @Test func handshakeTimeoutClosesASilentConnection() async throws {
        var limits = ConnectionLimits()
        limits.handshakeTimeout = .seconds(10)
        var connection = try await InMemoryConnection(limits: limits)
        _ = try await connection.readFrames()  // the server's SETTINGS
        await connection.advanceTime(by: .seconds(9))
        #expect(try await connection.readFrames().isEmpty)
        #expect(connection.isActive)
        await connection.advanceTime(by: .seconds(1))
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .deadlineExceeded)
        #expect(!connection.isActive)
    }

    @Test func handshakeTimerIsDisarmedBySettings() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        await connection.advanceTime(by: .seconds(60))
        #expect(try await connection.readFrames().goAway == nil)
        #expect(connection.isActive)
    }

    @Test func idleConnectionIsClosedAfterTheTimeoutAndACallResetsIt() async throws {
        var limits = ConnectionLimits()
        limits.idleTimeout = .seconds(30)
        var connection = try await InMemoryConnection(limits: limits)
        _ = try await connection.handshake()
        await connection.advanceTime(by: .seconds(20))
        // A call that lasts 20 s: the connection is not idle meanwhile.
        let id = try await connection.open(TestMethods.hang, request: [])
        await connection.advanceTime(by: .seconds(20))
        #expect(try await connection.readFrames().goAway == nil)
        try await connection.send([.reset(streamID: id, code: .cancelled)])
        // Idle again from now: 29 s later still open, 30 s later closed.
        await connection.advanceTime(by: .seconds(29))
        #expect(try await connection.readFrames().goAway == nil)
        await connection.advanceTime(by: .seconds(1))
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .ok)
        #expect(frames.goAway?.message == "idle timeout")
        #expect(!connection.isActive)
    }

    @Test func gracefulShutdownDrainsThenCloses() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        let first = try await connection.open(TestMethods.gated)
        let channel = connection.channel
        try await connection.loop.executeInContext { channel.pipeline.fireUserInboundEventTriggered(GracefulShutdownEvent()) }
        var frames = try await connection.readFrames()
        guard case .goAway(let last, .ok, _)? = frames.first(where: { if case .goAway = $0 { return true }; return false }) else {
            Issue.record("no GOAWAY(OK): \(frames)")
            return
        }
        #expect(last == first)
        // A call that crossed the GOAWAY is refused; the accepted one runs to its end.
        let late = try await connection.open(TestMethods.gated)
        frames = try await connection.readFrames()
        #expect(frames.trailers(on: late)?.code == .unavailable)
        #expect(connection.isActive)
        connection.methods.openGate()
        try await connection.send([.halfClose(streamID: first)])
        var done: [Frame] = []
        #expect(try await connection.methods.eventually(connection) { _ in
            done += try await connection.readFrames()
            return done.trailers(on: first) != nil
        })
        #expect(done.trailers(on: first)?.code == .ok)
        #expect(try await connection.methods.eventually(connection) { _ in !connection.isActive })
    }

    /// §7: only the server's MAX_CONCURRENT_STREAMS matters; a client's value is ignored.
    @Test func aClientsMaxConcurrentStreamsIsIgnored() async throws {
        var connection = try await InMemoryConnection()
        var client = Settings()
        client.maxConcurrentStreams = 0
        _ = try await connection.handshake(client)
        let id = try await connection.open(TestMethods.flood, request: TestMethods.floodRequest(count: 1, size: 3))
        var frames: [Frame] = []
        #expect(try await connection.methods.eventually(connection) { _ in
            frames += try await connection.readFrames()
            return frames.trailers(on: id) != nil
        })
        #expect(frames.trailers(on: id)?.code == .ok)
        #expect(frames.messages.map(\.size) == [3])
    }

    @Test func halfCloseAfterEndStreamIsAConnectionError() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        let id = try await connection.open(TestMethods.hang, request: [])
        try await connection.send([.halfClose(streamID: id)])
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .internalError)
        #expect(frames.goAway?.message.contains("HALF_CLOSE") == true)
    }

    @Test func aTimeoutAboveOneHundredDaysIsInvalidArgument() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        let id = try await connection.open(TestMethods.hang, request: [], timeoutMicroseconds: UInt64.max)
        let frames = try await connection.readFrames()
        #expect(frames.trailers(on: id)?.code == .invalidArgument)
        #expect(frames.goAway == nil)
    }

    @Test func framesOnASkippedStreamIdAreIgnored() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        // Stream 5 opened, 3 skipped: a RESET or WINDOW_UPDATE for 3 is a harmless no-op.
        try await connection.send([.requestHeaders(streamID: 5, RequestHeaders(path: TestMethods.hang.path), endStream: false)])
        try await connection.send([.windowUpdate(streamID: 3, increment: 4096), .reset(streamID: 3, code: .cancelled)])
        #expect(try await connection.readFrames().goAway == nil)
        // A frame above the highest opened id is a connection error.
        try await connection.send([.windowUpdate(streamID: 7, increment: 4096)])
        #expect(try await connection.readFrames().goAway?.code == .internalError)
    }

    // MARK: - Flood limits

    @Test func pingFloodIsCutOffButOnePingASecondIsNot() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        for _ in 0..<30 {
            try await connection.send([.ping(data: 1, ack: false)])
            await connection.advanceTime(by: .seconds(1))
        }
        let calm = try await connection.readFrames()
        #expect(calm.goAway == nil)
        #expect(calm.filter { if case .ping(_, true) = $0 { return true }; return false }.count == 30)
        try await connection.send([Frame](repeating: .ping(data: 2, ack: false), count: 21))
        #expect(try await connection.readFrames().goAway?.message == "too many PING frames")
    }

    static let controlFloods: [(String, Frame?)] = [
        ("SETTINGS ACK", .settingsAck),
        ("PING ACK", .ping(data: 9, ack: true)),
        ("WINDOW_UPDATE(1)", .windowUpdate(streamID: 0, increment: 1)),
        ("unknown type", nil),
    ]

    @Test(arguments: controlFloods)
    func controlFrameFloodIsCutOff(name: String, frame: Frame?) async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        func burst(_ count: Int) -> ByteBuffer {
            var bytes = ByteBuffer()
            for _ in 0..<count {
                if let frame {
                    FrameEncoder.encode(frame, into: &bytes)
                } else {
                    // Type 0x0f is unknown, on an even stream id: skipped all the same (§4).
                    bytes.writeBytes([0, 0, 1, 0x0f, 0, 0, 0, 0, 2, 0])
                }
            }
            return bytes
        }
        // A sustained 100 per second is within the budget, whatever the burst before it.
        try await connection.channel.writeInbound(burst(999))
        for _ in 0..<5 {
            await connection.advanceTime(by: .seconds(1))
            try await connection.channel.writeInbound(burst(100))
        }
        #expect(try await connection.readFrames().goAway == nil, "\(name)")
        try await connection.channel.writeInbound(burst(20_000))
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .resourceExhausted, "\(name)")
        #expect(frames.goAway?.message == "too many control frames", "\(name)")
    }

    @Test func rapidResetIsCutOff() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        var goAway: (code: StatusCode, message: String)?
        var opened = 0
        while goAway == nil, opened < 5_000 {
            let id = try await connection.open(TestMethods.hang, request: [])
            try await connection.send([.reset(streamID: id, code: .cancelled)])
            opened += 1
            if opened % 50 == 0 { goAway = try await connection.readFrames().goAway }
        }
        if goAway == nil { goAway = try await connection.readFrames().goAway }
        #expect(goAway?.code == .resourceExhausted)
        #expect(goAway?.message == "too many RESET frames")
        #expect(opened <= 250)
    }

    /// §10 against §13: 300 calls whose client deadline fires (RESET at 93 % of the timeout)
    /// are not a flood; the same RESETs at half the timeout are.
    @Test func resetsAtTheDeadlineAreNotAFlood() async throws {
        var connection = try await InMemoryConnection()
        _ = try await connection.handshake()
        var ids: [UInt32] = []
        for _ in 0..<300 {
            ids.append(try await connection.open(TestMethods.hang, request: [], timeoutMicroseconds: 300_000))
        }
        await connection.advanceTime(by: .milliseconds(280))
        try await connection.send(ids.map { .reset(streamID: $0, code: .cancelled) })
        #expect(try await connection.readFrames().goAway == nil)
        #expect(try await connection.methods.eventually(connection) { $0.cancelled == 300 })

        ids = []
        for _ in 0..<300 {
            ids.append(try await connection.open(TestMethods.hang, request: [], timeoutMicroseconds: 300_000))
        }
        await connection.advanceTime(by: .milliseconds(150))
        try await connection.send(ids.map { .reset(streamID: $0, code: .cancelled) })
        #expect(try await connection.readFrames().goAway?.message == "too many RESET frames")
    }

    // MARK: - Windows (§9)

    /// S1 and R1 towards a client that reads nothing: a 65,536 window holds six 10,000-byte
    /// responses; the seventh would need a fragment below T = 32,768, so nothing more is sent.
    @Test func anUnreadStreamGetsItsWindowAndNoSlivers() async throws {
        var limits = ConnectionLimits()
        limits.outboundHighWatermark = 1 << 20  // the handler queues all 40 at once
        var connection = try await InMemoryConnection(limits: limits)
        var client = Settings()
        client.initialStreamWindow = 65_536
        client.maxFrameSize = 65_536
        _ = try await connection.handshake(client)
        let id = try await connection.open(TestMethods.flood, request: TestMethods.floodRequest(count: 40, size: 10_000))
        #expect(try await connection.methods.eventually(connection) { $0.writesCompleted == 40 })
        var frames = try await connection.readFrames()
        var sizes = frames.messages.filter { $0.streamID == id }.map(\.size)
        #expect(sizes == [Int](repeating: 10_000, count: 6))
        // Credit that leaves 38,304 bytes of window: three more whole messages, then a wait
        // (8,304 < T), never a sliver.
        try await connection.send([.windowUpdate(streamID: id, increment: 32_768)])
        frames = try await connection.readFrames()
        sizes = frames.messages.filter { $0.streamID == id }.map(\.size)
        #expect(sizes == [10_000, 10_000, 10_000])
        // A larger message through the remaining window goes in fragments of at least T.
        try await connection.send([.windowUpdate(streamID: id, increment: 65_536)])
        frames = try await connection.readFrames()
        #expect(frames.messages.allSatisfy { !$0.continued || $0.size >= 32_768 })
    }

    /// R1 and R2 for what the server receives: fragments are credited only once the waiting
    /// message has been read.
    @Test func fragmentsAreNotCreditedWhileAMessageWaits() async throws {
        var limits = ConnectionLimits()
        limits.settings.initialStreamWindow = 65_536
        var connection = try await InMemoryConnection(limits: limits)
        _ = try await connection.handshake()
        let id = try await connection.open(TestMethods.gated)
        let fragment = ByteBuffer(repeating: 1, count: 32_768)
        try await connection.send([
            .message(streamID: id, payload: ByteBuffer(repeating: 2, count: 10_000), flags: []),
            .message(streamID: id, payload: fragment, flags: .continued),
        ])
        // Window 22,768 < T with a message waiting: no credit.
        #expect(try await connection.readFrames().windowUpdates.filter { $0.streamID == id }.isEmpty)
        connection.methods.openGate()
        var credited = 0
        #expect(try await connection.methods.eventually(connection) { _ in
            credited += try await connection.readFrames().windowUpdates.filter { $0.streamID == id }.map { Int($0.increment) }.reduce(0, +)
            return credited >= 10_000
        })
        // The waiting message was read: its credit leaves a window of T, room for one more
        // fragment, so the fragments need no credit yet (R2 only requires it below T).
        #expect(credited == 10_000)
        // The next fragment empties the window with nothing waiting: now it is credited.
        try await connection.send([
            .message(streamID: id, payload: fragment, flags: .continued),
            .message(streamID: id, payload: ByteBuffer(repeating: 3, count: 100), flags: .endStream),
        ])
        var frames: [Frame] = []
        #expect(try await connection.methods.eventually(connection) { _ in
            frames += try await connection.readFrames()
            return frames.trailers(on: id) != nil
        })
        #expect(frames.trailers(on: id)?.code == .ok)
        #expect(connection.methods.requestsRead == 2)
    }

    // MARK: - Writability and the connection's buffer

    @Test func aPeerThatDoesNotReadHoldsAtMostTheConnectionBuffer() async throws {
        var limits = ConnectionLimits()
        limits.maxConnectionBuffer = 128 * 1024
        var connection = try await InMemoryConnection(limits: limits)
        var huge = Settings()
        huge.initialStreamWindow = Settings.maxWindow
        huge.initialConnectionWindow = Settings.maxWindow
        huge.maxFrameSize = 16_777_215
        _ = try await connection.handshake(huge)
        // The socket stops taking bytes (the peer does not read).
        try await connection.setWritable(false)
        var ids: [UInt32] = []
        for _ in 0..<4 {
            ids.append(try await connection.open(TestMethods.flood, request: TestMethods.floodRequest(count: 1000, size: 64 * 1024)))
        }
        let budget = try await connection.writeBudget()
        #expect(try await connection.methods.eventually(connection) { _ in budget.queuedBytes > budget.limit })
        _ = try await connection.readFrames()
        // Every writer is now suspended: what is queued is the limit plus at most one message
        // per stream, and nothing went to the socket.
        let queued = budget.queuedBytes
        let writes = connection.methods.writesCompleted
        #expect(queued <= budget.limit + ids.count * 64 * 1024)
        #expect(writes <= (budget.limit + ids.count * 64 * 1024) / (64 * 1024))
        // Writable again: the queues drain and the writers go on.
        try await connection.setWritable(true)
        var sent = 0
        #expect(try await connection.methods.eventually(connection) { methods in
            sent += try await connection.readFrames().messages.count
            return methods.writesCompleted > writes + 8 && sent > 8
        })
        // The peer stops reading again and stays silent for the write-stall timeout: the
        // connection is closed, the handlers cancelled and their bytes released at once.
        try await connection.setWritable(false)
        await connection.advanceTime(by: .seconds(59))
        #expect(connection.isActive)
        await connection.advanceTime(by: .seconds(1))
        #expect(!connection.isActive)
        #expect(try await connection.methods.eventually(connection) { _ in budget.queuedBytes == 0 })
    }
}

extension ByteBuffer {
    init(repeating byte: UInt8, count: Int) {
        self.init(bytes: [UInt8](repeating: byte, count: count))
    }
}
