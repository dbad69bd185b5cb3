import Logging
import NIOPosix
import OvaAuth
import OvaRPC
import OvaStore

/// Logs administrators in and checks their tokens: passwords, JWTs, sessions and throttling.
///
/// A token is valid only while the signature checks, it is unexpired, and its session row is
/// active and unexpired and its administrator active: logging out, revoking a session or
/// deactivating an account stops a token at once, whatever its `exp` says.
public final class AdminAuthenticator: Sendable {
    /// The single message for every credential failure: an unknown email, a wrong password and
    /// an inactive account must be indistinguishable.
    static let invalidCredentials = "invalid email or password"
    static let invalidToken = "the access token is invalid, expired or revoked; log in again"

    let store: Store
    let hasher: PasswordHasher
    private let signer: AccessTokenSigner
    /// The signer's verification, remembered per token until its expiry; the session lookup
    /// in ``authenticate(token:)`` still runs on every call, so revocation is immediate.
    private let verifiedTokens: VerifiedTokenCache
    /// Lifetime of a token and its session.
    let tokenLifetimeSeconds: Int64
    /// Failures per account: 5 in 15 minutes lock it for 15 minutes.
    let accountThrottle: SharedLoginThrottle
    /// Failures per client address: more allowed, since one office may share an address.
    let peerThrottle: SharedLoginThrottle
    /// Password hashing blocks for ~250 ms: never on an event loop.
    private let hashingThreads: NIOThreadPool
    private let logger: Logger
    private let nowSeconds: @Sendable () -> Int64

    public init(
        store: Store,
        secret: [UInt8],
        tokenLifetimeSeconds: Int64,
        hasher: PasswordHasher,
        accountThrottle: LoginThrottlePolicy = LoginThrottlePolicy(maxFailures: 5),
        peerThrottle: LoginThrottlePolicy = LoginThrottlePolicy(maxFailures: 20),
        hashingThreads: NIOThreadPool = .singleton,
        logger: Logger,
        nowSeconds: @escaping @Sendable () -> Int64 = { StoreClock.nowMilliseconds() / 1000 }
    ) {
        self.store = store
        self.signer = AccessTokenSigner(secret: secret)
        self.verifiedTokens = VerifiedTokenCache(signer: self.signer)
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
        self.hasher = hasher
        self.accountThrottle = SharedLoginThrottle(policy: accountThrottle, repository: store.loginThrottle)
        self.peerThrottle = SharedLoginThrottle(policy: peerThrottle, repository: store.loginThrottle)
        self.hashingThreads = hashingThreads
        self.logger = logger
        self.nowSeconds = nowSeconds
    }

    /// A signed token and the session it belongs to.
    public struct IssuedToken: Sendable {
        public var token: String
        public var session: SessionRecord
    }

    // MARK: - Login

    /// Checks the password and starts a session.
    ///
    /// - Throws: UNAUTHENTICATED (one message for every credential failure);
    ///   RESOURCE_EXHAUSTED with a retry delay after too many failures for the account or
    ///   the peer.
    public func login(email: String, password: String, peerAddress: String, userAgent: String) async throws -> IssuedToken {
        let keys = ThrottleKeys(account: email, peer: peerHost(peerAddress))
        try await self.checkThrottle(keys)
        let credentials = try await withStore("administrator") { () throws(StoreError) in
            try await self.store.admins.credentials(email: email)
        }
        let verified: Bool
        if let credentials {
            verified = try await self.verify(password, against: credentials.passwordHash)
        } else {
            // Same work as a real check, so timing does not reveal which emails exist.
            try await self.onHashingThread { self.hasher.equalTimeDummyVerify(password) }
            verified = false
        }
        guard let admin = credentials?.admin, verified, admin.active else {
            try await self.recordFailure(keys)
            throw RPCError(code: .unauthenticated, message: Self.invalidCredentials)
        }
        try await withStore("login throttle") { () throws(StoreError) in
            try await self.accountThrottle.recordSuccess(keys.account)
        }
        if let hash = credentials?.passwordHash, self.hasher.needsRehash(hash) {
            await self.upgradeHash(adminID: admin.id, password: password)
        }
        return try await self.issueToken(for: admin, peerAddress: peerAddress, userAgent: userAgent, replacing: nil)
    }

    /// A new token and session for the caller, ending the current session (token rotation).
    public func refresh(_ caller: AuthenticatedAdmin, peerAddress: String, userAgent: String) async throws -> IssuedToken {
        try await self.issueToken(for: caller.admin, peerAddress: peerAddress, userAgent: userAgent, replacing: caller.sessionID)
    }

    private func issueToken(for admin: AdminRecord, peerAddress: String, userAgent: String, replacing: Int64?) async throws -> IssuedToken {
        let now = self.nowSeconds()
        let claims = AccessTokenClaims(
            subject: admin.email,
            adminID: admin.id,
            issuedAt: now,
            expiresAt: now + self.tokenLifetimeSeconds,
            tokenID: AccessTokenSigner.newTokenID()
        )
        let session = try await withStore("session") { () throws(StoreError) in
            try await self.store.sessions.create(
                adminID: admin.id,
                tokenID: claims.tokenID,
                ipAddress: peerHost(peerAddress),
                userAgent: userAgent,
                startedAtMilliseconds: now * 1000,
                expiresAtMilliseconds: claims.expiresAt * 1000,
                replacing: replacing
            )
        }
        return IssuedToken(token: self.signer.sign(claims), session: session)
    }

