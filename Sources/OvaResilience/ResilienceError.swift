/// Why ``ResilientExecutor/run(deadline:countsAsFailure:_:)`` gave up.
///
/// Not every failure is wrapped: an error the operation threw that may not be retried comes
/// out unchanged (a provider's HTTP 400 stays an HTTP 400), and so does `CancellationError`.
public enum ResilienceError: Error, Sendable, CustomStringConvertible {
    /// The provider's breaker is open; nothing was sent. Try again after `retryAfter`.
    case circuitOpen(retryAfter: Duration)
    /// Too many calls to the provider are running and waiting already; nothing was sent.
    case bulkheadFull
    /// Time ran out: the last attempt hit its attempt timeout or the overall deadline (ours or
    /// the caller's), or the call waited in the bulkhead until our overall timeout
    /// (`attempts` 0).
    case timedOut(attempts: Int)
    /// The caller's deadline passed before any attempt could start (on arrival or while
    /// waiting for the bulkhead); nothing was sent.
    case deadlineExceeded
    /// Every attempt failed with a retryable error, or the next retry was not possible (the
    /// retries ran out, the backoff would end past the deadline, or the server's
    /// `Retry-After` was longer than the policy waits); `last` is the last attempt's error.
    case retriesExhausted(attempts: Int, last: any Error)

    public var description: String {
        switch self {
        case .circuitOpen(let retryAfter):
            "circuit open; retry after \(retryAfter)"
        case .bulkheadFull:
            "too many concurrent calls"
        case .timedOut(let attempts):
            Self.notAnsweredInTime("the provider", attempts: attempts)
        case .deadlineExceeded:
            "deadline exceeded before the call could start"
        case .retriesExhausted(let attempts, let last):
            "failed after \(Self.count(attempts: attempts)): \(last)"
        }
    }

    /// The one wording of a provider that took too long, shared by ``timedOut(attempts:)``'s
    /// description and the RPC message built from it, so logs and clients read the same:
    /// `the chat provider did not answer in time (3 attempts)`.
    ///
    /// - Parameter subject: who did not answer, e.g. `the chat provider`.
    public static func notAnsweredInTime(_ subject: String, attempts: Int) -> String {
        if attempts == 0 {
            return "\(subject) did not answer in time (no attempt could start: all its slots stayed busy)"
        }
        return "\(subject) did not answer in time (\(Self.count(attempts: attempts)))"
    }

    /// `1 attempt`, `3 attempts`.
    public static func count(attempts: Int) -> String {
        attempts == 1 ? "1 attempt" : "\(attempts) attempts"
    }
}
