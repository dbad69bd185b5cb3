import NIOCore
import OvaWire
import Testing

@testable import OvaRPC

/// The connection's rules as pure values: no channel, no event loop, time passed in.
@Suite("Connection rules (state machine, flood guard, flow-control policy)")
struct ConnectionRulesTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    // MARK: - ConnectionStateMachine

    @Test func settingsComeFirstAndOnce() throws {
        var machine = ConnectionStateMachine()
        #expect(machine.state == .awaitingPeerSettings)
        #expect(machine.handshakeTimedOut())
        #expect(throws: ConnectionViolation.self) { try machine.checkFrameAllowed() }
        try machine.receivedSettings(now: Self.start)
        #expect(machine.state == .active)
        #expect(!machine.handshakeTimedOut())
        try machine.checkFrameAllowed()
        #expect(throws: ConnectionViolation.self) { try machine.receivedSettings(now: Self.start) }
    }

    @Test func gracefulShutdownSendsOneGoAwayAndClosesWhenDrained() throws {
        var machine = ConnectionStateMachine()
        try machine.receivedSettings(now: Self.start)
        machine.streamOpened()
        let firstSendsGoAway = machine.beginGracefulShutdown(lastStreamID: 7)
        #expect(firstSendsGoAway)
        let secondSendsGoAway = machine.beginGracefulShutdown(lastStreamID: 9)
        #expect(!secondSendsGoAway)  // idempotent
        #expect(machine.goAwaySent == 7)
        #expect(!machine.acceptsNewStreams)
        let closesWhenDrained = machine.streamsBecameEmpty(now: Self.start, hasWaitingOpens: false)
        #expect(closesWhenDrained)
        machine.closed()
        #expect(machine.isClosed)
        let sendsGoAwayWhenClosed = machine.beginGracefulShutdown(lastStreamID: 9)
        #expect(!sendsGoAwayWhenClosed)
    }

    @Test func aClientWithWaitingCallsKeepsAConnectionThatReceivedGoAwayUntilTheyFailOver() throws {
        var machine = ConnectionStateMachine()
        try machine.receivedSettings(now: Self.start)
        machine.receivedGoAway(lastStreamID: 5)
        machine.receivedGoAway(lastStreamID: 9)  // a later GOAWAY cannot raise the last id
        #expect(machine.goAwayReceived == 5)
        let closesWithCallsWaiting = machine.streamsBecameEmpty(now: Self.start, hasWaitingOpens: true)
        #expect(!closesWithCallsWaiting)
        let closesWithNoCallsWaiting = machine.streamsBecameEmpty(now: Self.start, hasWaitingOpens: false)
        #expect(closesWithNoCallsWaiting)
    }

    @Test func idleTimerClosesOnlyAfterAWholeIdleTimeout() throws {
        var machine = ConnectionStateMachine()
        try machine.receivedSettings(now: Self.start)
        let timeout = TimeAmount.seconds(30)
        #expect(machine.idleTimerFired(now: Self.start + .seconds(30), timeout: timeout, openStreams: 0) == .close)
        machine.streamOpened()
        #expect(machine.idleTimerFired(now: Self.start + .seconds(30), timeout: timeout, openStreams: 1) == .none)
        _ = machine.streamsBecameEmpty(now: Self.start + .seconds(40), hasWaitingOpens: false)
        #expect(machine.idleTimerFired(now: Self.start + .seconds(50), timeout: timeout, openStreams: 0) == .rearm(at: Self.start + .seconds(70)))
        #expect(machine.idleTimerFired(now: Self.start + .seconds(70), timeout: timeout, openStreams: 0) == .close)
        #expect(machine.idleTimerFired(now: Self.start + .seconds(70), timeout: nil, openStreams: 0) == .none)
    }

    // MARK: - FloodGuard

    @Test func controlFramesHaveABurstAndASustainedRate() throws {
        var limits = ConnectionLimits()
        limits.controlFrameBurst = 10
        limits.controlFramesPerSecond = 5
        var guardian = FloodGuard(limits: limits, now: Self.start)
        try guardian.admitControlFrames(10, now: Self.start)
        #expect(throws: ConnectionViolation.self) { try guardian.admitControlFrames(now: Self.start) }
        guardian = FloodGuard(limits: limits, now: Self.start)
        try guardian.admitControlFrames(10, now: Self.start)
        for second in 1...20 {
            try guardian.admitControlFrames(5, now: Self.start + .seconds(Int64(second)))
        }
    }

    @Test(arguments: [
        (elapsedMs: 270, timeoutMs: 300, exempt: true),
        (elapsedMs: 300, timeoutMs: 300, exempt: true),
        (elapsedMs: 260, timeoutMs: 300, exempt: false),
        (elapsedMs: 10, timeoutMs: 300, exempt: false),
    ])
    func aResetIsTheClientsDeadlineOnlyNearTheTimeout(elapsedMs: Int64, timeoutMs: Int64, exempt: Bool) {
        let opened = Self.start
        #expect(FloodGuard.isDeadlineCancellation(
            openedAt: opened,
            deadline: opened + .milliseconds(timeoutMs),
            now: opened + .milliseconds(elapsedMs)
        ) == exempt)
    }

    @Test func aResetWithoutADeadlineIsNeverTheClientsDeadline() {
        #expect(!FloodGuard.isDeadlineCancellation(openedAt: Self.start, deadline: nil, now: Self.start + .seconds(3600)))
    }

    // MARK: - FlowControlPolicy

    @Test func theFragmentThresholdIsAtMostHalfOfEitherWindow() {
        var settings = Settings()
        #expect(FlowControlPolicy.fragmentThreshold(settings) == 65_536)  // min(64 KiB, 512 KiB, 8 MiB)
        settings.initialStreamWindow = 65_536
        #expect(FlowControlPolicy.fragmentThreshold(settings) == 32_768)
        settings.initialConnectionWindow = 20_000
        #expect(FlowControlPolicy.fragmentThreshold(settings) == 10_000)
        settings.initialStreamWindow = 0
        #expect(FlowControlPolicy.fragmentThreshold(settings) == 1)
        #expect(FlowControlPolicy.creditReportThreshold(Settings()) == 32 * 1024)
    }

    @Test(arguments: [
        // remaining, stream window, connection window → bytes sent now
        (remaining: 10_000, stream: 65_536, connection: 1 << 24, sent: 10_000),  // fits whole
        (remaining: 10_000, stream: 5_536, connection: 1 << 24, sent: 0),  // a sliver: wait
        (remaining: 5_000, stream: 5_536, connection: 1 << 24, sent: 5_000),  // the rest fits
        (remaining: 100_000, stream: 40_000, connection: 1 << 24, sent: 40_000),  // at least T
        (remaining: 100_000, stream: 1 << 20, connection: 1 << 24, sent: 65_536),  // one frame
        (remaining: 100_000, stream: 1 << 20, connection: 1_000, sent: 0),  // connection sliver
        (remaining: 0, stream: 0, connection: 0, sent: 0),  // an empty message always goes
    ])
    func senderNeverSendsASliver(remaining: Int, stream: Int, connection: Int, sent: Int) {
        #expect(FlowControlPolicy.nextFragmentSize(
            remaining: remaining,
            peerMaxFrameSize: 65_536,
            streamWindow: stream,
            connectionWindow: connection,
            peerThreshold: 32_768
        ) == sent)
    }
}
