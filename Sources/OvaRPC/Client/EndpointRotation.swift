import NIOCore

/// Which of a channel's server addresses its next connection goes to: round robin from a
/// random start, so that clients reconnecting after a GOAWAY spread over the servers, skipping
/// addresses that failed to connect moments ago. Each failure doubles an address's pause (from
/// `baseBackoff` up to `maxBackoff`); a connection that comes up clears it. No clock of its own:
/// times are arguments, so every rule is tested without sockets.
struct EndpointRotation {
    /// The address to try, and when every address is pausing, the time its pause ends.
    struct Attempt: Equatable {
        let index: Int
        let notBefore: NIODeadline?
    }

    private struct Pause {
        var until: NIODeadline
        var failures: Int
    }

    let count: Int
    let baseBackoff: TimeAmount
    let maxBackoff: TimeAmount
    private var next: Int
    private var pauses: [Pause?]

    init(count: Int, start: Int, baseBackoff: TimeAmount, maxBackoff: TimeAmount) {
        self.count = count
        self.next = count > 0 ? ((start % count) + count) % count : 0
        self.baseBackoff = baseBackoff
        self.maxBackoff = max(baseBackoff, maxBackoff)
        self.pauses = Array(repeating: nil, count: count)
    }

    /// The next address in turn that is not pausing and not in `excluded` (the addresses this
    /// connection attempt already tried); when all of those pause, the one whose pause ends
    /// first, with that time. Nil when every address was tried.
    mutating func next(now: NIODeadline, excluding excluded: Set<Int> = []) -> Attempt? {
        var earliest: (index: Int, until: NIODeadline)?
        for offset in 0..<self.count {
            let index = (self.next + offset) % self.count
            guard !excluded.contains(index) else { continue }
            guard let pause = self.pauses[index], pause.until > now else {
                self.next = (index + 1) % self.count
                return Attempt(index: index, notBefore: nil)
            }
            if let current = earliest, current.until <= pause.until { continue }
            earliest = (index, pause.until)
        }
        guard let earliest else { return nil }
        self.next = (earliest.index + 1) % self.count
        return Attempt(index: earliest.index, notBefore: earliest.until)
    }

    /// A connection to `index` could not be set up at `now`: pause it, longer each time.
    mutating func failed(_ index: Int, now: NIODeadline) {
        guard self.pauses.indices.contains(index) else { return }
        let failures = (self.pauses[index]?.failures ?? 0) + 1
        let factor = Int64(1) << Int64(min(failures - 1, 20))
        let (scaled, overflow) = self.baseBackoff.nanoseconds.multipliedReportingOverflow(by: factor)
        let pause = overflow ? self.maxBackoff.nanoseconds : min(self.maxBackoff.nanoseconds, scaled)
        self.pauses[index] = Pause(until: now + .nanoseconds(max(0, pause)), failures: failures)
    }

    /// A connection to `index` came up: it is not pausing any more.
    mutating func connected(_ index: Int) {
        guard self.pauses.indices.contains(index) else { return }
        self.pauses[index] = nil
    }
}
