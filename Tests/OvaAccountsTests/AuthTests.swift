import OvaTestServer
import Crypto
import Foundation
import Logging
import OvaAuth
import OvaProto
import OvaRPC
import OvaServices
import OvaStore
import Testing

@Suite("Auth over RPC")
struct AuthTests {
    @Test("login issues an HS256 JWT with the original's claims, backed by a session; logout revokes it", arguments: TestBackend.allCases)
    func loginAndLogout(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let before = Int64(Date().timeIntervalSince1970)
            let response = try await login(channel, "  ROOT@example.com ", AccountsServer.rootPassword)
            #expect(response.tokenType == "bearer")
            #expect(response.admin?.email == AccountsServer.rootEmail)
            #expect(response.admin?.superadmin == true)
            #expect(jwtSegment(response.accessToken, 0)?["alg"] as? String == "HS256")
            let claims = try #require(jwtSegment(response.accessToken, 1))
            #expect(claims["sub"] as? String == AccountsServer.rootEmail)
            #expect((claims["admin_id"] as? NSNumber)?.int64Value == response.admin?.id)
            let exp = try #require((claims["exp"] as? NSNumber)?.int64Value)
            let iat = try #require((claims["iat"] as? NSNumber)?.int64Value)
            #expect(exp - iat == 30 * 60)
            #expect(iat >= before - 1)
            #expect((claims["jti"] as? String)?.isEmpty == false)
            #expect(response.expiresAtUnixMs == UInt64(exp) * 1000)
            // The session row stores the token id, never the token.
            let session = try await server.store.sessions.get(id: response.sessionId)
            #expect(session.tokenID == claims["jti"] as? String)
            #expect(session.ipAddress == "127.0.0.1")

            let auth = AuthClient(channel: channel)
            let who = try await auth.whoAmI(WhoAmIRequest(), options: bearer(response.accessToken))
            #expect(who.admin?.email == AccountsServer.rootEmail)
            #expect(who.session?.id == response.sessionId)
            #expect(who.session?.current == true)
            #expect(who.session?.userAgent == "accounts-test/1")

            _ = try await auth.logout(LogoutRequest(), options: bearer(response.accessToken))
            let afterLogout = await rpcError { try await auth.whoAmI(WhoAmIRequest(), options: bearer(response.accessToken)) }
            #expect(afterLogout?.code == .unauthenticated)
            #expect(afterLogout?.message.contains("revoked") == true)
        }
    }

    @Test("missing, malformed and forged tokens are UNAUTHENTICATED", arguments: TestBackend.allCases)
    func badTokens(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let auth = AuthClient(channel: channel)
            let none = await rpcError { try await auth.whoAmI(WhoAmIRequest()) }
            #expect(none?.code == .unauthenticated)
            #expect(none?.message.contains("Auth/Login") == true)

            var basic = Metadata()
            basic.addString("Basic cm9vdDpwdw==", forKey: "authorization")
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: CallOptions(metadata: basic)) } == .unauthenticated)

            let valid = try await login(channel, AccountsServer.rootEmail, AccountsServer.rootPassword)
            let parts = valid.accessToken.split(separator: ".").map(String.init)
            let now = Int64(Date().timeIntervalSince1970)
            let adminID = valid.admin?.id ?? 0
            let jti = jwtSegment(valid.accessToken, 1)?["jti"] as? String ?? ""
            func payload(exp: Int64) -> String {
                base64URL(Array(#"{"sub":"root@example.com","admin_id":\#(adminID),"iat":\#(now),"exp":\#(exp),"jti":"\#(jti)"}"#.utf8))
            }
            func sign(_ header: String, _ body: String, secret: [UInt8]) -> String {
                let mac = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(body)".utf8), using: SymmetricKey(data: secret))
                return "\(header).\(body).\(base64URL(mac))"
            }
            let hs256 = base64URL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
            let forged = [
                // alg none with the real claims
                "\(base64URL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))).\(parts[1]).",
                // another algorithm, signed with the right key
                sign(base64URL(Array(#"{"alg":"HS512","typ":"JWT"}"#.utf8)), parts[1], secret: server.signingSecret),
                // the right algorithm and claims, the wrong key
                sign(hs256, parts[1], secret: Array("a-different-secret-of-at-least-32-bytes".utf8)),
                // tampered payload (same signature)
                "\(parts[0]).\(payload(exp: now + 999_999)).\(parts[2])",
                // expired, correctly signed, for a live session
                sign(hs256, payload(exp: now - 10), secret: server.signingSecret),
                "garbage",
                "\(parts[0]).\(parts[1])",
            ]
            for token in forged {
                #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: bearer(token)) } == .unauthenticated, "\(token)")
            }
            // The same forgery checks pass for a correctly signed, unexpired token: the
            // harness itself is right.
            let resigned = sign(hs256, payload(exp: now + 600), secret: server.signingSecret)
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: bearer(resigned)).admin?.id == adminID)
        }
    }

    @Test("unknown email and wrong password give the same answer; 5 failures lock the account", arguments: TestBackend.allCases)
    func throttling(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let unknown = await rpcError { try await login(channel, "nobody@example.com", "whatever-password-1") }
            let wrong = await rpcError { try await login(channel, AccountsServer.rootEmail, "wrong-password-1") }
            #expect(unknown?.code == .unauthenticated)
            #expect(unknown?.message == wrong?.message)
            #expect(unknown?.details == wrong?.details)
            for _ in 0..<4 {
                #expect(await statusCode { try await login(channel, AccountsServer.rootEmail, "wrong-password-1") } == .unauthenticated)
            }
            // Locked now (5 failures of this account), even with the right password.
            let locked = await rpcError { try await login(channel, AccountsServer.rootEmail, AccountsServer.rootPassword) }
            #expect(locked?.code == .resourceExhausted)
            let delay = try #require(locked?.errorDetails?.retryInfo?.retryDelayMs)
            #expect(delay > 14 * 60 * 1000 && delay <= 15 * 60 * 1000)
        }
    }

    @Test("refresh rotates the token: the new one works, the old one is revoked", arguments: TestBackend.allCases)
    func refresh(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let auth = AuthClient(channel: channel)
            let first = try await login(channel, AccountsServer.rootEmail, AccountsServer.rootPassword)
            let second = try await auth.refresh(RefreshRequest(), options: bearer(first.accessToken))
            #expect(second.accessToken != first.accessToken)
            #expect(second.sessionId != first.sessionId)
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: bearer(second.accessToken)).session?.id == second.sessionId)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: bearer(first.accessToken)) } == .unauthenticated)
        }
    }

    @Test("sessions: list own with the current one marked, revoke one, revoke all others; others' need a superadmin", arguments: TestBackend.allCases)
    func sessions(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let auth = AuthClient(channel: channel)
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            let staffSecond = bearer(try await login(channel, "staff@example.com", "Quiet-river-2026").accessToken)
            let staffThird = bearer(try await login(channel, "staff@example.com", "Quiet-river-2026").accessToken)

            let listed = try await auth.listSessions(ListSessionsRequest(), options: staff.options)
            #expect(listed.sessions.count == 3)
            #expect(listed.sessions.filter(\.current).count == 1)
            #expect(listed.sessions.allSatisfy { $0.adminEmail == "staff@example.com" })

            var all = ListSessionsRequest()
            all.allAdmins = true
            #expect(await statusCode { try await auth.listSessions(all, options: staff.options) } == .permissionDenied)
            #expect(try await auth.listSessions(all, options: root).sessions.count == 4)

            // Staff cannot revoke root's session; root can revoke staff's.
            let rootSession = try await auth.whoAmI(WhoAmIRequest(), options: root).session?.id ?? 0
            var revokeRoot = RevokeSessionRequest()
            revokeRoot.sessionId = rootSession
            #expect(await statusCode { try await auth.revokeSession(revokeRoot, options: staff.options) } == .permissionDenied)
            let thirdID = try await auth.whoAmI(WhoAmIRequest(), options: staffThird).session?.id ?? 0
            var revokeThird = RevokeSessionRequest()
            revokeThird.sessionId = thirdID
            _ = try await auth.revokeSession(revokeThird, options: root)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: staffThird) } == .unauthenticated)
            #expect(await statusCode { try await auth.revokeSession(revokeThird, options: root) } == .notFound)

            // "Sign out everywhere else" keeps the calling session.
            let revoked = try await auth.revokeAllSessions(RevokeAllSessionsRequest(), options: staff.options)
            #expect(revoked.revokedCount == 1)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: staffSecond) } == .unauthenticated)
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: staff.options).admin?.email == "staff@example.com")

            var others = RevokeAllSessionsRequest()
            others.adminId = staff.admin.id
            #expect(await statusCode { try await auth.revokeAllSessions(others, options: bearer("x.y.z")) } == .unauthenticated)
            var rootsSessions = RevokeAllSessionsRequest()
            rootsSessions.adminId = try await auth.whoAmI(WhoAmIRequest(), options: root).admin?.id ?? 0
            #expect(await statusCode { try await auth.revokeAllSessions(rootsSessions, options: staff.options) } == .permissionDenied)
            #expect(try await auth.revokeAllSessions(others, options: root).revokedCount == 1)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: staff.options) } == .unauthenticated)
        }
    }

    @Test("change password: checks the current one and the policy, then ends the other sessions", arguments: TestBackend.allCases)
    func changePassword(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let auth = AuthClient(channel: channel)
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            let other = bearer(try await login(channel, "staff@example.com", "Quiet-river-2026").accessToken)

            var wrong = ChangePasswordRequest()
            wrong.currentPassword = "not-the-password-1"
            wrong.newPassword = "Brand-new-pass-77"
            #expect(await statusCode { try await auth.changePassword(wrong, options: staff.options) } == .unauthenticated)

            var weak = ChangePasswordRequest()
            weak.currentPassword = "Quiet-river-2026"
            weak.newPassword = "short"
            let weakError = await rpcError { try await auth.changePassword(weak, options: staff.options) }
            #expect(weakError?.code == .invalidArgument)
            #expect(weakError?.errorDetails?.fieldViolations.allSatisfy { $0.field == "new_password" } == true)
            #expect(weakError?.errorDetails?.fieldViolations.isEmpty == false)

            var good = ChangePasswordRequest()
            good.currentPassword = "Quiet-river-2026"
            good.newPassword = "Brand-new-pass-77"
            _ = try await auth.changePassword(good, options: staff.options)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: other) } == .unauthenticated)
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: staff.options).admin?.email == "staff@example.com")
            #expect(await statusCode { try await login(channel, "staff@example.com", "Quiet-river-2026") } == .unauthenticated)
            #expect(try await login(channel, "staff@example.com", "Brand-new-pass-77").admin?.email == "staff@example.com")
        }
    }

    @Test("reset password (ova-server admin reset-password): the policy applies, every session ends, the new password logs in", arguments: TestBackend.allCases)
    func resetPassword(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let auth = AuthClient(channel: channel)
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            let other = bearer(try await login(channel, "staff@example.com", "Quiet-river-2026").accessToken)
            let authenticator = server.running.accounts.authenticator

            let unknown = await rpcError {
                try await AdminsServiceHandler.resetPassword(email: "nobody@example.com", password: "Brand-new-pass-77", authenticator: authenticator)
            }
            #expect(unknown?.code == .notFound)
            let weak = await rpcError {
                try await AdminsServiceHandler.resetPassword(email: "staff@example.com", password: "short", authenticator: authenticator)
            }
            #expect(weak?.code == .invalidArgument)
            #expect(weak?.errorDetails?.fieldViolations.isEmpty == false)
            #expect(weak?.errorDetails?.fieldViolations.allSatisfy { $0.field == "password" } == true)
            // Neither refusal touched the account.
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: staff.options).admin?.email == "staff@example.com")

            let (admin, revoked) = try await AdminsServiceHandler.resetPassword(
                email: " STAFF@example.com ", password: "Brand-new-pass-77", authenticator: authenticator
            )
            #expect(admin.id == staff.admin.id)
            #expect(revoked == 2)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: staff.options) } == .unauthenticated)
            #expect(await statusCode { try await auth.whoAmI(WhoAmIRequest(), options: other) } == .unauthenticated)
            #expect(await statusCode { try await login(channel, "staff@example.com", "Quiet-river-2026") } == .unauthenticated)
            #expect(try await login(channel, "staff@example.com", "Brand-new-pass-77").admin?.id == staff.admin.id)
            // The root's own session is untouched.
            #expect(try await auth.whoAmI(WhoAmIRequest(), options: root).admin?.email == AccountsServer.rootEmail)
        }
    }

    @Test("ova-server admin create and reset-password are audited with the actor cli, failures included", arguments: TestBackend.allCases)
    func commandLineAudit(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let authenticator = server.running.accounts.authenticator
            let audit = CommandLineAudit(repository: server.store.audit, logger: Logger(label: "test"))
            let created = try await audit.run(.adminsCreate, failedTarget: "email:cli@example.com", target: { "admin:\($0.id)" }) {
                try await AdminsServiceHandler.createAdmin(
                    name: "From CLI", email: "cli@example.com", password: "Quiet-river-2026", superadmin: false, authenticator: authenticator
                )
            }
            let missing = await rpcError {
                try await audit.run(.adminsResetPassword, failedTarget: "email:nobody@example.com", target: { "admin:\($0.admin.id)" }) {
                    try await AdminsServiceHandler.resetPassword(email: "nobody@example.com", password: "Brand-new-pass-77", authenticator: authenticator)
                }
            }
            #expect(missing?.code == .notFound)
            _ = try await audit.run(.adminsResetPassword, failedTarget: "email:cli@example.com", target: { "admin:\($0.admin.id)" }) {
                try await AdminsServiceHandler.resetPassword(email: "cli@example.com", password: "Brand-new-pass-77", authenticator: authenticator)
            }

            let root = try await rootOptions(channel)
            var filter = ListAuditEventsRequest()
            filter.actor = "cli"
            let events = try await AuditClient(channel: channel).listAuditEvents(filter, options: root).events
            #expect(events.reversed().map { "\($0.action) \($0.target) \($0.outcome)" } == [
                "admins.create admin:\(created.id) OK",
                "admins.reset_password email:nobody@example.com NOT_FOUND",
                "admins.reset_password admin:\(created.id) OK",
            ])
            #expect(events.allSatisfy { $0.peerAddress == "local" && $0.actorAdminId == 0 })
            #expect(events.first { $0.outcome == "NOT_FOUND" }?.detail.contains("nobody@example.com") == true)
        }
    }

    @Test("diagnostics run without the interceptors: Echo ignores tokens and is never audited", arguments: TestBackend.allCases)
    func diagnosticsSkipInterceptors(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            var request = EchoRequest()
            request.text = "ping"
            #expect(try await EchoClient(channel: channel).unary(request, options: bearer("not.a.token")).text == "ping")
            var failure = EchoFailure()
            failure.code = UInt32(StatusCode.permissionDenied.rawValue)
            failure.message = "forced"
            request.failWith = failure
            #expect(await statusCode { try await EchoClient(channel: channel).unary(request) } == .permissionDenied)
            let events = try await server.store.audit.list(AuditFilter(), page: .first)
            #expect(events.items.isEmpty)
            // Protected methods still go through them.
            #expect(await statusCode { try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: bearer("not.a.token")) } == .unauthenticated)
        }
    }
}
