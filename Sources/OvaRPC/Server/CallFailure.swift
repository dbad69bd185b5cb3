import Logging

/// How a call that failed after its handler started ends: the status the client sees, the
/// server log line for server-side faults, and the request id in both the trailers and the
/// details.
enum CallFailure {
    /// The TRAILERS for `error`, thrown by the handler or an interceptor of `context`'s call.
    ///
    /// The request id goes into the `ova-request-id` trailer and, when the error carries
    /// `ova.v1.ErrorDetails`, into their `request_id` (docs/PROTOCOL.md §11.2).
    static func trailers(for error: any Error, context: ServerContext) -> Trailers {
        let rpcError = RPCError.from(error)
        let requestID = context.requestID
        Self.log(rpcError, context: context)
        var metadata = context.trailingMetadata
        for (key, value) in rpcError.metadata {
            metadata.add(value, forKey: key)
        }
        metadata.addString(requestID, forKey: "ova-request-id")
        let details = rpcError.details.isEmpty
            ? rpcError.details
            : ErrorDetailsEncoding.settingRequestID(requestID, in: rpcError.details)
        return Trailers(code: rpcError.code, message: rpcError.message, details: details, metadata: metadata)
    }

    /// The log level of a failure that is the server's (or a dependency's) fault, with its cause;
    /// nil for failures the client caused or asked for, which the access log covers.
    static func logLevel(for code: StatusCode) -> Logger.Level? {
        switch code {
        case .internalError, .unknown: return .error
        case .unavailable: return .warning
        default: return nil
        }
    }

    /// One line per INTERNAL, UNKNOWN or UNAVAILABLE, with what the client never sees: the
    /// cause (e.g. SQLite's text). The context's logger carries `request_id` and `method`.
    private static func log(_ rpcError: RPCError, context: ServerContext) {
        guard let level = Self.logLevel(for: rpcError.code) else { return }
        let logger = context.logger
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "status": "\(rpcError.code.name)",
            "error": "\(rpcError.message)",
        ]
        if let cause = rpcError.cause {
            metadata["cause"] = "\(String(reflecting: cause))"
        }
        logger.log(level: level, "call failed", metadata: metadata)
    }
}

/// Request metadata as handlers and interceptors see it.
public enum RequestMetadata {
    /// `metadata` without the keys reserved for the protocol (`ova-…`): a server ignores the
    /// ones it does not define (docs/PROTOCOL.md §15), and it defines none in requests, so a
    /// client cannot pass `ova-request-id` or any other `ova-` key to a handler.
    ///
    /// Returns `metadata` itself (no copy) when it has no such key, the usual case.
    public static func sanitized(_ metadata: Metadata) -> Metadata {
        guard metadata.contains(where: { Self.isReserved($0.key) }) else { return metadata }
        var kept = Metadata()
        for (key, value) in metadata where !Self.isReserved(key) {
            kept.add(value, forKey: key)
        }
        return kept
    }

    /// Keys arrive lower-cased (the decoder refuses others), so a byte prefix test suffices.
    static func isReserved(_ key: String) -> Bool {
        key.utf8.starts(with: "ova-".utf8)
    }
}