    /// Computes the dummy hash now, so the first login for an unknown email does not take
    /// longer than later ones (which would tell that the email is unknown).
    public func warmUp() async {
        _ = try? await self.onHashingThread { self.hasher.equalTimeDummyVerify("") }
    }

    /// Deletes login-throttle histories that no longer matter; returns how many. One purge
    /// covers both keys' histories (one table), with the longer of their retentions.
    public func purgeThrottleHistories() async throws -> Int {
        let throttle = self.accountThrottle.policy.retention >= self.peerThrottle.policy.retention ? self.accountThrottle : self.peerThrottle
        return try await withStore("login throttle") { () throws(StoreError) in
            try await throttle.purge()
        }
    }

    /// Deletes session rows that ended or expired more than `retention` ago; returns how many.
    public func purgeEndedSessions(retention: Duration) async throws -> Int {
        let cutoff = self.nowSeconds() * 1000 - Int64(retention.milliseconds)
        return try await withStore("sessions") { () throws(StoreError) in
            try await self.store.sessions.deleteEnded(before: cutoff)
        }
    }

    // MARK: - Tokens

    /// The administrator a token belongs to. - Throws: UNAUTHENTICATED.
    public func authenticate(token: String) async throws -> AuthenticatedAdmin {
        let claims: AccessTokenClaims
        do {
            claims = try self.verifiedTokens.verify(token, nowSeconds: self.nowSeconds())
        } catch {
            self.logger.debug("rejected access token", metadata: ["reason": "\(error)"])
            throw RPCError(code: .unauthenticated, message: Self.invalidToken)
        }
        let session = try await withStore("session") { () throws(StoreError) in
            try await self.store.sessions.findValid(
                tokenID: claims.tokenID, adminID: claims.adminID, nowMilliseconds: self.nowSeconds() * 1000
            )
        }
        guard let session else {
            throw RPCError(code: .unauthenticated, message: Self.invalidToken)
        }
        return AuthenticatedAdmin(admin: session.admin, sessionID: session.id, tokenExpiresAtSeconds: claims.expiresAt)
    }

    // MARK: - Passwords

    /// Re-authenticates a logged-in administrator (ChangePassword), throttled like a login.
    ///
    /// - Throws: UNAUTHENTICATED for a wrong password; RESOURCE_EXHAUSTED when throttled.
    func verifyCurrentPassword(of caller: AuthenticatedAdmin, password: String, peerAddress: String) async throws {
        let keys = ThrottleKeys(account: caller.admin.email, peer: peerHost(peerAddress))
        try await self.checkThrottle(keys)
        let hash = try await withStore("administrator \(caller.admin.id)") { () throws(StoreError) in
            try await self.store.admins.passwordHash(id: caller.admin.id)
        }
        guard try await self.verify(password, against: hash) else {
            try await self.recordFailure(keys)
            throw RPCError(code: .unauthenticated, message: "the current password is wrong")
        }
    }

    /// Checks the password policy and hashes on the hashing threads.
    ///
    /// - Throws: INVALID_ARGUMENT naming `field` with every policy problem.
    func hashNewPassword(_ password: String, email: String, field: String) async throws -> String {
        let problems = PasswordPolicy.problems(password: password, email: email)
        guard problems.isEmpty else {
            throw RPCError.invalidArgument("weak password", fieldViolations: problems.map { (field, $0) })
        }
        return try await self.onHashingThread { try self.hasher.hash(password) }
    }

    private func verify(_ password: String, against hash: String) async throws -> Bool {
        try await self.onHashingThread { self.hasher.verify(password, against: hash) }
    }

    /// Hashes imported with an older scheme or cost are replaced on the first successful login.
    private func upgradeHash(adminID: Int64, password: String) async {
        do {
            let hash = try await self.onHashingThread { try self.hasher.hash(password) }
            try await self.store.admins.setPasswordHash(id: adminID, hash)
            self.logger.info("upgraded a password hash", metadata: ["admin_id": "\(adminID)"])
        } catch {
            self.logger.warning("could not upgrade a password hash", metadata: ["admin_id": "\(adminID)", "error": "\(error)"])
        }
    }

    private func onHashingThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await self.hashingThreads.runIfActive(body)
        } catch let error as PasswordHashError {
            self.logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw RPCError(code: .internalError, message: "the server could not process the password")
        } catch is CancellationError {
            throw RPCError(code: .cancelled, message: "the call was cancelled")
        }
    }

    private struct ThrottleKeys {
        var account: String
        var peer: String
    }

    private func checkThrottle(_ keys: ThrottleKeys) async throws {
        let waits = try await withStore("login throttle") { () throws(StoreError) in
            [try await self.accountThrottle.retryAfter(keys.account), try await self.peerThrottle.retryAfter(keys.peer)]
        }
        let wait = waits.compactMap { $0 }.max()
        if let wait {
            throw RPCError.resourceExhausted(
                "too many failed attempts; try again in \(wait.roundedUpSeconds) s",
                retryAfter: wait
            )
        }
    }

    private func recordFailure(_ keys: ThrottleKeys) async throws {
        try await withStore("login throttle") { () throws(StoreError) in
            try await self.accountThrottle.recordFailure(keys.account)
            try await self.peerThrottle.recordFailure(keys.peer)
        }
    }
}

extension Duration {
    var roundedUpSeconds: Int64 {
        let (seconds, attoseconds) = self.components
        return attoseconds > 0 ? seconds + 1 : seconds
    }

    var milliseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }
}
