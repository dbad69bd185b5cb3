import Foundation
import Histogram
import Synchronization

/// Nanoseconds on the monotonic clock: the time base of every load tool's windows and latencies.
@inlinable
public func monotonicNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The totals a load run's workers add to as they go, read by the progress line and turned
/// into the run's ``LoadResult`` at the end.
public final class LoadCounters: Sendable {
    public let calls = Atomic<Int>(0)
    public let messages = Atomic<Int>(0)
    public let bytes = Atomic<Int>(0)
    /// Open-loop schedule: the next call's slot.
    public let tickets = Atomic<Int>(0)
    /// Failures by status name.
    public let errors = Mutex<[String: Int]>([:])

    public init() {}

    public func recordError(_ name: String, count: Int = 1) {
        self.errors.withLock { $0[name, default: 0] += count }
    }

    /// Counts one completion (calls, messages, bytes) if it happens inside `window`, and its
    /// latency since `started` into `histogram` (`started` 0: not timed).
    @inlinable
    public func record(in window: LoadWindow, started: UInt64 = 0, calls: Int = 0, messages: Int = 0, bytes: Int = 0, into histogram: inout Histogram<UInt64>?) {
        let now = monotonicNanos()
        guard window.measures(now) else { return }
        if calls > 0 { self.calls.add(calls, ordering: .relaxed) }
        if messages > 0 { self.messages.add(messages, ordering: .relaxed) }
        if bytes > 0 { self.bytes.add(bytes, ordering: .relaxed) }
        if started > 0 {
            _ = histogram?.record(max(1, (now &- started) / 1_000))
        }
    }

    /// Whether the run has counted `window.requestLimit` completions.
    public func limitReached(_ window: LoadWindow) -> Bool {
        guard window.requestLimit > 0 else { return false }
        let done = window.limitCountsCalls ? self.calls.load(ordering: .relaxed) : self.messages.load(ordering: .relaxed)
        return done >= window.requestLimit
    }

    /// Whether workers should go on: the window is not over, the limit not reached and the
    /// task not cancelled.
    public func running(_ window: LoadWindow) -> Bool {
        monotonicNanos() < window.end && !self.limitReached(window) && !Task.isCancelled
    }

    /// Copies the totals into `result`, measured over [`window.measureStart`, the earlier of
    /// now and `window.end`].
    public func fill(_ result: inout LoadResult, over window: LoadWindow) {
        let finished = min(monotonicNanos(), window.end)
        result.seconds = Double(finished > window.measureStart ? finished - window.measureStart : 0) / 1e9
        result.calls = self.calls.load(ordering: .relaxed)
        result.messages = self.messages.load(ordering: .relaxed)
        result.bytes = self.bytes.load(ordering: .relaxed)
        result.errors = self.errors.withLock { $0 }
    }

    /// Rewrites one line on standard error every second (phase, calls/s, msg/s, errors) while
    /// the run goes on (``running(_:)``).
    public func showProgress(in window: LoadWindow) async {
        var lastCalls = 0
        var lastMessages = 0
        var lastTime = monotonicNanos()
        while self.running(window) {
            try? await Task.sleep(for: .seconds(1))
            let now = monotonicNanos()
            let calls = self.calls.load(ordering: .relaxed)
            let messages = self.messages.load(ordering: .relaxed)
            let seconds = Double(now - lastTime) / 1e9
            let phase = now < window.measureStart ? "warm-up" : String(format: "%5.1fs", Double(now - window.measureStart) / 1e9)
            let errors = self.errors.withLock { $0.values.reduce(0, +) }
            let line = String(
                format: "\r\u{1B}[K[%@] %.0f calls/s  %.0f msg/s  errors %d",
                phase, Double(calls - lastCalls) / seconds, Double(messages - lastMessages) / seconds, errors
            )
            FileHandle.standardError.write(Data(line.utf8))
            lastCalls = calls
            lastMessages = messages
            lastTime = now
        }
    }

    /// Erases the progress line once the run is over.
    public static func clearProgressLine() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// What a load tool's task group yields: a worker's latencies (nil for a worker that measures
/// none), the watchdog ending, or the progress line ending.
public enum LoadTaskOutcome: Sendable {
    case worker(Histogram<UInt64>?)
    case watchdog
    case progress
}

extension LoadCounters {
    /// Runs one measured load and returns its totals over `window`: `workers` worker tasks
    /// started by `addWorkers` (each ends with `.worker`), the progress line on standard error
    /// when `progress`, and a watchdog that calls `stopWaiting` (e.g. closing the connections,
    /// which fails the calls still waiting) when the workers outlive the window by `grace`
    /// nanoseconds: every run is bounded in time, even against a server that stopped answering.
    public func measure(
        in window: LoadWindow,
        progress: Bool,
        grace: UInt64,
        workers: Int,
        stopWaiting: @escaping @Sendable () async -> Void,
        addWorkers: (inout TaskGroup<LoadTaskOutcome>) -> Void
    ) async -> LoadResult {
        var result = LoadResult()
        await withTaskGroup(of: LoadTaskOutcome.self) { group in
            if progress {
                group.addTask {
                    await self.showProgress(in: window)
                    return .progress
                }
            }
            group.addTask {
                if await window.graceExpired(after: grace) {
                    await stopWaiting()
                }
                return .watchdog
            }
            addWorkers(&group)
            await self.collect(&group, workers: workers, into: &result)
        }
        if progress {
            Self.clearProgressLine()
        }
        self.fill(&result, over: window)
        return result
    }

    /// Merges each worker's latencies into `result` and cancels the rest of the group once all
    /// `workers` are done; when the watchdog ends first, the workers still going are counted as
    /// CLIENT_TIMEOUT errors and cancelled.
    private func collect(_ group: inout TaskGroup<LoadTaskOutcome>, workers: Int, into result: inout LoadResult) async {
        var remaining = workers
        for await outcome in group {
            switch outcome {
            case .worker(let histogram):
                if let histogram { result.latency.add(histogram) }
                remaining -= 1
                if remaining == 0 { group.cancelAll() }
            case .watchdog:
                if remaining > 0 {
                    self.recordError("CLIENT_TIMEOUT", count: remaining)
                    group.cancelAll()
                }
            case .progress:
                break
            }
        }
    }
}
