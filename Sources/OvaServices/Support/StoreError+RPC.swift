import OvaRPC
import OvaStore

/// The one mapping from storage failures to status codes. Messages name the resource and the
/// field, never SQL, paths or SQLite's own text (that goes to the server log).
extension StoreError: RPCErrorConvertible {
    public var rpcError: RPCError {
        self.rpcError(resource: "the resource")
    }

    /// - Parameter resource: what the call was about, e.g. `administrator 7`.
    /// - Returns: the status for the client, with this error as its `cause` so that SQLite's
    ///   text reaches the server log (never the client).
    public func rpcError(resource: String) -> RPCError {
        var error = self.publicError(resource: resource)
        error.cause = self
        return error
    }

    private func publicError(resource: String) -> RPCError {
        switch self {
        case .duplicate(let field):
            return RPCError(code: .alreadyExists, message: "\(field) is already registered")
        case .notFound:
            return RPCError(code: .notFound, message: "\(resource) not found")
        case .constraintViolation(let reason):
            return RPCError(code: .failedPrecondition, message: Self.publicReason(reason))
        case .unavailable:
            return RPCError(code: .unavailable, message: "the database is unavailable; retry later")
        case .invalidPageToken:
            return RPCError.invalidArgument(
                "invalid page token",
                fieldViolations: [("page.page_token", "use a next_page_token returned by the previous page, or empty for the first page")]
            )
        case .internalError:
            return RPCError(code: .internalError, message: "the server failed to access its database")
        }
    }

    /// Constraint texts written by OvaStore itself are meant for users; SQLite's are not.
    private static func publicReason(_ reason: String) -> String {
        reason.contains("constraint failed") ? "the change conflicts with related records" : reason
    }
}

/// Runs a storage call, mapping its failure with the resource named; other errors pass through.
func withStore<T>(_ resource: @autoclosure () -> String, _ body: () async throws(StoreError) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw error.rpcError(resource: resource())
    }
}
