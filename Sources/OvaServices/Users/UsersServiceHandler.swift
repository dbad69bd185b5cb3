import OvaAuth
import OvaProto
import OvaRPC
import OvaStore

/// `ova.v1.Users`: subscribers. Registration is public and rate limited per peer; the rest
/// needs an administrator.
public struct UsersServiceHandler: UsersHandler {
    let repository: UserRepository
    let registrationLimiter: KeyedRateLimiter

    public init(repository: UserRepository, registrationLimiter: KeyedRateLimiter) {
        self.repository = repository
        self.registrationLimiter = registrationLimiter
    }

    static let nameLength = 2...200

    public func registerUser(request: RegisterUserRequest, context: ServerContext) async throws -> User {
        try self.registrationLimiter.check(peerAddress: context.peerAddress, what: "registrations")
        var validator = RequestValidator()
        let email = validator.email(request.email, field: "email")
        let name = validator.text(request.name, field: "name", length: Self.nameLength)
        try validator.check()
        let registration = try await withStore("user") { () throws(StoreError) in
            try await self.repository.register(email: email, name: name)
        }
        context.auditNote?.target = "user:\(registration.user.id)"
        return User(registration.user)
    }

    public func getUser(request: GetUserRequest, context: ServerContext) async throws -> User {
        _ = try context.requireAdmin()
        try RequestValidator.checkID(request.id)
        return User(try await withStore("user \(request.id)") { () throws(StoreError) in
            try await self.repository.get(id: request.id)
        })
    }

    public func listUsers(request: ListUsersRequest, context: ServerContext) async throws -> ListUsersResponse {
        _ = try context.requireAdmin()
        let page = try PageQuery(request.page)
        let users = try await withStore("users") { () throws(StoreError) in
            try await self.repository.list(includeInactive: request.includeInactive, page: page)
        }
        var response = ListUsersResponse()
        response.users = users.items.map(User.init)
        response.page = PageResponse(users)
        return response
    }

    /// Changes the fields named in `update_mask` (`email`, `name`, `active`).
    public func updateUser(request: UpdateUserRequest, context: ServerContext) async throws -> User {
        _ = try context.requireAdmin()
        context.auditNote?.target = "user:\(request.id)"
        try RequestValidator.checkID(request.id)
        let paths = try (request.updateMask ?? FieldMask()).validatedPaths(allowed: ["email", "name", "active"])
        let fields = request.user ?? User()
        var validator = RequestValidator()
        let email = paths.contains("email") ? validator.email(fields.email, field: "user.email") : nil
        let name = paths.contains("name") ? validator.text(fields.name, field: "user.name", length: Self.nameLength) : nil
        try validator.check()
        return User(try await withStore("user \(request.id)") { () throws(StoreError) in
            try await self.repository.update(
                id: request.id, email: email, name: name, active: paths.contains("active") ? fields.active : nil
            )
        })
    }

    /// A soft delete, as the original's DELETE: the row stays, inactive.
    public func deactivateUser(request: DeactivateUserRequest, context: ServerContext) async throws -> User {
        _ = try context.requireAdmin()
        context.auditNote?.target = "user:\(request.id)"
        try RequestValidator.checkID(request.id)
        return User(try await withStore("user \(request.id)") { () throws(StoreError) in
            try await self.repository.update(id: request.id, email: nil, name: nil, active: false)
        })
    }

    public func deleteUser(request: DeleteUserRequest, context: ServerContext) async throws -> Empty {
        _ = try context.requireAdmin()
        context.auditNote?.target = "user:\(request.id)"
        try RequestValidator.checkID(request.id)
        try await withStore("user \(request.id)") { () throws(StoreError) in
            try await self.repository.delete(id: request.id)
        }
        return Empty()
    }
}
