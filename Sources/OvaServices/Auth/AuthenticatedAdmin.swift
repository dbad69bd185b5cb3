import OvaRPC
import OvaStore

/// The administrator a call was authenticated as, attached to its context by the
/// ``AuthorizationInterceptor``.
public struct AuthenticatedAdmin: Sendable, Equatable {
    public var admin: AdminRecord
    /// The session the call's token belongs to.
    public var sessionID: Int64
    public var tokenExpiresAtSeconds: Int64
}

/// Where ``AuthenticatedAdmin`` lives in ``ServerContext/attributes``.
public enum AuthenticatedAdminKey: ContextAttributeKey {
    public typealias Value = AuthenticatedAdmin
}

extension ServerContext {
    /// The caller, when the call carried a valid token.
    public var authenticatedAdmin: AuthenticatedAdmin? {
        self.attributes[AuthenticatedAdminKey.self]
    }

    /// The caller of a method the policy restricts to administrators.
    ///
    /// - Throws: UNAUTHENTICATED when there is none (a method missing from the access policy
    ///   would otherwise run unauthenticated).
    func requireAdmin() throws -> AuthenticatedAdmin {
        guard let admin = self.authenticatedAdmin else {
            throw RPCError(code: .unauthenticated, message: "this call requires an administrator's access token")
        }
        return admin
    }

    /// The caller, who must be a superadmin. - Throws: PERMISSION_DENIED otherwise.
    func requireSuperadmin(for what: String) throws -> AuthenticatedAdmin {
        let caller = try self.requireAdmin()
        guard caller.admin.superadmin else {
            throw RPCError(code: .permissionDenied, message: "\(what) requires a superadmin")
        }
        return caller
    }

    /// The `user-agent` metadata, capped to what a session row stores (in code points, as
    /// MariaDB's VARCHAR counts).
    var userAgent: String {
        (self.requestMetadata.firstString(forKey: "user-agent") ?? "").prefix(codePoints: 255)
    }
}
