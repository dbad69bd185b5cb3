/// When a load run's completions count, and when the run stops: a warm-up from `startedAt`,
/// then the measured window [`measureStart`, `end`], cut short once `requestLimit` completions
/// have been counted.
public struct LoadWindow: Sendable {
    /// The run's first call (open-loop schedules are laid out from here).
    public let startedAt: UInt64
    /// The end of the warm-up: completions before it are not counted.
    public let measureStart: UInt64
    public let end: UInt64
    /// Completions after which the run ends early; 0 = none.
    public let requestLimit: Int
    /// Whether ``requestLimit`` counts calls (unary) or messages (the streaming modes).
    public let limitCountsCalls: Bool

    /// A run starting at `startedAt` (monotonic nanoseconds) with `warmup` and `duration` in seconds.
    public init(startedAt: UInt64, warmup: Double, duration: Double, requestLimit: Int = 0, limitCountsCalls: Bool = false) {
        self.startedAt = startedAt
        self.measureStart = startedAt + UInt64(warmup * 1e9)
        self.end = self.measureStart + UInt64(duration * 1e9)
        self.requestLimit = requestLimit
        self.limitCountsCalls = limitCountsCalls
    }

    /// A load tool's watchdog: sleeps until `grace` nanoseconds past the window's end, or until
    /// the task is cancelled (the workers all finished). True when the grace ran out, so the
    /// caller must stop the workers still waiting (every run is bounded in time, even against a
    /// server that stopped answering).
    public func graceExpired(after grace: UInt64) async -> Bool {
        let deadline = self.end + grace
        while !Task.isCancelled, monotonicNanos() < deadline {
            try? await Task.sleep(for: .milliseconds(250))
        }
        return !Task.isCancelled
    }

    /// The idle mode's one worker: holds the connections until the window ends (or the task
    /// is cancelled).
    public func holdUntilEnd() async {
        while !Task.isCancelled, monotonicNanos() < self.end {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Whether a completion at `time` falls inside the measured window.
    @inlinable
    public func measures(_ time: UInt64) -> Bool {
        time >= self.measureStart && time <= self.end
    }
}
