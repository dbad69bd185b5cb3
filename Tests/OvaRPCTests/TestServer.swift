import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OvaProto
import OvaServer
import OvaServices
import OvaTestServer
import OvaTestSupport
import Synchronization
import Testing

@testable import OvaRPC

/// A real OVA server on 127.0.0.1 with a fresh development certificate, for one test.
struct TestServer: RunningTestServer {
    let base: RouterTestServer
    let probes: ProbeRecorder

    var server: RPCServer { self.base.server }
    var port: Int { self.base.port }

    /// Starts a server with Echo, Health, Reflection and the test Probe methods.
    static func start(
        limits: ConnectionLimits = ConnectionLimits(),
        grace: TimeAmount = .seconds(5),
        logger: Logger = Logger(label: "ova.test"),
        sharingCertificateWith other: TestServer? = nil
    ) async throws -> TestServer {
        let probes = ProbeRecorder()
        var router = ServiceRegistry().router
        probes.register(in: &router)
        let base = try await RouterTestServer.start(
            router: router, limits: limits, grace: grace, logger: logger, sharingCertificateWith: other?.base
        )
        return TestServer(base: base, probes: probes)
    }

    func makeChannel() throws -> RPCChannel {
        try self.base.makeChannel()
    }

    func makeChannel(limits: ConnectionLimits) throws -> RPCChannel {
        try self.base.makeChannel(limits: limits)
    }

    /// After an abuse (or a failed neighbour) the server must still answer a normal client.
    func assertStillServing() async throws {
        let channel = try self.makeChannel()
        try await withAsyncCleanup {
            var request = EchoRequest()
            request.text = "alive"
            let observed = try await EchoClient(channel: channel).unary(request).text
            #expect(observed == "alive")
        } cleanup: {
            await channel.close()
        }
    }

    func stop() async {
        await self.base.stop()
    }
}

/// Runs `body` against a fresh server and always stops it.
@discardableResult
func withServer<Result>(
    limits: ConnectionLimits = ConnectionLimits(),
    _ body: (TestServer, RPCChannel) async throws -> Result
) async throws -> Result {
    try await TestServer.start(limits: limits).run(body)
}

/// Runs `body` against a fresh server that `withServer` would start, and awaits its stop, also
/// when `body` throws: for tests that make their own channels or connections.
@discardableResult
func withTestServer<Result>(
    limits: ConnectionLimits = ConnectionLimits(),
    logger: Logger = Logger(label: "ova.test"),
    _ body: (TestServer) async throws -> Result
) async throws -> Result {
    let server = try await TestServer.start(limits: limits, logger: logger)
    return try await withAsyncCleanup {
        try await body(server)
    } cleanup: {
        await server.stop()
    }
}

/// Test-only methods that report what the server side saw.
final class ProbeRecorder: Sendable {
    static let hang = MethodDescriptor(service: "test.Probe", name: "Hang", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    /// Fails with the status code in `response_count`, its message in `text`, and a cause.
    static let fail = MethodDescriptor(service: "test.Probe", name: "Fail", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    static let flood = MethodDescriptor(service: "test.Probe", name: "Flood", kind: .serverStreaming, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")

    private let state = Mutex<(started: Int, cancelled: Int, writes: Int)>((0, 0, 0))

    var started: Int { self.state.withLock { $0.started } }
    var cancelled: Int { self.state.withLock { $0.cancelled } }
    var writesCompleted: Int { self.state.withLock { $0.writes } }

    func register(in router: inout RPCRouter) {
        router.registerUnary(Self.hang) { (request: EchoRequest, context: ServerContext) -> EchoResponse in
            self.state.withLock { $0.started += 1 }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                self.state.withLock { $0.cancelled += 1 }
                throw error
            }
            return EchoResponse()
        }
        router.registerUnary(Self.fail) { (request: EchoRequest, context: ServerContext) -> EchoResponse in
            throw RPCError(
                code: StatusCode(rawValue: UInt8(clamping: request.responseCount)) ?? .unknown,
                message: request.text,
                cause: ProbeCause(detail: "disk I/O error in probe.sqlite3")
            )
        }
        router.registerServerStreaming(Self.flood) { (request: EchoRequest, writer: RPCResponseWriter<EchoResponse>, context: ServerContext) in
            var response = EchoResponse()
            response.payload = [UInt8](repeating: 7, count: Int(request.responseSize))
            for sequence in 0..<UInt64(request.responseCount) {
                response.sequence = sequence
                try await writer.write(response)
                self.state.withLock { $0.writes += 1 }
            }
        }
    }

    /// Polls `condition` every 10 ms for up to `seconds`.
    func waitUntil(seconds: Double = 30, _ condition: (ProbeRecorder) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }
}

/// The underlying error the Fail probe attaches; only the server log may show it.
struct ProbeCause: Error, CustomStringConvertible {
    let detail: String
    var description: String { "ProbeCause(\(self.detail))" }
}
