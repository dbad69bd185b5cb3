import Logging

/// The storage layer in one value: the database and a repository per aggregate.
public struct Store: Sendable {
    public let database: Database
    public let admins: AdminRepository
    public let sessions: SessionRepository
    public let messages: ContactMessageRepository
    public let users: UserRepository
    public let audit: AuditRepository
    public let loginThrottle: LoginThrottleRepository

    public init(database: Database) {
        self.database = database
        self.admins = AdminRepository(database: database)
        self.sessions = SessionRepository(database: database)
        self.messages = ContactMessageRepository(database: database)
        self.users = UserRepository(database: database)
        self.audit = AuditRepository(database: database)
        self.loginThrottle = LoginThrottleRepository(database: database)
    }

    /// Opens the database (running migrations) and builds the repositories.
    public static func open(_ location: Database.Location, logger: Logger) async throws(StoreError) -> Store {
        Store(database: try await Database.open(location, logger: logger))
    }
}
