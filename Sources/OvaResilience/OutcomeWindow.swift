/// The outcomes of the last `capacity` recorded calls: the circuit breaker's count-based
/// sliding window. Keeps running totals so rates are O(1) per call.
struct OutcomeWindow: Sendable {
    private struct Outcome {
        let failed: Bool
        let slow: Bool
    }

    let capacity: Int
    private var outcomes: [Outcome] = []
    private var next = 0
    private(set) var failures = 0
    private(set) var slowCalls = 0

    init(capacity: Int) {
        self.capacity = capacity
        self.outcomes.reserveCapacity(capacity)
    }

    var count: Int {
        self.outcomes.count
    }

    /// Failures over recorded calls; 0 when empty.
    var failureRate: Double {
        self.outcomes.isEmpty ? 0 : Double(self.failures) / Double(self.outcomes.count)
    }

    /// Slow calls (failed or not) over recorded calls; 0 when empty.
    var slowCallRate: Double {
        self.outcomes.isEmpty ? 0 : Double(self.slowCalls) / Double(self.outcomes.count)
    }

    mutating func add(failed: Bool, slow: Bool) {
        let outcome = Outcome(failed: failed, slow: slow)
        if self.outcomes.count < self.capacity {
            self.outcomes.append(outcome)
        } else {
            let evicted = self.outcomes[self.next]
            if evicted.failed { self.failures -= 1 }
            if evicted.slow { self.slowCalls -= 1 }
            self.outcomes[self.next] = outcome
        }
        if failed { self.failures += 1 }
        if slow { self.slowCalls += 1 }
        self.next = (self.next + 1) % self.capacity
    }

    mutating func removeAll() {
        self.outcomes.removeAll(keepingCapacity: true)
        self.next = 0
        self.failures = 0
        self.slowCalls = 0
    }
}
