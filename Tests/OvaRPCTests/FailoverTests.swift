import Foundation
import NIOCore
import OvaProto
import OvaTestSupport
import Testing

@testable import OvaRPC

/// Two instances of one service and a channel that knows both: the client side of issue 14's
/// rebalancing (a lost server, a GOAWAY at the connection's maximum age).
struct ServerPair {
    /// Both serve the first one's development certificate, as instances of one service would
    /// serve one certificate.
    let servers: [TestServer]

    static func start(limits: ConnectionLimits = ConnectionLimits()) async throws -> ServerPair {
        let first = try await TestServer.start(limits: limits)
        do {
            let second = try await TestServer.start(limits: limits, sharingCertificateWith: first)
            return ServerPair(servers: [first, second])
        } catch {
            await first.stop()
            throw error
        }
    }

    func endpoint(_ index: Int) -> RPCChannel.Configuration.Endpoint {
        .init(host: "127.0.0.1", port: self.servers[index].port)
    }

    func makeChannel(_ endpoints: [RPCChannel.Configuration.Endpoint], firstEndpoint: Int? = nil) throws -> RPCChannel {
        var configuration = RPCChannel.Configuration(
            endpoints: endpoints,
            tls: ClientTLSConfiguration(trust: .certificateFile(self.servers[0].base.certificatePath), serverHostname: "localhost")
        )
        configuration.firstEndpoint = firstEndpoint
        return try RPCChannel(configuration: configuration)
    }

    /// Calls each server has served.
    var calls: [Int] { self.servers.map { $0.server.metrics.totalCalls } }

    func stop() async {
        for server in self.servers { await server.stop() }
    }

    func run<Result>(_ body: (ServerPair) async throws -> Result) async throws -> Result {
        try await withAsyncCleanup { try await body(self) } cleanup: { await self.stop() }
    }
}

/// A port of 127.0.0.1 where nothing listens: a server's, once it stopped.
private func deadEndpoint() async throws -> RPCChannel.Configuration.Endpoint {
    let server = try await TestServer.start()
    await server.stop()
    return .init(host: "127.0.0.1", port: server.port)
}

private func echo(_ channel: RPCChannel, _ text: String, delayMs: UInt32 = 0) async throws -> String {
    var request = EchoRequest()
    request.text = text
    request.delayMs = delayMs
    return try await EchoClient(channel: channel).unary(request).text
}

@Suite("Several server addresses: failover and rebalancing")
struct FailoverTests {
    @Test func whenTheServerOfTheConnectionStopsTheNextCallGoesToTheOther() async throws {
        try await ServerPair.start().run { pair in
            let channel = try pair.makeChannel([pair.endpoint(0), pair.endpoint(1)])
            try await withAsyncCleanup {
                let echoed = try await echo(channel, "one")
                #expect(echoed == "one")
                let served = pair.calls[0] == 1 ? 0 : 1
                #expect(pair.calls[served] == 1 && pair.calls[1 - served] == 0)
                await pair.servers[served].stop()
                // A call placed before the client read the GOAWAY would be in flight on a lost
                // connection (UNAVAILABLE, by design); wait until the client knows.
                #expect(await pair.servers[1 - served].probes.waitUntil { _ in !channel.hasUsableConnection })
                let second = try await echo(channel, "two")
                #expect(second == "two")
                #expect(pair.calls[1 - served] == 1)
                let third = try await echo(channel, "three")
                #expect(third == "three")
                #expect(pair.calls[1 - served] == 2)
            } cleanup: {
                await channel.close()
            }
        }
    }

    @Test func anAddressThatRefusesIsSkipped() async throws {
        let dead = try await deadEndpoint()
        try await ServerPair.start().run { pair in
            // The dead address first: the call still succeeds, on the live one.
            let channel = try pair.makeChannel([dead, pair.endpoint(0)], firstEndpoint: 0)
            try await withAsyncCleanup {
                let echoed = try await echo(channel, "through")
                #expect(echoed == "through")
                #expect(pair.calls[0] == 1)
            } cleanup: {
                await channel.close()
            }
        }
    }

    @Test func whenNoAddressAnswersTheCallFailsUnavailableNamingEach() async throws {
        let first = try await deadEndpoint()
        let second = try await deadEndpoint()
        var configuration = RPCChannel.Configuration(endpoints: [first, second], tls: ClientTLSConfiguration(trust: .insecureNoVerification))
        configuration.firstEndpoint = 0
        let channel = try RPCChannel(configuration: configuration)
        let error = await #expect(throws: RPCError.self) { try await echo(channel, "nobody") }
        #expect(error?.code == .unavailable)
        // Now both addresses are pausing: the call waits for the first pause to end rather
        // than fail at once or spin, tries again, and fails with the reason.
        let again = await #expect(throws: RPCError.self) { try await echo(channel, "nobody") }
        #expect(again?.code == .unavailable)
        #expect(again?.message.contains("\(first)") == true)
        await channel.close()
    }

