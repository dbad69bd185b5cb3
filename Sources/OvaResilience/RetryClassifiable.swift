/// An error that knows whether the call that threw it may be retried.
///
/// Errors that do not conform are never retried: retrying an error nobody classified could
/// repeat a non-idempotent request or hammer a provider with requests it already refused.
/// Provider clients conform their errors, e.g. connection failures, timeouts, HTTP 429 (with
/// its `Retry-After`) and 502/503/504 as ``RetryDisposition/retry(after:)``, other 4xx as
/// ``RetryDisposition/doNotRetry``. `CancellationError` is never retried, whatever it says.
public protocol RetryClassifiable: Error {
    /// Whether, and how soon, the failed call may be tried again.
    var retryDisposition: RetryDisposition { get }
}
