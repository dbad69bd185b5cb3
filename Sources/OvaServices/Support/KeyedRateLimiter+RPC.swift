import OvaAuth
import OvaRPC

extension KeyedRateLimiter {
    /// Takes a token for the caller's address. - Throws: RESOURCE_EXHAUSTED with the delay.
    func check(peerAddress: String, what: String) throws {
        if let wait = self.acquire(peerHost(peerAddress)) {
            throw RPCError.resourceExhausted(
                "too many \(what) from your address; try again in \(wait.roundedUpSeconds) s",
                retryAfter: wait
            )
        }
    }
}
