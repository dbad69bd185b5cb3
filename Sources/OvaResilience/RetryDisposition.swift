/// Whether a failed call may be tried again, as its error says.
public enum RetryDisposition: Sendable, Equatable {
    /// A transient failure: try again, no sooner than `after` when the server said when
    /// (HTTP `Retry-After`), otherwise after the policy's backoff.
    case retry(after: Duration?)
    /// Trying again would fail the same way (a rejected request, bad credentials).
    case doNotRetry
}
