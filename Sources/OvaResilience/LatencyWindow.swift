/// The durations of the last `capacity` calls, for percentile estimates.
///
/// A ring buffer: adding is O(1); ``percentile(_:)`` sorts a copy, which is cheap for the
/// window sizes breakers use (tens of calls) and only happens when a snapshot is taken.
public struct LatencyWindow: Sendable, Equatable {
    /// The most durations kept.
    public let capacity: Int
    private var samples: [Duration] = []
    private var next = 0

    public init(capacity: Int) {
        precondition(capacity >= 1, "capacity must be at least 1")
        self.capacity = capacity
        self.samples.reserveCapacity(capacity)
    }

    /// How many durations are held (at most ``capacity``).
    public var count: Int {
        self.samples.count
    }

    /// Adds `duration`, dropping the oldest once full.
    public mutating func add(_ duration: Duration) {
        if self.samples.count < self.capacity {
            self.samples.append(duration)
        } else {
            self.samples[self.next] = duration
        }
        self.next = (self.next + 1) % self.capacity
    }

    /// Forgets every duration.
    public mutating func removeAll() {
        self.samples.removeAll(keepingCapacity: true)
        self.next = 0
    }

    /// The nearest-rank percentile (`fraction` in `0...1`, e.g. 0.99): the smallest held
    /// duration that at least `fraction` of the held durations do not exceed; nil when empty.
    /// Nearest rank reports a duration that was actually observed, never an interpolation.
    public func percentile(_ fraction: Double) -> Duration? {
        precondition(fraction >= 0 && fraction <= 1, "fraction must be in 0...1")
        guard !self.samples.isEmpty else { return nil }
        let sorted = self.samples.sorted()
        let rank = (fraction * Double(sorted.count)).rounded(.up)
        let index = min(max(Int(rank) - 1, 0), sorted.count - 1)
        return sorted[index]
    }
}
