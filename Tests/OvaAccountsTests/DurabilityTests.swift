import OvaTestServer
import Foundation
import OvaProto
import OvaRPC
import OvaServices
import OvaStore
import OvaTestSupport
import Testing

@Suite("Concurrency, durability and the full audit trail")
struct DurabilityTests {
    @Test("50 concurrent registrations lose nothing; 50 concurrent creates of one email have exactly one winner", arguments: TestBackend.allCases)
    func concurrentWrites(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let users = UsersClient(channel: channel)
            let created = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        var request = RegisterUserRequest()
                        request.email = "user\(index)@example.com"
                        request.name = "User \(index)"
                        return try await users.registerUser(request).id
                    }
                }
                return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
            }
            #expect(created.count == 50)
            let root = try await rootOptions(channel)
            var list = ListUsersRequest()
            var page = PageRequest()
            page.pageSize = 100
            list.page = page
            let listed = try await users.listUsers(list, options: root)
            #expect(Set(listed.users.map(\.id)) == created)
            #expect(listed.page?.totalSize == 50)

            let admins = AdminsClient(channel: channel)
            let outcomes = await withTaskGroup(of: StatusCode?.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        var request = CreateAdminRequest()
                        request.name = "Racer \(index)"
                        request.email = "race@example.com"
                        request.password = "Concurrent-pass-\(index)x"
                        return await statusCode { try await admins.createAdmin(request, options: root) }
                    }
                }
                return await group.reduce(into: [StatusCode?]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .alreadyExists }.count == 49)
            let all = try await admins.listAdmins(ListAdminsRequest(), options: root)
            #expect(all.admins.filter { $0.email == "race@example.com" }.count == 1)
        }
    }

    @Test("a restart keeps every row, the signing key and the sessions", arguments: TestBackend.allCases)
    func restart(backend: TestBackend) async throws {
        let first = try await AccountsServer.start(backend: backend)
        let token = try await withAsyncCleanup {
            let channel = try first.makeChannel()
            return try await withAsyncCleanup {
                let root = try await rootOptions(channel)
                var register = RegisterUserRequest()
                register.email = "persisted@example.com"
                register.name = "Persisted"
                _ = try await UsersClient(channel: channel).registerUser(register)
                var send = SendMessageRequest()
                send.name = "Persisted"
                send.email = "persisted@example.com"
                send.subject = "Still here?"
                send.message = "This must survive a restart."
                _ = try await MessagesClient(channel: channel).sendMessage(send)
                return root.metadata.firstString(forKey: "authorization") ?? ""
            } cleanup: {
                await channel.close()
            }
        } cleanup: {
            await first.stop(keepData: true)
        }

        try await AccountsServer.restart(first).run { _, channel in
            var options = CallOptions()
            options.metadata.addString(token, forKey: "authorization")
            // The token issued before the restart is still valid: same key, same session row.
            #expect(try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: options).admin?.email == AccountsServer.rootEmail)
            #expect(try await UsersClient(channel: channel).listUsers(ListUsersRequest(), options: options).users.map(\.email) == ["persisted@example.com"])
            #expect(try await MessagesClient(channel: channel).listMessages(ListMessagesRequest(), options: options).messages.map(\.subject) == ["Still here?"])
            let actions = try await AuditClient(channel: channel).listAuditEvents(ListAuditEventsRequest(), options: options).events.map(\.action)
            #expect(actions.contains("users.register"))
        }
    }

    @Test("WatchMessages receives a message that another client sends", .timeLimit(.minutes(1)), arguments: TestBackend.allCases)
    func watchFromAnotherClient(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let root = try await rootOptions(channel)
            let visitor = try server.makeChannel()
            try await withAsyncCleanup {
                let received = try await MessagesClient(channel: channel).watchMessages(WatchMessagesRequest(), options: root) { stream in
                    // Send only once the server has registered the watcher.
                    await server.running.accounts.broadcaster.waitForWatchers(atLeast: 1)
                    var send = SendMessageRequest()
                    send.name = "Visitor"
                    send.email = "visitor@example.com"
                    send.subject = "From elsewhere"
                    send.message = "Sent over a different connection."
                    let sent = try await MessagesClient(channel: visitor).sendMessage(send)
                    for try await message in stream {
                        return (sent.id, message)
                    }
                    return (sent.id, ContactMessage())
                }
                #expect(received.1.id == received.0)
                #expect(received.1.subject == "From elsewhere")
            } cleanup: {
                await visitor.close()
            }
        }
    }

    @Test("every mutation, login (success and failure) and logout is audited with its actor", arguments: TestBackend.allCases)
    func auditTrail(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            _ = await statusCode { try await login(channel, AccountsServer.rootEmail, "wrong-password-1") }
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            let admins = AdminsClient(channel: channel)
            var update = UpdateAdminRequest()
            update.id = staff.admin.id
            var fields = Admin()
            fields.name = "Staff Renamed"
            update.admin = fields
            var mask = FieldMask()
            mask.paths = ["name"]
            update.updateMask = mask
            _ = try await admins.updateAdmin(update, options: root)
            var activate = SetAdminActiveRequest()
            activate.id = staff.admin.id
            activate.active = true
            _ = try await admins.setAdminActive(activate, options: root)

            let users = UsersClient(channel: channel)
            var register = RegisterUserRequest()
            register.email = "sub@example.com"
            register.name = "Sub"
            let user = try await users.registerUser(register)
            var updateUser = UpdateUserRequest()
            updateUser.id = user.id
            var userFields = User()
            userFields.name = "Sub Two"
            updateUser.user = userFields
            var userMask = FieldMask()
            userMask.paths = ["name"]
            updateUser.updateMask = userMask
            _ = try await users.updateUser(updateUser, options: staff.options)
            var deactivate = DeactivateUserRequest()
            deactivate.id = user.id
            _ = try await users.deactivateUser(deactivate, options: staff.options)
            var deleteUser = DeleteUserRequest()
            deleteUser.id = user.id
            _ = try await users.deleteUser(deleteUser, options: staff.options)

            let messages = MessagesClient(channel: channel)
            var send = SendMessageRequest()
            send.name = "Writer"
            send.email = "writer@example.com"
            send.subject = "Audit me"
            send.message = "A message to be audited."
            let message = try await messages.sendMessage(send)
            var mark = MarkMessageRequest()
            mark.id = message.id
            mark.read = true
            mark.answered = true
            _ = try await messages.markMessage(mark, options: staff.options)
            try await messages.exportMessages(ExportMessagesRequest(), options: staff.options) { stream in
                for try await _ in stream {}
            }
            var deleteMessage = DeleteMessageRequest()
            deleteMessage.id = message.id
            _ = try await messages.deleteMessage(deleteMessage, options: staff.options)
            _ = try await messages.sendMessage(send)
            var deleteContact = DeleteContactRequest()
            deleteContact.email = "writer@example.com"
            _ = try await ContactsClient(channel: channel).deleteContact(deleteContact, options: staff.options)

            let auth = AuthClient(channel: channel)
            var password = ChangePasswordRequest()
            password.currentPassword = "Quiet-river-2026"
            password.newPassword = "Another-river-2027"
            _ = try await auth.changePassword(password, options: staff.options)
            _ = try await auth.revokeAllSessions(RevokeAllSessionsRequest(), options: staff.options)
            let refreshed = bearer(try await auth.refresh(RefreshRequest(), options: staff.options).accessToken)
            _ = try await auth.logout(LogoutRequest(), options: refreshed)
            var deleteAdmin = DeleteAdminRequest()
            deleteAdmin.id = staff.admin.id
            _ = try await admins.deleteAdmin(deleteAdmin, options: root)

            let events = try await server.store.audit.list(AuditFilter(), page: PageQuery(pageSize: 100, pageToken: ""))
            let trail = events.items.reversed().map { "\($0.action) \($0.actor) \($0.outcome)" }
            #expect(trail == [
                "auth.login anonymous UNAUTHENTICATED",
                "auth.login root@example.com OK",
                "admins.create root@example.com OK",
                "auth.login staff@example.com OK",
                "admins.update root@example.com OK",
                "admins.set_active root@example.com OK",
                "users.register anonymous OK",
                "users.update staff@example.com OK",
                "users.deactivate staff@example.com OK",
                "users.delete staff@example.com OK",
                "messages.send anonymous OK",
                "messages.mark staff@example.com OK",
                "messages.export staff@example.com OK",
                "messages.delete staff@example.com OK",
                "messages.send anonymous OK",
                "contacts.delete staff@example.com OK",
                "auth.change_password staff@example.com OK",
                "auth.revoke_all_sessions staff@example.com OK",
                "auth.refresh staff@example.com OK",
                "auth.logout staff@example.com OK",
                "admins.delete root@example.com OK",
            ])
            #expect(events.items.allSatisfy { !$0.requestID.isEmpty && $0.peerAddress.hasPrefix("127.0.0.1:") })
            #expect(events.items.first { $0.action == "admins.delete" }?.target == "admin:\(staff.admin.id)")
            #expect(events.items.first { $0.action == "users.delete" }?.target == "user:\(user.id)")
            #expect(events.items.last?.target == "email:\(AccountsServer.rootEmail)")

            // Every name recorded is one the vocabulary (and audit.proto) documents, and a filter
            // by it over the RPC returns exactly its events.
            let documented = Set(AuditAction.allCases.map(\.rawValue))
            let audit = AuditClient(channel: channel)
            for action in Set(events.items.map(\.action)).sorted() {
                #expect(documented.contains(action), "\(action) is not in AuditAction")
                var filter = ListAuditEventsRequest()
                filter.action = action
                let found = try await audit.listAuditEvents(filter, options: root).events
                #expect(found.count == events.items.filter { $0.action == action }.count, "filter \(action)")
                #expect(found.allSatisfy { $0.action == action }, "filter \(action)")
            }
            var failedLogins = ListAuditEventsRequest()
            failedLogins.action = "auth.login"
            failedLogins.actor = "anonymous"
            let failed = try await audit.listAuditEvents(failedLogins, options: root).events
            #expect(failed.map(\.outcome) == ["UNAUTHENTICATED"])
            #expect(failed.first?.target == "email:\(AccountsServer.rootEmail)")
            // The RPC paths the log used to record match nothing.
            for old in ["ova.v1.Auth/Login", "ova.v1.Auth/Logout", "ova.v1.Admins/CreateAdmin", "ova.v1.Users/DeleteUser"] {
                var filter = ListAuditEventsRequest()
                filter.action = old
                #expect(try await audit.listAuditEvents(filter, options: root).events.isEmpty, "filter \(old)")
            }
        }
    }

    @Test("reads of every kind succeed, and a database that went away answers UNAVAILABLE", arguments: TestBackend.allCases)
    func readsAndUnavailable(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let root = try await rootOptions(channel)
            let rootID = try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: root).admin?.id ?? 0
            var getAdmin = GetAdminRequest()
            getAdmin.id = rootID
            #expect(try await AdminsClient(channel: channel).getAdmin(getAdmin, options: root).email == AccountsServer.rootEmail)

            var register = RegisterUserRequest()
            register.email = "reader@example.com"
            register.name = "Reader"
            let user = try await UsersClient(channel: channel).registerUser(register)
            var getUser = GetUserRequest()
            getUser.id = user.id
            #expect(try await UsersClient(channel: channel).getUser(getUser, options: root) == user)

            var send = SendMessageRequest()
            send.name = "Reader"
            send.email = "reader@example.com"
            send.subject = "Readable"
            send.message = "Unicode: ñandú, 中文, emoji 🎧 — and 'quotes'."
            let sent = try await MessagesClient(channel: channel).sendMessage(send)
            var getMessage = GetMessageRequest()
            getMessage.id = sent.id
            #expect(try await MessagesClient(channel: channel).getMessage(getMessage, options: root).message == send.message)
            var byEmail = ListMessagesRequest()
            byEmail.email = "READER@example.com"
            #expect(try await MessagesClient(channel: channel).listMessages(byEmail, options: root).messages.map(\.id) == [sent.id])
            var getContact = GetContactRequest()
            getContact.email = "reader@example.com"
            let contact = try await ContactsClient(channel: channel).getContact(getContact, options: root)
            #expect(contact.messages.map(\.id) == [sent.id])
            #expect(contact.unreadCount == 1)
            getContact.email = "nobody@example.com"
            #expect(await statusCode { try await ContactsClient(channel: channel).getContact(getContact, options: root) } == .notFound)

            await server.store.database.close()
            let unavailable = await rpcError { try await UsersClient(channel: channel).getUser(getUser, options: root) }
            #expect(unavailable?.code == .unavailable)
            #expect(unavailable?.message.contains("SELECT") == false)
        }
    }
}
