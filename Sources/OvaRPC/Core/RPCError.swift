/// A failed call: what a handler throws and what a client catches.
///
/// `details` is a serialized `ova.v1.ErrorDetails` (field violations, retry delay, reason);
/// OvaProto adds typed accessors. The runtime never puts internals (stack traces, SQL) in
/// `message`: errors that are not `RPCError` and not ``RPCErrorConvertible`` reach the client as
/// `UNKNOWN` with a generic message, and are logged on the server.
///
/// `cause` keeps the error this one was made from (a `StoreError` with SQLite's text, a provider
/// failure) for the server log, as grpc-swift-2's `RPCError.cause` does. It is never sent on the
/// wire, takes no part in equality or hashing, and is left out of `description`, which code may
/// interpolate into client-visible messages.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var details: [UInt8]
    public var metadata: Metadata
    /// The underlying error, for the server log only.
    public var cause: (any Error)?

    public init(
        code: StatusCode,
        message: String,
        details: [UInt8] = [],
        metadata: Metadata = Metadata(),
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
        self.cause = cause
    }

    public static func == (lhs: RPCError, rhs: RPCError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.details == rhs.details && lhs.metadata == rhs.metadata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.message)
        hasher.combine(self.details)
        hasher.combine(self.metadata)
    }

    /// The error a non-OK trailers frame describes; `nil` for OK.
    public init?(trailers: Trailers) {
        guard trailers.code != .ok else { return nil }
        self.init(code: trailers.code, message: trailers.message, details: trailers.details, metadata: trailers.metadata)
    }

    public var description: String {
        self.message.isEmpty ? self.code.name : "\(self.code.name): \(self.message)"
    }
}

/// Errors of other layers (storage, providers, resilience) choose their own status by conforming.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError {
    /// Maps any error a handler throws to the error sent to the client (interceptors use it to
    /// see a call's outcome as the client will).
    public static func from(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as any RPCErrorConvertible:
            var rpcError = error.rpcError
            if rpcError.cause == nil { rpcError.cause = error }
            return rpcError
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        case let error as ProtobufError:
            return RPCError.invalidMessage(error, prefix: "invalid message")
        default:
            return RPCError(code: .unknown, message: "the server failed to process the call", cause: error)
        }
    }

    /// INVALID_ARGUMENT for a request that did not decode. A string field with a NUL byte or
    /// invalid UTF-8 gets a field violation naming it (docs/PROTOCOL.md §11.1).
    static func invalidMessage(_ error: ProtobufError, prefix: String) -> RPCError {
        guard let field = error.invalidField else {
            return RPCError(code: .invalidArgument, message: "\(prefix): \(error.message)", cause: error)
        }
        return RPCError(
            code: .invalidArgument,
            message: "\(prefix): \(field.path) \(field.description)",
            details: ErrorDetailsEncoding.fieldViolation(field: field.path, description: field.description),
            cause: error
        )
    }

    /// The error for a received message that failed to decode: INVALID_ARGUMENT (with a field
    /// violation when the decoder names a field) on the server, `code` otherwise.
    static func decodeFailure(_ error: any Error, of type: Any.Type, code: StatusCode) -> RPCError {
        if code == .invalidArgument, let error = error as? ProtobufError {
            return RPCError.invalidMessage(error, prefix: "could not decode \(type)")
        }
        return RPCError(code: code, message: "could not decode \(type): \(error)", cause: error)
    }
}
