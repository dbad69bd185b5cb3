import BenchKit
import EchoProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Histogram
import Synchronization

typealias EchoClient = Ova_V1_Echo.Client<HTTP2ClientTransport.Posix>

/// gRPC status names, as they appear in the "errors" object.
func statusName(_ error: any Error) -> String {
    guard let error = error as? RPCError else { return "CLIENT_ERROR" }
    let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
    let code = error.code.rawValue
    return names.indices.contains(code) ? names[code] : "CODE_\(code)"
}

/// A worker's histogram handed between the concurrent halves of a bidi call.
final class HistogramBox: Sendable {
    let value: Mutex<Histogram<UInt64>?>
    init(_ histogram: Histogram<UInt64>?) { self.value = Mutex(histogram) }
}

/// Runs the workers of a ``LoadPlan`` against some clients (one connection each).
/// Mirrors ova-bench's LoadRunner so both tools count the same things the same way.
struct LoadRunner: Sendable {
    let plan: LoadPlan
    let clients: [EchoClient]

    /// After the measured window ends, workers get this long to wind down before being cancelled.
    private static let graceNanos: UInt64 = 5_000_000_000
    /// Handshakes (each a first unary call) in flight at once while connecting.
    private static let connectWindow = 64

    private let window: LoadWindow
    private let counters = LoadCounters()

    init(plan: LoadPlan, clients: [EchoClient]) {
        self.plan = plan
        self.clients = clients
        self.window = Self.window(plan, startedAt: 0)
    }

    private init(copying other: LoadRunner, startedAt: UInt64) {
        self.plan = other.plan
        self.clients = other.clients
        self.window = Self.window(other.plan, startedAt: startedAt)
    }

    private static func window(_ plan: LoadPlan, startedAt: UInt64) -> LoadWindow {
        LoadWindow(startedAt: startedAt, warmup: plan.warmup, duration: plan.duration, requestLimit: plan.requestLimit, limitCountsCalls: plan.mode == .unary)
    }

    func run(progress: Bool) async -> LoadResult {
        // Connect before the clock starts: a gRPC client connects lazily, so each connection
        // makes one unary call, which completes the TCP + TLS + HTTP/2 handshakes.
        let (held, startError) = await self.connectAll()
        if held == 0 {
            var result = LoadResult()
            result.failedToStart = true
            result.startError = startError
            return result
        }
        let runner = LoadRunner(copying: self, startedAt: monotonicNanos())
        return await runner.measure(progress: progress, held: held)
    }

    private func connectAll() async -> (held: Int, lastError: String?) {
        let options: CallOptions = {
            var options = CallOptions.defaults
            options.waitForReady = false
            options.timeout = .seconds(30)
            return options
        }()
        let probe = ClientRequest(message: Ova_V1_EchoRequest())
        return await withTaskGroup(of: String?.self) { group in
            var next = 0
            var held = 0
            var lastError: String?
            while next < min(Self.connectWindow, self.clients.count) {
                let client = self.clients[next]
                group.addTask { await Self.connect(client, probe, options) }
                next += 1
            }
            for await outcome in group {
                if let outcome { lastError = outcome } else { held += 1 }
                if next < self.clients.count {
                    let client = self.clients[next]
                    group.addTask { await Self.connect(client, probe, options) }
                    next += 1
                }
            }
            return (held, lastError)
        }
    }

    private static func connect(_ client: EchoClient, _ probe: ClientRequest<Ova_V1_EchoRequest>, _ options: CallOptions) async -> String? {
        do {
            _ = try await client.unary(request: probe, options: options)
            return nil
        } catch {
            return "\(error)"
        }
    }


