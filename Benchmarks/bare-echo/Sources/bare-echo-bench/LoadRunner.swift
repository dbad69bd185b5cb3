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

    private enum Outcome: Sendable {
        case worker(Histogram<UInt64>?)
        case watchdog
        case progress
    }

    func run(progress: Bool) async -> LoadResult {
        var result = LoadResult()
        await withTaskGroup(of: Outcome.self) { group in
            if progress {
                group.addTask {
                    await self.counters.showProgress(in: self.window)
                    return .progress
                }
            }
            // Bound every run in time even if the server stops answering: closing the
            // connections fails the calls still waiting.
            group.addTask {
                let deadline = self.window.end + Self.graceNanos
                while !Task.isCancelled, monotonicNanos() < deadline {
                    try? await Task.sleep(for: .milliseconds(250))
                }
                if !Task.isCancelled {
                    for connection in self.connections { await connection.close() }
                }
                return .watchdog
            }
            for index in 0..<self.plan.concurrency {
                let connection = self.connections[index % self.connections.count]
                let preference = self.plan.tasksOnEventLoops ? connection.taskExecutor : nil
                group.addTask(executorPreference: preference) { .worker(await self.work(connection: connection)) }
            }
            var remaining = self.plan.concurrency
            for await outcome in group {
                switch outcome {
                case .worker(let histogram):
                    if let histogram { result.latency.add(histogram) }
                    remaining -= 1
                    if remaining == 0 { group.cancelAll() }
                case .watchdog:
                    if remaining > 0 { self.counters.recordError("CLIENT_TIMEOUT", count: remaining) }
                case .progress:
                    break
                }
            }
        }
        if progress {
            LoadCounters.clearProgressLine()
        }
        self.counters.fill(&result, over: self.window)
        return result
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
