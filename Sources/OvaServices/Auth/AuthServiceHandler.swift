import OvaProto
import OvaRPC
import OvaStore

/// `ova.v1.Auth`: login, logout, token refresh, sessions and password changes.
public struct AuthServiceHandler: AuthHandler {
    let authenticator: AdminAuthenticator

    public init(authenticator: AdminAuthenticator) {
        self.authenticator = authenticator
    }

    private var store: Store { self.authenticator.store }

    public func login(request: LoginRequest, context: ServerContext) async throws -> LoginResponse {
        var validator = RequestValidator()
        let email = request.email.trimmingWhitespace().lowercased()
        if email.isEmpty { validator.fail("email", "is required") }
        if email.utf8.count > 254 { validator.fail("email", "must be at most 254 bytes") }
        if request.password.isEmpty { validator.fail("password", "is required") }
        if request.password.utf8.count > 1024 { validator.fail("password", "must be at most 1024 bytes") }
        try validator.check()
        // Until the password is checked the caller is anonymous; the record of a failed attempt
        // names the account it was aimed at in its target.
        context.auditNote?.target = "email:\(email)"
        let issued = try await self.authenticator.login(
            email: email, password: request.password, peerAddress: context.peerAddress, userAgent: context.userAgent
        )
        context.auditNote?.actor = email
        context.auditNote?.actorAdminID = issued.session.adminID
        context.auditNote?.target = "session:\(issued.session.id)"
        return Self.response(issued)
    }

    public func logout(request: LogoutRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.requireAdmin()
        context.auditNote?.target = "session:\(caller.sessionID)"
        try await withStore("session \(caller.sessionID)") { () throws(StoreError) in
            try await self.store.sessions.revoke(id: caller.sessionID)
        }
        return Empty()
    }

    public func refresh(request: RefreshRequest, context: ServerContext) async throws -> LoginResponse {
        let caller = try context.requireAdmin()
        let issued = try await self.authenticator.refresh(caller, peerAddress: context.peerAddress, userAgent: context.userAgent)
        context.auditNote?.target = "session:\(issued.session.id)"
        return Self.response(issued)
    }

    public func whoAmI(request: WhoAmIRequest, context: ServerContext) async throws -> WhoAmIResponse {
        let caller = try context.requireAdmin()
        let session = try await withStore("session \(caller.sessionID)") { () throws(StoreError) in
            try await self.store.sessions.get(id: caller.sessionID)
        }
        var response = WhoAmIResponse()
        response.admin = Admin(caller.admin)
        response.session = Session(session, currentSessionID: caller.sessionID)
        return response
    }

    public func listSessions(request: ListSessionsRequest, context: ServerContext) async throws -> ListSessionsResponse {
        let caller = request.allAdmins
            ? try context.requireSuperadmin(for: "listing every administrator's sessions (all_admins)")
            : try context.requireAdmin()
        let page = try PageQuery(request.page)
        let sessions = try await withStore("sessions") { () throws(StoreError) in
            try await self.store.sessions.listActive(
                adminID: request.allAdmins ? nil : caller.admin.id, nowMilliseconds: StoreClock.nowMilliseconds(), page: page
            )
        }
        var response = ListSessionsResponse()
        response.sessions = sessions.items.map { Session($0, currentSessionID: caller.sessionID) }
        response.page = PageResponse(sessions)
        return response
    }

    public func revokeSession(request: RevokeSessionRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.requireAdmin()
        var validator = RequestValidator()
        validator.positiveID(request.sessionId, field: "session_id")
        try validator.check()
        context.auditNote?.target = "session:\(request.sessionId)"
        let resource = "active session \(request.sessionId)"
        let session = try await withStore(resource) { () throws(StoreError) in
            try await self.store.sessions.get(id: request.sessionId)
        }
        guard session.adminID == caller.admin.id || caller.admin.superadmin else {
            throw RPCError(code: .permissionDenied, message: "revoking another administrator's session requires a superadmin")
        }
        try await withStore(resource) { () throws(StoreError) in
            try await self.store.sessions.revoke(id: request.sessionId)
        }
        return Empty()
    }

    /// Without `admin_id` (or with the caller's own): every session of the caller but the one
    /// making this call ("sign out everywhere else"). With another id: all of that
    /// administrator's sessions, which needs a superadmin.
    public func revokeAllSessions(request: RevokeAllSessionsRequest, context: ServerContext) async throws -> RevokeAllSessionsResponse {
        let caller = try context.requireAdmin()
        let own = request.adminId == 0 || request.adminId == caller.admin.id
        if !own {
            _ = try context.requireSuperadmin(for: "revoking another administrator's sessions")
        }
        let adminID = own ? caller.admin.id : request.adminId
        context.auditNote?.target = "admin:\(adminID)"
        let count = try await withStore("administrator \(adminID)") { () throws(StoreError) in
            if !own { _ = try await self.store.admins.get(id: adminID) }
            return try await self.store.sessions.revokeAll(adminID: adminID, except: own ? caller.sessionID : nil)
        }
        var response = RevokeAllSessionsResponse()
        response.revokedCount = UInt32(clamping: count)
        return response
    }

    /// Verifies the current password (throttled like a login), applies the policy to the new
    /// one, and ends every other session: whoever knew the old password is signed out.
    public func changePassword(request: ChangePasswordRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.requireAdmin()
        context.auditNote?.target = "admin:\(caller.admin.id)"
        var validator = RequestValidator()
        if request.currentPassword.isEmpty { validator.fail("current_password", "is required") }
        if request.currentPassword.utf8.count > 1024 { validator.fail("current_password", "must be at most 1024 bytes") }
        if request.newPassword.isEmpty { validator.fail("new_password", "is required") }
        if !request.newPassword.isEmpty, request.newPassword == request.currentPassword {
            validator.fail("new_password", "must differ from the current password")
        }
        try validator.check()
        try await self.authenticator.verifyCurrentPassword(of: caller, password: request.currentPassword, peerAddress: context.peerAddress)
        let hash = try await self.authenticator.hashNewPassword(request.newPassword, email: caller.admin.email, field: "new_password")
        try await withStore("administrator \(caller.admin.id)") { () throws(StoreError) in
            try await self.store.admins.setPasswordHash(id: caller.admin.id, hash)
            _ = try await self.store.sessions.revokeAll(adminID: caller.admin.id, except: caller.sessionID)
        }
        return Empty()
    }

    private static func response(_ issued: AdminAuthenticator.IssuedToken) -> LoginResponse {
        var response = LoginResponse()
        response.accessToken = issued.token
        response.tokenType = "bearer"
        response.expiresAtUnixMs = UInt64(max(0, issued.session.expiresAtMilliseconds))
        response.admin = Admin(issued.session.admin)
        response.sessionId = issued.session.id
        return response
    }
}
