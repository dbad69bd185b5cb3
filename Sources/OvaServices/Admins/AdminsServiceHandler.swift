import OvaProto
import OvaRPC
import OvaStore

/// `ova.v1.Admins`: managing administrator accounts (superadmins; the access policy enforces it).
public struct AdminsServiceHandler: AdminsHandler {
    let authenticator: AdminAuthenticator

    public init(authenticator: AdminAuthenticator) {
        self.authenticator = authenticator
    }

    private var admins: AdminRepository { self.authenticator.store.admins }

    static let nameLength = 2...100

    public func createAdmin(request: CreateAdminRequest, context: ServerContext) async throws -> Admin {
        _ = try context.requireSuperadmin(for: "creating administrators")
        let admin = try await Self.createAdmin(
            name: request.name, email: request.email, password: request.password, superadmin: request.superadmin,
            authenticator: self.authenticator
        )
        context.auditNote?.target = "admin:\(admin.id)"
        return Admin(admin)
    }

    /// Validates and creates an account: the RPC and `ova-server admin create` share it.
    ///
    /// - Throws: INVALID_ARGUMENT with field violations (name 2–100 characters, a valid email,
    ///   the password policy); ALREADY_EXISTS for a registered email.
    public static func createAdmin(
        name: String, email: String, password: String, superadmin: Bool, authenticator: AdminAuthenticator
    ) async throws -> AdminRecord {
        var validator = RequestValidator()
        let name = validator.text(name, field: "name", length: Self.nameLength)
        let email = validator.email(email, field: "email")
        if password.isEmpty { validator.fail("password", "is required") }
        try validator.check()
        let hash = try await authenticator.hashNewPassword(password, email: email, field: "password")
        return try await withStore("administrator") { () throws(StoreError) in
            try await authenticator.store.admins.create(name: name, email: email, passwordHash: hash, superadmin: superadmin)
        }
    }

    /// Sets a new password for the administrator with `email` and ends all of its sessions:
    /// the way back in when nobody can log in (`ova-server admin reset-password`). An inactive
    /// account stays inactive.
    ///
    /// - Throws: INVALID_ARGUMENT with field violations (a valid email, the password policy);
    ///   NOT_FOUND for an unknown email.
    public static func resetPassword(
        email: String, password: String, authenticator: AdminAuthenticator
    ) async throws -> (admin: AdminRecord, revokedSessions: Int) {
        var validator = RequestValidator()
        let email = validator.email(email, field: "email")
        if password.isEmpty { validator.fail("password", "is required") }
        try validator.check()
        let found = try await withStore("administrator") { () throws(StoreError) in
            try await authenticator.store.admins.credentials(email: email)?.admin
        }
        guard let admin = found else {
            throw RPCError(code: .notFound, message: "no administrator has the email \(email)")
        }
        let hash = try await authenticator.hashNewPassword(password, email: admin.email, field: "password")
        let revoked = try await withStore("administrator \(admin.id)") { () throws(StoreError) in
            try await authenticator.store.admins.setPasswordHash(id: admin.id, hash)
            return try await authenticator.store.sessions.revokeAll(adminID: admin.id)
        }
        return (admin, revoked)
    }

    public func getAdmin(request: GetAdminRequest, context: ServerContext) async throws -> Admin {
        _ = try context.requireSuperadmin(for: "reading administrators")
        try RequestValidator.checkID(request.id)
        return Admin(try await withStore("administrator \(request.id)") { () throws(StoreError) in
            try await self.admins.get(id: request.id)
        })
    }

    public func listAdmins(request: ListAdminsRequest, context: ServerContext) async throws -> ListAdminsResponse {
        _ = try context.requireSuperadmin(for: "listing administrators")
        let page = try PageQuery(request.page)
        let admins = try await withStore("administrators") { () throws(StoreError) in
            try await self.admins.list(page: page)
        }
        var response = ListAdminsResponse()
        response.admins = admins.items.map(Admin.init)
        response.page = PageResponse(admins)
        return response
    }

    /// Changes the fields named in `update_mask` (`name`, `email`, `superadmin`, `active`).
    public func updateAdmin(request: UpdateAdminRequest, context: ServerContext) async throws -> Admin {
        let caller = try context.requireSuperadmin(for: "updating administrators")
        context.auditNote?.target = "admin:\(request.id)"
        var validator = RequestValidator()
        validator.positiveID(request.id, field: "id")
        try validator.check()
        let paths = try (request.updateMask ?? FieldMask()).validatedPaths(allowed: ["name", "email", "superadmin", "active"])
        let fields = request.admin ?? Admin()
        var changes = AdminChanges()
        if paths.contains("name") { changes.name = validator.text(fields.name, field: "admin.name", length: Self.nameLength) }
        if paths.contains("email") { changes.email = validator.email(fields.email, field: "admin.email") }
        if paths.contains("superadmin") { changes.superadmin = fields.superadmin }
        if paths.contains("active") { changes.active = fields.active }
        try validator.check()
        if request.id == caller.admin.id, changes.active == false || changes.superadmin == false {
            throw RPCError(code: .failedPrecondition, message: "you cannot deactivate or demote your own account; ask another superadmin")
        }
        return Admin(try await withStore("administrator \(request.id)") { () throws(StoreError) in
            try await self.admins.update(id: request.id, changes)
        })
    }

    public func setAdminActive(request: SetAdminActiveRequest, context: ServerContext) async throws -> Admin {
        let caller = try context.requireSuperadmin(for: "activating or deactivating administrators")
        context.auditNote?.target = "admin:\(request.id)"
        try RequestValidator.checkID(request.id)
        if request.id == caller.admin.id, !request.active {
            throw RPCError(code: .failedPrecondition, message: "you cannot deactivate your own account; ask another superadmin")
        }
        return Admin(try await withStore("administrator \(request.id)") { () throws(StoreError) in
            try await self.admins.update(id: request.id, AdminChanges(active: request.active))
        })
    }

    /// A hard delete, as the original; the account's sessions end with it.
    public func deleteAdmin(request: DeleteAdminRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.requireSuperadmin(for: "deleting administrators")
        context.auditNote?.target = "admin:\(request.id)"
        try RequestValidator.checkID(request.id)
        if request.id == caller.admin.id {
            throw RPCError(code: .failedPrecondition, message: "you cannot delete your own account; ask another superadmin")
        }
        try await withStore("administrator \(request.id)") { () throws(StoreError) in
            try await self.admins.delete(id: request.id)
        }
        return Empty()
    }
}
