import Logging
import NIOPosix
import OvaAuth
import OvaRPC
import OvaServices
import OvaStore

/// The back office: storage, authentication and the services built on them.
public struct AccountServices: Sendable {
    public let store: Store
    public let authenticator: AdminAuthenticator
    public let broadcaster: MessageBroadcaster
    /// Brings messages sent through other instances to this one's watchers.
    public let tail: MessageTail
    /// Audit outermost, so it sees the authorization interceptor's refusals.
    public let interceptors: [any ServerInterceptor]

    /// Opens the database (migrating it) and assembles the account services.
    ///
    /// - Parameter passwordHasher: tests pass a cheaper one; servers use the default (bcrypt cost 12).
    public static func open(
        configuration: ServerConfiguration,
        logger: Logger,
        passwordHasher: PasswordHasher? = nil
    ) async throws -> AccountServices {
        try DataFiles.preparePrivateDirectory(configuration.storage.dataDirectory, production: configuration.isProduction, logger: logger)
        let secret = try AccessTokenSecret.resolve(configuration: configuration, logger: logger)
        if configuration.storage.mariadb == nil {
            try DataFiles.preparePrivateDatabase(path: configuration.storage.effectiveDatabasePath, logger: logger)
        }
        let store: Store
        do {
            store = try await Store.open(configuration.storage.databaseLocation, logger: logger)
        } catch {
            throw DatabaseStartupError(location: configuration.storage.databaseLocation, cause: error)
        }
        let hasher = try passwordHasher ?? PasswordHasher()
        let authenticator = AdminAuthenticator(
            store: store,
            secret: secret,
            tokenLifetimeSeconds: configuration.auth.accessTokenLifetime.components.seconds,
            hasher: hasher,
            logger: logger
        )
        await authenticator.warmUp()
        let broadcaster = MessageBroadcaster()
        let tail = MessageTail(repository: store.messages, broadcaster: broadcaster, logger: logger)
        tail.start()
        return AccountServices(
            store: store,
            authenticator: authenticator,
            broadcaster: broadcaster,
            tail: tail,
            interceptors: [
                AuditInterceptor(repository: store.audit, logger: logger),
                AuthorizationInterceptor(authenticator: authenticator),
            ]
        )
    }

    /// One limiter per public method, so contact spam cannot block registrations.
    func publicLimiter(configuration: ServerConfiguration) -> KeyedRateLimiter {
        let perMinute = Double(configuration.auth.publicRatePerMinute)
        return KeyedRateLimiter(ratePerSecond: perMinute / 60, burst: max(1, configuration.auth.publicRatePerMinute))
    }

    func register(into router: inout RPCRouter, configuration: ServerConfiguration) {
        router.register(AuthServiceHandler(authenticator: self.authenticator))
        router.register(AdminsServiceHandler(authenticator: self.authenticator))
        router.register(UsersServiceHandler(repository: self.store.users, registrationLimiter: self.publicLimiter(configuration: configuration)))
        router.register(MessagesServiceHandler(
            repository: self.store.messages, broadcaster: self.broadcaster, tail: self.tail, sendLimiter: self.publicLimiter(configuration: configuration)
        ))
        router.register(ContactsServiceHandler(repository: self.store.messages))
        router.register(AuditServiceHandler(repository: self.store.audit))
    }

    /// Ended and expired sessions are kept this long (for `ListSessions` and investigations),
    /// then deleted by ``runMaintenance(logger:)``.
    public static let endedSessionRetention: Duration = .seconds(7 * 24 * 3600)

    /// Purges old session rows once an hour until cancelled.
    public func runMaintenance(logger: Logger) async {
        while !Task.isCancelled {
            do {
                let purged = try await self.authenticator.purgeEndedSessions(retention: Self.endedSessionRetention)
                if purged > 0 {
                    logger.info("purged ended sessions", metadata: ["count": "\(purged)"])
                }
                let throttles = try await self.authenticator.purgeThrottleHistories()
                if throttles > 0 {
                    logger.info("purged login throttle histories", metadata: ["count": "\(throttles)"])
                }
            } catch {
                logger.warning("could not purge ended sessions", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// Ends watch streams and closes the database (after the server has drained).
    public func close() async {
        self.tail.stop()
        self.broadcaster.finishAll()
        await self.store.database.close()
    }
}

/// The database could not be opened at startup: unreachable, refusing the login, or written by a
/// newer OVA. The message names the database and the setting that chose it, so the operator
/// knows what to fix; `ova-server` exits with EX_UNAVAILABLE (69).
public struct DatabaseStartupError: Error, CustomStringConvertible {
    public let location: Database.Location
    public let cause: StoreError

    public init(location: Database.Location, cause: StoreError) {
        self.location = location
        self.cause = cause
    }

    public var description: String {
        let reason: String
        switch self.cause {
        case .unavailable(let message), .internalError(let message), .constraintViolation(let message):
            reason = message
        default:
            reason = "\(self.cause)"
        }
        switch self.location {
        case .mariadb(let options):
            return "cannot use the MariaDB database \(options.connection) that DB_HOST (or OVA_DATABASE_URL) selects: \(reason)"
        case .file(let path):
            return "cannot use the SQLite database \(path) (OVA_DB_PATH, OVA_DATA_DIR): \(reason)"
        case .memory:
            return "cannot open an in-memory database: \(reason)"
        }
    }
}
