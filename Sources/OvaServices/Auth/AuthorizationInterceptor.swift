import OvaRPC

/// Checks `authorization: Bearer <token>` on every call against the ``AccessPolicy``.
///
/// UNAUTHENTICATED when a call needs a token and has none, or its token is invalid, expired or
/// revoked (gRPC: the caller's identity could not be established); PERMISSION_DENIED when the
/// identity is known but not allowed. On open methods a valid token is attached (so Login
/// audit records know a logged-in caller) and an invalid one is ignored.
public struct AuthorizationInterceptor: ServerInterceptor {
    let authenticator: AdminAuthenticator
    let policy: AccessPolicy

    public init(authenticator: AdminAuthenticator, policy: AccessPolicy = .ova) {
        self.authenticator = authenticator
        self.policy = policy
    }

    /// Diagnostics (Echo, Health, Reflection) skip the chain entirely: they are open and never
    /// look at the caller.
    public func applies(to method: MethodDescriptor) -> Bool {
        !self.policy.isOpenService(method)
    }

    public func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
        let level = self.policy.level(for: context.method)
        let token = Self.bearerToken(context.requestMetadata)
        switch (level, token) {
        case (.open, .none):
            break
        case (.open, .some(.success(let token))):
            context.attributes[AuthenticatedAdminKey.self] = try? await self.authenticator.authenticate(token: token)
        case (.open, .some(.failure)):
            break
        case (_, .none):
            throw RPCError(
                code: .unauthenticated,
                message: "\(context.method.path) requires an administrator's access token: log in with ova.v1.Auth/Login "
                    + "and send it as 'authorization: Bearer <token>' metadata"
            )
        case (_, .some(.failure(let error))):
            throw error
        case (.admin, .some(.success(let token))), (.superadmin, .some(.success(let token))):
            let caller = try await self.authenticator.authenticate(token: token)
            // Attached before the role check, so the audit record of a refusal names the caller.
            context.attributes[AuthenticatedAdminKey.self] = caller
            if level == .superadmin, !caller.admin.superadmin {
                throw RPCError(code: .permissionDenied, message: "\(context.method.path) requires a superadmin")
            }
        }
        try await next()
    }

    /// The token of the `authorization` entry; nil when absent, a failure when malformed or when
    /// there is more than one entry (picking one would be a silent guess: docs/PROTOCOL.md §15).
    static func bearerToken(_ metadata: Metadata) -> Result<String, RPCError>? {
        var entries = 0
        for entry in metadata where entry.key == "authorization" {
            entries += 1
        }
        guard entries <= 1 else {
            return .failure(RPCError(
                code: .unauthenticated,
                message: "more than one authorization entry (\(entries)); send exactly one 'authorization: Bearer <token>'"
            ))
        }
        guard let value = metadata.firstString(forKey: "authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            return .failure(RPCError(code: .unauthenticated, message: "the authorization metadata must be 'Bearer <token>'"))
        }
        return .success(String(parts[1]).trimmingWhitespace())
    }
}
