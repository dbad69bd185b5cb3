import BenchKit
import Foundation
import Histogram
import OvaProto
import OvaRPC

/// Runs the workers of a ``LoadPlan`` against some channels.
struct LoadRunner: Sendable {
    let plan: LoadPlan
    let channels: [RPCChannel]

    private let window: LoadWindow
    private let counters = LoadCounters()

    init(plan: LoadPlan, channels: [RPCChannel]) {
        self.plan = plan
        self.channels = channels
        self.window = Self.window(plan, startedAt: 0)
    }

    private init(copying other: LoadRunner, startedAt: UInt64) {
        self.plan = other.plan
        self.channels = other.channels
        self.window = Self.window(other.plan, startedAt: startedAt)
    }

    private static func window(_ plan: LoadPlan, startedAt: UInt64) -> LoadWindow {
        LoadWindow(startedAt: startedAt, warmup: plan.warmup, duration: plan.duration, requestLimit: plan.requestLimit, limitCountsCalls: plan.mode.isUnary)
    }

    func run(progress: Bool) async throws -> LoadResult {
        // Connect (TLS handshake included) before the clock starts.
        var held = 0
        var startError: String?
        for channel in self.channels {
            do {
                try await channel.connect()
                held += 1
            } catch {
                startError = "\(error)"
            }
        }
        if held == 0 {
            var result = LoadResult()
            result.failedToStart = true
            result.startError = startError
            return result
        }
        if self.plan.mode == .listMessages, let token = self.plan.token {
            try await MessagesWorkload.checkReady(
                MessagesClient(channel: self.channels[0]), options: MessagesWorkload.authorized(token: token), addr: self.plan.addr
            )
        }
        let runner = LoadRunner(copying: self, startedAt: monotonicNanos())
        return await runner.measure(progress: progress, held: held)
    }

    /// After the measured window ends, workers get this long before their channels are closed.
    private static let graceNanos: UInt64 = 5_000_000_000


    private func measure(progress: Bool, held: Int) async -> LoadResult {
        let idle = self.plan.mode == .idle
        let channels = self.channels
        var result = await self.counters.measure(
            in: self.window, progress: progress, grace: Self.graceNanos, workers: idle ? 1 : self.plan.concurrency,
            stopWaiting: { for channel in channels { await channel.close() } }
        ) { group in
            if idle {
                group.addTask {
                    await self.window.holdUntilEnd()
                    return .worker(nil)
                }
                return
            }
            for index in 0..<self.plan.concurrency {
                let channel = channels[index % channels.count]
                group.addTask { .worker(await self.work(channel: channel, index: index)) }
            }
        }
        result.held = held
        return result
    }

    // MARK: - Workers

    private var running: Bool {
        self.counters.running(self.window)
    }

    /// Counts a completion inside the measured window (see ``LoadCounters/record(in:started:calls:messages:bytes:into:)``).
    @inline(__always)
    private func record(started: UInt64, calls: Int, messages: Int, bytes: Int, into histogram: inout Histogram<UInt64>?) {
        self.counters.record(in: self.window, started: started, calls: calls, messages: messages, bytes: bytes, into: &histogram)
    }

