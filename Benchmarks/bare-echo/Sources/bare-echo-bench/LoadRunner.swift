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
    private let startedAt: UInt64
    private let counters = LoadCounters()

    /// After the measured window ends, workers get this long before their connections are closed.
    private static let graceNanos: UInt64 = 5_000_000_000

    private var measureStart: UInt64 { self.startedAt + UInt64(self.plan.warmup * 1e9) }
    private var end: UInt64 { self.measureStart + UInt64(self.plan.duration * 1e9) }

    init(plan: LoadPlan, connections: [Connection]) {
        self.plan = plan
        self.connections = connections
        self.startedAt = monotonicNanos()
    }

    private enum Outcome: Sendable {
        case worker(Histogram<UInt64>)
        case watchdog
        case progress
    }

    func run(progress: Bool) async -> LoadResult {
        var result = LoadResult()
        await withTaskGroup(of: Outcome.self) { group in
            if progress {
                group.addTask {
                    await self.counters.showProgress(measureStart: self.measureStart, end: self.end) { !self.limitReached() }
                    return .progress
                }
            }
            // Bound every run in time even if the server stops answering: closing the
            // connections fails the calls still waiting.
            group.addTask {
                let deadline = self.end + Self.graceNanos
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
                    result.latency.add(histogram)
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
        self.counters.fill(&result, measuredFrom: self.measureStart, until: self.end)
        return result
    }

    private func limitReached() -> Bool {
        guard self.plan.requestLimit > 0 else { return false }
        return self.counters.messages.load(ordering: .relaxed) >= self.plan.requestLimit
    }

    private var running: Bool {
        monotonicNanos() < self.end && !self.limitReached()
    }

    /// One worker. `unary` counts each round trip as a call and a message; `bidi` (one logical
    /// ping-pong stream per worker, the same bytes on this wire) counts messages only, as
    /// ova-bench does for its bidi streams.
    private func work(connection: Connection) async -> Histogram<UInt64> {
        var histogram = LoadResult.makeLatencyHistogram()
        let request = ByteBuffer(repeating: 0x61, count: self.plan.payload)
        let calls = self.plan.mode == .unary ? 1 : 0
        while self.running {
            let started = monotonicNanos()
            do {
                let reply = try await connection.call(request)
                guard reply.readableBytes == request.readableBytes else { throw UnexpectedReply() }
                let now = monotonicNanos()
                guard now >= self.measureStart, now <= self.end else { continue }
                if calls > 0 { self.counters.calls.add(calls, ordering: .relaxed) }
                self.counters.messages.add(1, ordering: .relaxed)
                self.counters.bytes.add(reply.readableBytes, ordering: .relaxed)
                _ = histogram.record(max(1, (now &- started) / 1_000))
            } catch {
                if monotonicNanos() < self.end { self.counters.recordError(errorName(error)) }
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
