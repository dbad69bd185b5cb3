import OvaProto
import OvaRPC

extension RPCError {
    /// An error whose details carry `ova.v1.ErrorDetails`.
    public init(code: StatusCode, message: String, details: ErrorDetails) {
        self.init(code: code, message: message, details: details.serializedBytes())
    }

    /// INVALID_ARGUMENT with one field violation per (field path, description).
    public static func invalidArgument(_ message: String, fieldViolations: [(field: String, description: String)]) -> RPCError {
        var details = ErrorDetails()
        details.fieldViolations = fieldViolations.map { violation in
            var fieldViolation = FieldViolation()
            fieldViolation.field = violation.field
            fieldViolation.description = violation.description
            return fieldViolation
        }
        let summary = fieldViolations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
        return RPCError(code: .invalidArgument, message: "\(message): \(summary)", details: details)
    }

    /// The structured details, when the error carries them.
    public var errorDetails: ErrorDetails? {
        guard !self.details.isEmpty else { return nil }
        return try? ErrorDetails(serializedBytes: self.details)
    }
}

extension RPCError {
    /// RESOURCE_EXHAUSTED with the delay in `ErrorDetails.retry_info`, so clients back off
    /// by exactly as long as needed.
    public static func resourceExhausted(_ message: String, retryAfter: Duration) -> RPCError {
        var details = ErrorDetails()
        var retry = RetryInfo()
        retry.retryDelayMs = retryAfter.milliseconds
        details.retryInfo = retry
        details.reason = "RATE_LIMITED"
        return RPCError(code: .resourceExhausted, message: message, details: details)
    }
}
