/// A failed call: what a handler throws and what a client catches.
///
/// `details` is a serialized `ova.v1.ErrorDetails` (field violations, retry delay, reason);
/// OvaProto adds typed accessors. The runtime never puts internals (stack traces, SQL) in
/// `message`: errors that are not `RPCError` and not ``RPCErrorConvertible`` reach the client as
/// `UNKNOWN` with a generic message, and are logged on the server.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var details: [UInt8]
    public var metadata: Metadata

    public init(code: StatusCode, message: String, details: [UInt8] = [], metadata: Metadata = Metadata()) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
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
            return error.rpcError
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        case let error as ProtobufError:
            return RPCError(code: .invalidArgument, message: "invalid message: \(error.message)")
        default:
            return RPCError(code: .unknown, message: "the server failed to process the call")
        }
    }
}
