import Foundation
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

    /// Copies the totals into `result`, measured over [`start`, the earlier of now and `end`].
    public func fill(_ result: inout LoadResult, measuredFrom start: UInt64, until end: UInt64) {
        let finished = min(monotonicNanos(), end)
        result.seconds = Double(finished > start ? finished - start : 0) / 1e9
        result.calls = self.calls.load(ordering: .relaxed)
        result.messages = self.messages.load(ordering: .relaxed)
        result.bytes = self.bytes.load(ordering: .relaxed)
        result.errors = self.errors.withLock { $0 }
    }

    /// Rewrites one line on standard error every second (phase, calls/s, msg/s, errors) while
    /// `running()` holds and the task is not cancelled, then clears it.
    public func showProgress(measureStart: UInt64, end: UInt64, running: () -> Bool) async {
        var lastCalls = 0
        var lastMessages = 0
        var lastTime = monotonicNanos()
        while !Task.isCancelled, monotonicNanos() < end, running() {
            try? await Task.sleep(for: .seconds(1))
            let now = monotonicNanos()
            let calls = self.calls.load(ordering: .relaxed)
            let messages = self.messages.load(ordering: .relaxed)
            let seconds = Double(now - lastTime) / 1e9
            let phase = now < measureStart ? "warm-up" : String(format: "%5.1fs", Double(now - measureStart) / 1e9)
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
