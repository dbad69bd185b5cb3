import OvaResilience
import Testing

/// A provider's HTTP failure, classified the way provider clients are meant to classify.
struct ProviderError: RetryClassifiable, Equatable, CustomStringConvertible {
    var status: Int
    var retryAfter: Duration?

    init(_ status: Int, retryAfter: Duration? = nil) {
        self.status = status
        self.retryAfter = retryAfter
    }

    var retryDisposition: RetryDisposition {
        switch self.status {
        case 429, 502, 503, 504: .retry(after: self.retryAfter)
        default: .doNotRetry
        }
    }

    var description: String {
        "HTTP \(self.status)"
    }
}

/// An error nobody classified.
struct Unclassified: Error, Equatable {}

/// Makes operations hang until cancelled, on a clock of its own that never moves, so tests
/// can wait until an operation is hanging without it adding sleepers to the clock under test.
final class Hanger: Sendable {
    private let clock = ManualResilienceClock()

    func hang() async throws -> Never {
        try await self.clock.sleep(until: self.clock.now + .seconds(1))
        fatalError("the hang clock never moves")
    }

    /// Returns once `count` operations are hanging.
    func waitForHanging(_ count: Int = 1) async {
        await self.clock.waitForSleepers(count: count)
    }

    var hanging: Int {
        self.clock.pendingDeadlines.count
    }
}

/// Every way a `run` can end, comparable, so a failed expectation prints what happened.
enum Outcome: Equatable, CustomStringConvertible {
    case value(String)
    case circuitOpen(retryAfter: Duration)
    case bulkheadFull
    case timedOut(attempts: Int)
    case deadlineExceeded
    case retriesExhausted(attempts: Int, last: ProviderError?)
    case cancelled
    case provider(ProviderError)
    case unclassified
    case other(String)

    init(_ result: Result<String, any Error>) {
        switch result {
        case .success(let value):
            self = .value(value)
        case .failure(let error as ResilienceError):
            switch error {
            case .circuitOpen(let retryAfter): self = .circuitOpen(retryAfter: retryAfter)
            case .bulkheadFull: self = .bulkheadFull
            case .timedOut(let attempts): self = .timedOut(attempts: attempts)
            case .deadlineExceeded: self = .deadlineExceeded
            case .retriesExhausted(let attempts, let last):
                self = .retriesExhausted(attempts: attempts, last: last as? ProviderError)
            }
        case .failure(is CancellationError):
            self = .cancelled
        case .failure(let error as ProviderError):
            self = .provider(error)
        case .failure(is Unclassified):
            self = .unclassified
        case .failure(let error):
            self = .other(String(describing: error))
        }
    }

    var description: String {
        switch self {
        case .value(let value): "value(\(value))"
        case .circuitOpen(let retryAfter): "circuitOpen(\(retryAfter))"
        case .bulkheadFull: "bulkheadFull"
        case .timedOut(let attempts): "timedOut(\(attempts))"
        case .deadlineExceeded: "deadlineExceeded"
        case .retriesExhausted(let attempts, let last): "retriesExhausted(\(attempts), \(last.map(String.init(describing:)) ?? "?"))"
        case .cancelled: "cancelled"
        case .provider(let error): "provider(\(error))"
        case .unclassified: "unclassified"
        case .other(let description): "other(\(description))"
        }
    }
}