    private func work(channel: RPCChannel, index: Int) async -> Histogram<UInt64>? {
        var histogram: Histogram<UInt64>? = LoadResult.makeLatencyHistogram()
        let client = EchoClient(channel: channel)
        var request = EchoRequest()
        request.payload = [UInt8](repeating: 0x61, count: self.plan.payload)
        let messages = MessagesClient(channel: channel)
        let sendRequest = MessagesWorkload.sendRequest(worker: index)
        let listOptions = MessagesWorkload.authorized(token: self.plan.token ?? "")
        while self.running {
            do {
                switch self.plan.mode {
                case .sendMessage:
                    try await self.sendMessage(messages, sendRequest, &histogram)
                case .listMessages:
                    try await self.listMessages(messages, listOptions, &histogram)
                case .unary:
                    try await self.unary(client, request, &histogram)
                case .serverStream:
                    try await self.serverStream(client, &histogram)
                case .clientStream:
                    try await self.clientStream(client, request, &histogram)
                case .bidi:
                    try await self.bidi(client, request, &histogram)
                case .audio:
                    try await self.audio(client, &histogram)
                case .idle:
                    return histogram
                }
            } catch {
                if monotonicNanos() < self.window.end { self.counters.recordError((error as? RPCError)?.code.name ?? "CLIENT_ERROR") }
                // Do not spin on a dead server.
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        return histogram
    }

    /// When a unary call starts: now (closed loop), or with `--rate` its slot in the schedule,
    /// waited for; nil when that slot falls after the run.
    private func unaryStart() async throws -> UInt64? {
        let now = monotonicNanos()
        guard self.plan.rate > 0 else { return now }
        // Open loop: the call's start is fixed by the schedule, not by when a slot freed up.
        let ticket = self.counters.tickets.add(1, ordering: .relaxed).oldValue
        let intended = self.window.startedAt + UInt64(Double(ticket) / self.plan.rate * 1e9)
        if intended > now {
            try await Task.sleep(for: .nanoseconds(Int64(intended - now)))
        }
        return intended < self.window.end ? intended : nil
    }

    private func unary(_ client: EchoClient, _ request: EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        guard let started = try await self.unaryStart() else { return }
        let response = try await client.unary(request)
        self.record(started: started, calls: 1, messages: 1, bytes: response.payload.count, into: &histogram)
    }

    private func sendMessage(_ client: MessagesClient, _ request: SendMessageRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        guard let started = try await self.unaryStart() else { return }
        _ = try await client.sendMessage(request)
        self.record(started: started, calls: 1, messages: 1, bytes: request.message.utf8.count, into: &histogram)
    }

    private func listMessages(_ client: MessagesClient, _ options: CallOptions, _ histogram: inout Histogram<UInt64>?) async throws {
        guard let started = try await self.unaryStart() else { return }
        let response = try await client.listMessages(MessagesWorkload.listRequest, options: options)
        // Messages count rows read, so a short page shows as fewer messages than calls × 50.
        self.record(started: started, calls: 1, messages: response.messages.count, bytes: 0, into: &histogram)
    }

    private func serverStream(_ client: EchoClient, _ histogram: inout Histogram<UInt64>?) async throws {
        var request = EchoRequest()
        request.responseCount = 10_000_000
        request.responseSize = UInt32(self.plan.payload)
        let payload = self.plan.payload
        try await client.serverStream(request) { responses in
            var batch = 0
            // The concrete iterator's `next()` runs on this task's executor; `for try await`
            // would go through `next(isolation:)` and hop once per message (see
            // docs/PERFORMANCE.md, change 10).
            var iterator = responses.makeAsyncIterator()
            while try await iterator.next() != nil {
                batch += 1
                // Count in batches: one atomic add per 64 messages keeps the counter off the profile.
                if batch == 64 {
                    var none: Histogram<UInt64>? = nil
                    self.record(started: 0, calls: 0, messages: batch, bytes: batch * payload, into: &none)
                    batch = 0
                    if !self.running { break }
                }
            }
        }
    }

    private func clientStream(_ client: EchoClient, _ request: EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        let payload = self.plan.payload
        _ = try await client.clientStream { writer in
            var none: Histogram<UInt64>? = nil
            while self.running {
                try await writer.write(request)
                self.record(started: 0, calls: 0, messages: 1, bytes: payload, into: &none)
            }
        }
        self.record(started: 0, calls: 1, messages: 0, bytes: 0, into: &histogram)
    }

    private func bidi(_ client: EchoClient, _ request: EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        let payload = self.plan.payload
        let local = try await client.bidi { writer, responses in
            var local = histogram
            var iterator = responses.makeAsyncIterator()
            while self.running {
                let started = monotonicNanos()
                try await writer.write(request)
                guard try await iterator.next() != nil else { break }
                self.record(started: started, calls: 0, messages: 1, bytes: payload, into: &local)
            }
            writer.finish()
            while try await iterator.next() != nil {}
            return local
        }
        histogram = local
    }

    private func audio(_ client: EchoClient, _ histogram: inout Histogram<UInt64>?) async throws {
        guard let audio = self.plan.audio else { return }
        let realtime = self.plan.realtime
        let local = try await client.bidi { writer, responses in
            var local = histogram
            var iterator = responses.makeAsyncIterator()
            let streamStart = monotonicNanos()
            var index = 0
            while self.running {
                if realtime {
                    let due = streamStart + UInt64(index) * 100_000_000
                    let now = monotonicNanos()
                    if due > now { try await Task.sleep(for: .nanoseconds(Int64(due - now))) }
                }
                var chunk = EchoRequest()
                chunk.payload = audio.chunks[index % audio.chunks.count]
                let started = monotonicNanos()
                try await writer.write(chunk)
                guard try await iterator.next() != nil else { break }
                self.record(started: started, calls: 0, messages: 1, bytes: chunk.payload.count, into: &local)
                index += 1
            }
            writer.finish()
            while try await iterator.next() != nil {}
            return local
        }
        histogram = local
    }
}