    private func measure(progress: Bool, held: Int) async -> LoadResult {
        let idle = self.plan.mode == .idle
        // The watchdog needs no extra step: cancelling a gRPC call ends it.
        var result = await self.counters.measure(
            in: self.window, progress: progress, grace: Self.graceNanos, workers: idle ? 1 : self.plan.concurrency,
            stopWaiting: {}
        ) { group in
            if idle {
                group.addTask {
                    await self.window.holdUntilEnd()
                    return .worker(nil)
                }
                return
            }
            for index in 0..<self.plan.concurrency {
                let client = self.clients[index % self.clients.count]
                group.addTask { .worker(await self.work(client: client)) }
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

    private func work(client: EchoClient) async -> Histogram<UInt64>? {
        var histogram: Histogram<UInt64>? = LoadResult.makeLatencyHistogram()
        var request = Ova_V1_EchoRequest()
        request.payload = Data(repeating: 0x61, count: self.plan.payload)
        while self.running {
            do {
                switch self.plan.mode {
                case .unary:
                    try await self.unary(client, request, &histogram)
                case .serverStream:
                    try await self.serverStream(client)
                case .clientStream:
                    try await self.clientStream(client, request, &histogram)
                case .bidi:
                    try await self.bidi(client, request, &histogram)
                case .idle:
                    return histogram
                }
            } catch {
                if monotonicNanos() < self.window.end && !Task.isCancelled { self.counters.recordError(statusName(error)) }
                // Do not spin on a dead server.
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        return histogram
    }

    private func unary(_ client: EchoClient, _ request: Ova_V1_EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        var started = monotonicNanos()
        if self.plan.rate > 0 {
            // Open loop: the call's start is fixed by the schedule, not by when a slot freed up.
            let ticket = self.counters.tickets.add(1, ordering: .relaxed).oldValue
            let intended = self.window.startedAt + UInt64(Double(ticket) / self.plan.rate * 1e9)
            if intended > started {
                try await Task.sleep(for: .nanoseconds(Int64(intended - started)))
            }
            started = intended
            guard intended < self.window.end else { return }
        }
        let response = try await client.unary(request: ClientRequest(message: request))
        self.record(started: started, calls: 1, messages: 1, bytes: response.payload.count, into: &histogram)
    }

    private func serverStream(_ client: EchoClient) async throws {
        var request = Ova_V1_EchoRequest()
        request.responseCount = 10_000_000
        request.responseSize = UInt32(self.plan.payload)
        let payload = self.plan.payload
        try await client.serverStream(request: ClientRequest(message: request)) { response in
            var batch = 0
            for try await _ in response.messages {
                batch += 1
                // Count in batches: one atomic add per 64 messages keeps the counter off the profile.
                if batch == 64 {
                    var none: Histogram<UInt64>? = nil
                    self.record(started: 0, calls: 0, messages: batch, bytes: batch * payload, into: &none)
                    batch = 0
                    if !self.running { break }
                }
            }
            // Returning from the handler ends the call; the server sees the stream cancelled.
        }
    }

    private func clientStream(_ client: EchoClient, _ request: Ova_V1_EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        let payload = self.plan.payload
        let producer = StreamingClientRequest<Ova_V1_EchoRequest> { writer in
            var none: Histogram<UInt64>? = nil
            while self.running {
                try await writer.write(request)
                self.record(started: 0, calls: 0, messages: 1, bytes: payload, into: &none)
            }
        }
        _ = try await client.clientStream(request: producer)
        self.record(started: 0, calls: 1, messages: 0, bytes: 0, into: &histogram)
    }

    private func bidi(_ client: EchoClient, _ request: Ova_V1_EchoRequest, _ histogram: inout Histogram<UInt64>?) async throws {
        // grpc-swift-2 splits a bidi call into a request producer and a response handler that
        // run concurrently; for ping-pong the handler signals each response to the producer.
        let payload = self.plan.payload
        let (arrivals, arrived) = AsyncStream<Void>.makeStream(bufferingPolicy: .unbounded)
        let result = HistogramBox(histogram)
        let producer = StreamingClientRequest<Ova_V1_EchoRequest> { writer in
            var local = result.value.withLock { $0 }
            var iterator = arrivals.makeAsyncIterator()
            defer { result.value.withLock { $0 = local } }
            while self.running {
                let started = monotonicNanos()
                try await writer.write(request)
                guard await iterator.next() != nil else { break }
                self.record(started: started, calls: 0, messages: 1, bytes: payload, into: &local)
            }
        }
        defer { histogram = result.value.withLock { $0 } }
        try await client.bidi(request: producer) { response in
            defer { arrived.finish() }
            for try await _ in response.messages {
                arrived.yield()
            }
        }
    }
}
