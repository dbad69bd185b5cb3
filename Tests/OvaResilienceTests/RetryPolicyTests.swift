import OvaResilience
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("with jitter 1 the delays are the capped exponential ceilings")
    func fullJitterUpperBound() {
        let policy = RetryPolicy(randomUnit: { 1 })
        let delays = (0..<7).map { policy.delay(forRetry: $0, retryAfter: nil) }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
    }

    @Test("with jitter 0 every delay is zero")
    func fullJitterLowerBound() {
        let policy = RetryPolicy(randomUnit: { 0 })
        for retry in 0..<7 {
            #expect(policy.delay(forRetry: retry, retryAfter: nil) == .zero)
        }
    }

    @Test("jitter scales the ceiling; out-of-range random values are clamped")
    func jitterScales() {
        #expect(RetryPolicy(randomUnit: { 0.25 }).delay(forRetry: 2, retryAfter: nil) == .milliseconds(500))
        #expect(RetryPolicy(randomUnit: { 7 }).delay(forRetry: 0, retryAfter: nil) == .milliseconds(500))
        #expect(RetryPolicy(randomUnit: { -1 }).delay(forRetry: 0, retryAfter: nil) == .zero)
        #expect(RetryPolicy(randomUnit: { .nan }).delay(forRetry: 0, retryAfter: nil) == .zero)
    }

    @Test("the ceiling does not overflow for huge retry numbers")
    func hugeRetryNumber() {
        #expect(RetryPolicy().backoffCeiling(forRetry: 10_000) == .seconds(10))
    }

    @Test("a longer Retry-After replaces the backoff; a shorter one does not")
    func retryAfterPrecedence() {
        let policy = RetryPolicy(randomUnit: { 1 })
        #expect(policy.delay(forRetry: 0, retryAfter: .seconds(5)) == .seconds(5))
        #expect(policy.delay(forRetry: 3, retryAfter: .seconds(1)) == .seconds(4))
        #expect(policy.delay(forRetry: 0, retryAfter: .seconds(30)) == .seconds(30))
    }

    @Test("a Retry-After beyond maxRetryAfter means no retry")
    func retryAfterTooLong() {
        let policy = RetryPolicy(randomUnit: { 1 })
        #expect(policy.delay(forRetry: 0, retryAfter: .seconds(31)) == nil)
        #expect(RetryPolicy(maxRetryAfter: .seconds(60)).delay(forRetry: 0, retryAfter: .seconds(31)) == .seconds(31))
    }
}
