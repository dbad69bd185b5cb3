/// The failure recorded to the breaker when an attempt hits its timeout.
struct AttemptTimedOut: Error, CustomStringConvertible {
    let attempt: Int
    let after: Duration

    var description: String {
        "attempt \(self.attempt) timed out after \(self.after)"
    }
}
