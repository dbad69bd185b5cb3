import BenchKit
import Foundation
import Histogram
import NIOCore
import NIOSSL

/// What one bare-echo-bench run does.
struct LoadPlan: Sendable {
    let mode: BareEchoBench.Mode
    let concurrency: Int
    let duration: Double
    let warmup: Double
    let requestLimit: Int
    let payload: Int
    /// Workers prefer their connection's event loop as task executor.
    let tasksOnEventLoops: Bool
}

/// Closed loop, as ova-bench's LoadRunner: `concurrency` worker tasks, spread round-robin over
/// the connections, each sending one call and awaiting its reply before sending the next.
/// Only completions inside [warm-up end, warm-up end + duration] are counted.
struct LoadRunner: Sendable {
    let plan: LoadPlan
    let connections: [Connection]
    /// The limit counts messages: a unary round trip is one call and one message.
    private let window: LoadWindow
    private let counters = LoadCounters()

    /// After the measured window ends, workers get this long before their connections are closed.
    private static let graceNanos: UInt64 = 5_000_000_000

    init(plan: LoadPlan, connections: [Connection]) {
        self.plan = plan
        self.connections = connections
        self.window = LoadWindow(startedAt: monotonicNanos(), warmup: plan.warmup, duration: plan.duration, requestLimit: plan.requestLimit)
    }


    func run(progress: Bool) async -> LoadResult {
        let connections = self.connections
        return await self.counters.measure(
            in: self.window, progress: progress, grace: Self.graceNanos, workers: self.plan.concurrency,
            stopWaiting: { for connection in connections { await connection.close() } }
        ) { group in
            for index in 0..<self.plan.concurrency {
                let connection = connections[index % connections.count]
                let preference = self.plan.tasksOnEventLoops ? connection.taskExecutor : nil
                group.addTask(executorPreference: preference) { .worker(await self.work(connection: connection)) }
            }
        }
    }

    /// One worker. `unary` counts each round trip as a call and a message; `bidi` (one logical
    /// ping-pong stream per worker, the same bytes on this wire) counts messages only, as
    /// ova-bench does for its bidi streams.
    private func work(connection: Connection) async -> Histogram<UInt64>? {
        var histogram: Histogram<UInt64>? = LoadResult.makeLatencyHistogram()
        let request = ByteBuffer(repeating: 0x61, count: self.plan.payload)
        let calls = self.plan.mode == .unary ? 1 : 0
        while self.counters.running(self.window) {
            let started = monotonicNanos()
            do {
                let reply = try await connection.call(request)
                guard reply.readableBytes == request.readableBytes else { throw UnexpectedReply() }
                self.counters.record(in: self.window, started: started, calls: calls, messages: 1, bytes: reply.readableBytes, into: &histogram)
            } catch {
                if monotonicNanos() < self.window.end { self.counters.recordError(errorName(error)) }
                // Do not spin on a dead connection.
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        return histogram
    }
}

/// The name a failed call is counted under.
func errorName(_ error: any Error) -> String {
    switch error {
    case is ConnectionClosed: "CONNECTION_CLOSED"
    case is UnexpectedReply: "UNEXPECTED_REPLY"
    case is NIOSSLError: "TLS_ERROR"
    default: "CLIENT_ERROR"
    }
}