    @Test func theFirstFailureNamesBothAddresses() async throws {
        let first = try await deadEndpoint()
        let second = try await deadEndpoint()
        let channel = try RPCChannel(configuration: .init(endpoints: [first, second], tls: ClientTLSConfiguration(trust: .insecureNoVerification)))
        let error = await #expect(throws: RPCError.self) { try await echo(channel, "nobody") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix("no server address answered") == true)
        #expect(error?.message.contains("\(first)") == true)
        #expect(error?.message.contains("\(second)") == true)
        await channel.close()
    }

    /// Connections GOAWAY'd at their maximum age: calls move to the other server, in-flight
    /// calls finish, and no call fails (those that crossed a GOAWAY go again).
    @Test(.timeLimit(.minutes(2)))
    func aConnectionsMaximumAgeMovesTheClientWithoutAFailedCall() async throws {
        var limits = ConnectionLimits()
        // Well above a TLS handshake on a loaded machine: a connection aged out before its first
        // call could carry it would only measure the handshake.
        limits.maxConnectionAge = .seconds(1)
        limits.maxConnectionAgeGrace = .seconds(30)
        try await ServerPair.start(limits: limits).run { pair in
            let channel = try pair.makeChannel([pair.endpoint(0), pair.endpoint(1)], firstEndpoint: 0)
            try await withAsyncCleanup {
                // Longer than the age: the GOAWAY comes while it runs (or, on a slow machine,
                // before it was sent, and it goes again); either way it ends OK.
                let echoed = try await echo(channel, "in flight", delayMs: 2_000)
                #expect(echoed == "in flight")
                // Back-to-back calls from several tasks until both servers served some after
                // the first moved away: each one must succeed.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<4 {
                        group.addTask {
                            var sent = 0
                            while pair.calls[1] < 20 || pair.calls[0] < 20 {
                                sent += 1
                                let text = "\(task)-\(sent)"
                                let echoed = try await echo(channel, text)
                                #expect(echoed == text)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            } cleanup: {
                await channel.close()
            }
        }
    }
}

@Suite("Endpoint rotation and address lists")
struct EndpointRotationTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func connectionsGoToTheAddressesInTurn() {
        var rotation = EndpointRotation(count: 3, start: 1, baseBackoff: .milliseconds(100), maxBackoff: .seconds(2))
        let order = (0..<6).compactMap { _ in rotation.next(now: self.start)?.index }
        #expect(order == [1, 2, 0, 1, 2, 0])
    }

    @Test func anAddressThatFailedPausesLongerEachTimeUntilItConnects() {
        var rotation = EndpointRotation(count: 2, start: 0, baseBackoff: .milliseconds(100), maxBackoff: .milliseconds(350))
        rotation.failed(0, now: self.start)
        // Skipped while it pauses.
        #expect(rotation.next(now: self.start)?.index == 1)
        #expect(rotation.next(now: self.start)?.index == 1)
        #expect(rotation.next(now: self.start + .milliseconds(100))?.index == 0)
        rotation.failed(0, now: self.start)
        rotation.failed(1, now: self.start)
        // Both pausing: the one whose pause ends first (1: 100 ms; 0: 200 ms), with when.
        #expect(rotation.next(now: self.start) == .init(index: 1, notBefore: self.start + .milliseconds(100)))
        rotation.failed(0, now: self.start)
        rotation.failed(0, now: self.start)
        // 400 ms doubled, capped at 350 ms.
        #expect(rotation.next(now: self.start + .milliseconds(349), excluding: [1]) == .init(index: 0, notBefore: self.start + .milliseconds(350)))
        rotation.connected(0)
        #expect(rotation.next(now: self.start, excluding: [1]) == .init(index: 0, notBefore: nil))
    }

    @Test func eachAddressIsTriedOncePerConnection() {
        var rotation = EndpointRotation(count: 2, start: 0, baseBackoff: .milliseconds(100), maxBackoff: .seconds(2))
        #expect(rotation.next(now: self.start, excluding: [0, 1]) == nil)
        #expect(EndpointRotation(count: 0, start: 0, baseBackoff: .seconds(1), maxBackoff: .seconds(1)).count == 0)
        var empty = EndpointRotation(count: 0, start: 5, baseBackoff: .seconds(1), maxBackoff: .seconds(1))
        #expect(empty.next(now: self.start) == nil)
        #expect(rotation.next(now: self.start, excluding: [0]) == .init(index: 1, notBefore: nil))
    }

    @Test func addressListsParse() {
        let parsed = RPCChannel.Configuration.parseAddresses("a.example:7443, [::1]:7444 ,:7445")
        #expect(parsed == [.init(host: "a.example", port: 7443), .init(host: "::1", port: 7444), .init(host: "127.0.0.1", port: 7445)])
        #expect(parsed?.map(\.description) == ["a.example:7443", "[::1]:7444", "127.0.0.1:7445"])
        #expect(RPCChannel.Configuration.parseAddresses("a:1,") == nil)
        #expect(RPCChannel.Configuration.parseAddresses("") == nil)
        #expect(RPCChannel.Configuration.parseAddresses("a:1,b") == nil)
        #expect(RPCChannel.Configuration.parseAddresses("a:70000") == nil)
    }
}
