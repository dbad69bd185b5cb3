import NIOCore
import OvaWire
import Testing

@testable import OvaRPC

/// `maxConnectionAge`: at its (jittered) age a server connection is drained like at shutdown,
/// with its own grace. Virtual time on the in-memory connection of ConnectionHandlerTests.
@Suite("Connection max age (GOAWAY at the age limit, grace, jitter)")
struct ConnectionAgeTests {
    private static func limits(maxAge: TimeAmount, grace: TimeAmount = .seconds(30)) -> ConnectionLimits {
        var limits = ConnectionLimits()
        limits.maxConnectionAge = maxAge
        limits.maxConnectionAgeGrace = grace
        return limits
    }

    private static func goAwayLastStreamID(_ frames: [Frame]) -> UInt32? {
        for frame in frames {
            if case .goAway(let last, _, _) = frame { return last }
        }
        return nil
    }

    @Test func atItsAgeAConnectionIsSentGoAwayAndRefusesNewCallsWhileItsCallFinishes() async throws {
        var connection = try await InMemoryConnection(limits: Self.limits(maxAge: .seconds(100)), ageJitterUnit: { 0 })
        _ = try await connection.handshake()
        let accepted = try await connection.open(TestMethods.gated)
        await connection.advanceTime(by: .seconds(99))
        #expect(try await connection.readFrames().goAway == nil)
        await connection.advanceTime(by: .seconds(1))
        var frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .ok)
        #expect(frames.goAway?.message == "max connection age")
        #expect(Self.goAwayLastStreamID(frames) == accepted)
        // A call that crossed the GOAWAY was not processed: UNAVAILABLE, safe to retry elsewhere.
        let late = try await connection.open(TestMethods.gated)
        frames = try await connection.readFrames()
        #expect(frames.trailers(on: late)?.code == .unavailable)
        #expect(connection.isActive)
        // The accepted call runs to its end, then the connection closes without waiting for the grace.
        connection.methods.openGate()
        try await connection.send([.message(streamID: accepted, payload: ByteBuffer(bytes: [1]), flags: []), .halfClose(streamID: accepted)])
        var done: [Frame] = []
        #expect(try await connection.methods.eventually(connection) { _ in
            done += try await connection.readFrames()
            return done.trailers(on: accepted) != nil
        })
        #expect(done.trailers(on: accepted)?.code == .ok)
        #expect(connection.methods.requestsRead == 1)
        #expect(try await connection.methods.eventually(connection) { _ in !connection.isActive })
    }

    @Test func aCallStillRunningAtTheEndOfTheGraceIsCancelledAndTheConnectionClosed() async throws {
        var connection = try await InMemoryConnection(
            limits: Self.limits(maxAge: .seconds(100), grace: .seconds(30)), ageJitterUnit: { 0 }
        )
        _ = try await connection.handshake()
        _ = try await connection.open(TestMethods.hang, request: [])
        await connection.advanceTime(by: .seconds(100))
        #expect(try await connection.readFrames().goAway?.message == "max connection age")
        await connection.advanceTime(by: .seconds(29))
        #expect(connection.isActive)
        await connection.advanceTime(by: .seconds(1))
        #expect(!connection.isActive)
        #expect(try await connection.methods.eventually(connection) { $0.cancelled == 1 })
    }

    @Test(arguments: [(-1.0, 90), (1.0, 110), (0.5, 105)])
    func theAgeLimitFollowsTheInjectedJitter(unit: Double, seconds: Int64) async throws {
        var connection = try await InMemoryConnection(limits: Self.limits(maxAge: .seconds(100)), ageJitterUnit: { unit })
        _ = try await connection.handshake()
        await connection.advanceTime(by: .seconds(seconds) - .milliseconds(1))
        #expect(try await connection.readFrames().goAway == nil)
        #expect(connection.isActive)
        await connection.advanceTime(by: .milliseconds(1))
        let frames = try await connection.readFrames()
        #expect(frames.goAway?.code == .ok)
        #expect(Self.goAwayLastStreamID(frames) == 0)
        // No call open: it closes at once.
        #expect(!connection.isActive)
    }

    @Test func anAgeReachedDuringTheHandshakeSendsGoAwayAfterIt() async throws {
        var connection = try await InMemoryConnection(limits: Self.limits(maxAge: .seconds(1)), ageJitterUnit: { 0 })
        #expect(try await connection.readFrames().goAway == nil)  // the server's SETTINGS
        await connection.advanceTime(by: .seconds(2))
        #expect(try await connection.readFrames().isEmpty)
        #expect(connection.isActive)
        var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
        FrameEncoder.encode(.settings(Settings()), into: &bytes)
        try await connection.channel.writeInbound(bytes)
        let frames = try await connection.readFrames()
        let acknowledged = frames.firstIndex { if case .settingsAck = $0 { return true }; return false }
        let goAway = frames.firstIndex { if case .goAway = $0 { return true }; return false }
        if let acknowledged, let goAway {
            #expect(acknowledged < goAway)
        } else {
            Issue.record("no SETTINGS ACK then GOAWAY: \(frames)")
        }
        #expect(frames.goAway?.message == "max connection age")
        #expect(!connection.isActive)
    }

    @Test func withoutAMaximumAgeAConnectionStays() async throws {
        var limits = ConnectionLimits()
        limits.idleTimeout = nil
        var connection = try await InMemoryConnection(limits: limits, ageJitterUnit: { -1 })
        _ = try await connection.handshake()
        await connection.advanceTime(by: .hours(24 * 30))
        #expect(try await connection.readFrames().goAway == nil)
        #expect(connection.isActive)
    }

    @Test func theJitterStaysWithinTenPercentWhateverTheSource() {
        let age = TimeAmount.seconds(1000)
        for unit in [-7.0, -1, -0.25, 0, 0.999, 1, 42, .nan, -.infinity, .infinity] {
            let limit = ConnectionAgeLimit.jittered(age, unit: unit)
            #expect(limit >= .seconds(900) && limit <= .seconds(1100), "unit \(unit) gave \(limit)")
        }
        for _ in 0..<1000 {
            let unit = ConnectionAgeLimit.randomUnit()
            #expect((-1.0...1.0).contains(unit))
        }
        #expect(ConnectionAgeLimit.jittered(age, unit: -1) == .seconds(900))
        #expect(ConnectionAgeLimit.jittered(age, unit: 1) == .seconds(1100))
    }
}
