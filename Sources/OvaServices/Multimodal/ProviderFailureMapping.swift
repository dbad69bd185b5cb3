import OvaEngines
import OvaProviders
import OvaResilience
import OvaRPC

/// The one mapping from provider, resilience and engine failures to status codes. Messages
/// say what failed and what to do; they never contain API keys or upstream bodies beyond the
/// provider's own short error text.
enum ProviderFailureMapping {
    static func rpcError(_ error: any Error, capability: String) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        case let error as ResilienceError:
            return self.resilience(error, capability: capability)
        case let error as ProviderError:
            return self.provider(error, capability: capability)
        case let error as EngineError:
            switch error {
            case .unavailable(let reason):
                return RPCError(code: .failedPrecondition, message: "the local \(capability) engine is unavailable: \(reason)")
            case .invalidInput(let reason):
                return RPCError(code: .invalidArgument, message: reason)
            case .engineFailure(let reason):
                return RPCError(code: .internalError, message: "the local \(capability) engine failed: \(reason)")
            }
        default:
            return RPCError.from(error)
        }
    }

    private static func resilience(_ error: ResilienceError, capability: String) -> RPCError {
        switch error {
        case .circuitOpen(let retryAfter):
            var rpcError = RPCError.resourceExhausted(
                "the \(capability) provider is failing and was taken out of service (circuit open); retry in \(retryAfter.roundedUpSeconds) s",
                retryAfter: retryAfter
            )
            rpcError.code = .unavailable
            return rpcError
        case .bulkheadFull:
            return RPCError(code: .resourceExhausted, message: "too many concurrent \(capability) requests; retry shortly")
        case .timedOut(let attempts):
            return Self.notAnsweredInTime(capability: capability, attempts: attempts)
        case .deadlineExceeded:
            return RPCError(code: .deadlineExceeded, message: "the call's deadline passed before the \(capability) provider answered")
        case .retriesExhausted(let attempts, let last as ProviderError) where last == .timeout:
            // The HTTP client's own timeout is the same failure as an attempt cut off by the
            // executor (which of the two fires first is a race when they coincide).
            return Self.notAnsweredInTime(capability: capability, attempts: attempts)
        case .retriesExhausted(let attempts, let last):
            var rpcError = self.rpcError(last, capability: capability)
            rpcError.message += " (after \(ResilienceError.count(attempts: attempts)))"
            return rpcError
        }
    }

    /// One wording for a provider that took too long, whichever timeout noticed it.
    private static func notAnsweredInTime(capability: String, attempts: Int) -> RPCError {
        RPCError(code: .unavailable, message: ResilienceError.notAnsweredInTime("the \(capability) provider", attempts: attempts))
    }

    private static func provider(_ error: ProviderError, capability: String) -> RPCError {
        switch error {
        case .notConfigured(let setting):
            return RPCError(code: .failedPrecondition, message: "\(capability) is not configured on this server: set \(setting)")
        case .connect(let reason):
            return RPCError(code: .unavailable, message: "cannot reach the \(capability) provider: \(reason)")
        case .timeout:
            return RPCError(code: .unavailable, message: "the \(capability) provider did not answer in time")
        case .modelLoading(let estimate):
            let wait = Duration.milliseconds(Int64((estimate ?? 20) * 1000))
            var rpcError = RPCError.resourceExhausted(
                "the \(capability) model is loading on the provider; retry in \(wait.roundedUpSeconds) s", retryAfter: wait
            )
            rpcError.code = .unavailable
            return rpcError
        case .http(let status, let message, let retryAfter):
            switch status {
            case 429:
                return RPCError.resourceExhausted(
                    "the \(capability) provider is rate limiting this server: \(message)", retryAfter: retryAfter ?? .seconds(10)
                )
            case 401, 403:
                return RPCError(code: .failedPrecondition, message: "the \(capability) provider refused the API key (HTTP \(status)): check HF_API_KEY / OVA_LLM_API_KEY")
            case 404:
                return RPCError(code: .failedPrecondition, message: "the \(capability) provider does not know the model (HTTP 404): check the HF_MODELO_* setting")
            case 400, 413, 415, 422:
                return RPCError(code: .invalidArgument, message: "the \(capability) provider rejected the input (HTTP \(status)): \(message)")
            default:
                return RPCError(code: .unavailable, message: "the \(capability) provider failed (HTTP \(status)): \(message)")
            }
        case .malformedResponse(let reason):
            return RPCError(code: .unavailable, message: "the \(capability) provider sent an invalid response: \(reason)")
        case .cancelled:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        case .tooLarge:
            return RPCError(code: .resourceExhausted, message: "the \(capability) provider's response is too large")
        case .invalidRequest(let reason):
            return RPCError(code: .invalidArgument, message: "the \(capability) request cannot be sent: \(reason)")
        }
    }
}
