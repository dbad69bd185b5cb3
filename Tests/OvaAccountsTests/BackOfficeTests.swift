import OvaTestServer
import Foundation
import OvaProto
import OvaRPC
import OvaStore
import Testing

@Suite("Admins, users, messages and audit over RPC")
struct BackOfficeTests {
    @Test("admin management needs a superadmin; validation, duplicates, field masks, self-protection", arguments: TestBackend.allCases)
    func admins(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let admins = AdminsClient(channel: channel)
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            #expect(staff.admin.superadmin == false)
            #expect(staff.admin.active)

            // A regular administrator is authenticated but not allowed.
            #expect(await statusCode { try await admins.listAdmins(ListAdminsRequest(), options: staff.options) } == .permissionDenied)
            #expect(await statusCode { try await admins.listAdmins(ListAdminsRequest()) } == .unauthenticated)

            var bad = CreateAdminRequest()
            bad.name = "X"
            bad.email = "not-an-email"
            bad.password = "password"
            let invalid = await rpcError { try await admins.createAdmin(bad, options: root) }
            #expect(invalid?.code == .invalidArgument)
            let fields = Set(invalid?.errorDetails?.fieldViolations.map(\.field) ?? [])
            #expect(fields == ["name", "email"])

            var weak = CreateAdminRequest()
            weak.name = "Weak"
            weak.email = "weak@example.com"
            weak.password = "password123"
            let weakError = await rpcError { try await admins.createAdmin(weak, options: root) }
            #expect(weakError?.code == .invalidArgument)
            #expect(weakError?.errorDetails?.fieldViolations.first?.field == "password")

            var duplicate = CreateAdminRequest()
            duplicate.name = "Again"
            duplicate.email = "STAFF@example.com"
            duplicate.password = "Another-pass-2026"
            #expect(await statusCode { try await admins.createAdmin(duplicate, options: root) } == .alreadyExists)

            let listed = try await admins.listAdmins(ListAdminsRequest(), options: root)
            #expect(listed.admins.map(\.email) == ["staff@example.com", "root@example.com"])
            #expect(listed.page?.totalSize == 2)

            var update = UpdateAdminRequest()
            update.id = staff.admin.id
            var fields2 = Admin()
            fields2.name = "Renamed Staff"
            fields2.email = "ignored@example.com"
            update.admin = fields2
            var mask = FieldMask()
            mask.paths = ["name"]
            update.updateMask = mask
            let updated = try await admins.updateAdmin(update, options: root)
            #expect(updated.name == "Renamed Staff")
            #expect(updated.email == "staff@example.com")
            mask.paths = ["password"]
            update.updateMask = mask
            #expect(await statusCode { try await admins.updateAdmin(update, options: root) } == .invalidArgument)
            update.updateMask = nil
            #expect(await statusCode { try await admins.updateAdmin(update, options: root) } == .invalidArgument)

            // Deactivating an account stops its token at once.
            var deactivate = SetAdminActiveRequest()
            deactivate.id = staff.admin.id
            deactivate.active = false
            #expect(try await admins.setAdminActive(deactivate, options: root).active == false)
            #expect(await statusCode { try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: staff.options) } == .unauthenticated)
            #expect(await statusCode { try await login(channel, "staff@example.com", "Quiet-river-2026") } == .unauthenticated)

            // A superadmin cannot lock themselves out.
            let rootID = try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: root).admin?.id ?? 0
            var deleteSelf = DeleteAdminRequest()
            deleteSelf.id = rootID
            #expect(await statusCode { try await admins.deleteAdmin(deleteSelf, options: root) } == .failedPrecondition)

            var delete = DeleteAdminRequest()
            delete.id = staff.admin.id
            _ = try await admins.deleteAdmin(delete, options: root)
            var get = GetAdminRequest()
            get.id = staff.admin.id
            let missing = await rpcError { try await admins.getAdmin(get, options: root) }
            #expect(missing?.code == .notFound)
            #expect(missing?.message == "administrator \(staff.admin.id) not found")
        }
    }

    @Test("subscribers: public registration with reactivation, admin reads and updates, per-peer rate limit", arguments: TestBackend.allCases)
    func users(backend: TestBackend) async throws {
        try await withAccountsServer(["OVA_PUBLIC_RATE_PER_MINUTE": "4"], backend: backend) { _, channel in
            let users = UsersClient(channel: channel)
            var register = RegisterUserRequest()
            register.email = " Ana@Example.com "
            register.name = "  Ana  "
            let ana = try await users.registerUser(register)
            #expect(ana.email == "ana@example.com")
            #expect(ana.name == "Ana")
            #expect(ana.active)
            #expect(await statusCode { try await users.registerUser(register) } == .alreadyExists)

            var invalid = RegisterUserRequest()
            invalid.email = "ana@@example.com"
            invalid.name = "A"
            let error = await rpcError { try await users.registerUser(invalid) }
            #expect(Set(error?.errorDetails?.fieldViolations.map(\.field) ?? []) == ["email", "name"])

            #expect(await statusCode { try await users.listUsers(ListUsersRequest()) } == .unauthenticated)
            let root = try await rootOptions(channel)
            var deactivate = DeactivateUserRequest()
            deactivate.id = ana.id
            #expect(try await users.deactivateUser(deactivate, options: root).active == false)
            #expect(try await users.listUsers(ListUsersRequest(), options: root).users.isEmpty)

            // Registering again reactivates, as the original did (4th call from this address).
            register.name = "Ana Again"
            let again = try await users.registerUser(register)
            #expect(again.id == ana.id)
            #expect(again.active)
            #expect(again.name == "Ana Again")

            // The 5th registration within the minute is refused with a retry delay.
            var fifth = RegisterUserRequest()
            fifth.email = "luis@example.com"
            fifth.name = "Luis"
            let limited = await rpcError { try await users.registerUser(fifth) }
            #expect(limited?.code == .resourceExhausted)
            #expect((limited?.errorDetails?.retryInfo?.retryDelayMs ?? 0) > 0)

            var update = UpdateUserRequest()
            update.id = ana.id
            var fields = User()
            fields.name = "Ana Updated"
            update.user = fields
            var mask = FieldMask()
            mask.paths = ["name"]
            update.updateMask = mask
            #expect(try await users.updateUser(update, options: root).name == "Ana Updated")
            var delete = DeleteUserRequest()
            delete.id = ana.id
            _ = try await users.deleteUser(delete, options: root)
            var get = GetUserRequest()
            get.id = ana.id
            #expect(await statusCode { try await users.getUser(get, options: root) } == .notFound)
        }
    }

    @Test("contact form: the original's validation, hostile text kept verbatim, inbox, marks, contacts", arguments: TestBackend.allCases)
    func messages(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let messages = MessagesClient(channel: channel)
            var invalid = SendMessageRequest()
            invalid.name = " A "
            invalid.email = "nope"
            invalid.subject = "Hi"
            invalid.message = "too short"
            let error = await rpcError { try await messages.sendMessage(invalid) }
            #expect(error?.code == .invalidArgument)
            #expect(Set(error?.errorDetails?.fieldViolations.map(\.field) ?? []) == ["name", "email", "subject", "message"])

            var hostile = SendMessageRequest()
            hostile.name = "Robert'); DROP TABLE contact_messages;--"
            hostile.email = "bobby@example.com"
            hostile.subject = "=HYPERLINK(\"http://evil\")"
            hostile.message = "  ' OR 1=1 -- and \"quotes\", commas\nand lines  "
            let sent = try await messages.sendMessage(hostile)
            #expect(sent.name == hostile.name)
            #expect(sent.message == "' OR 1=1 -- and \"quotes\", commas\nand lines")
            #expect(sent.read == false)

            var second = SendMessageRequest()
            second.name = "Bobby"
            second.email = "bobby@example.com"
            second.subject = "Follow-up"
            second.message = "A second, longer message."
            let followUp = try await messages.sendMessage(second)

            #expect(await statusCode { try await messages.listMessages(ListMessagesRequest()) } == .unauthenticated)
            let root = try await rootOptions(channel)
            var mark = MarkMessageRequest()
            mark.id = sent.id
            mark.read = true
            var mask = FieldMask()
            mask.paths = ["read"]
            mark.updateMask = mask
            let marked = try await messages.markMessage(mark, options: root)
            #expect(marked.read && !marked.answered)

            var unread = ListMessagesRequest()
            unread.unreadOnly = true
            #expect(try await messages.listMessages(unread, options: root).messages.map(\.id) == [followUp.id])

            let contacts = try await ContactsClient(channel: channel).listContacts(ListContactsRequest(), options: root)
            #expect(contacts.contacts.count == 1)
            #expect(contacts.contacts.first?.messageCount == 2)
            #expect(contacts.contacts.first?.unreadCount == 1)
            #expect(contacts.contacts.first?.name == "Bobby")

            var deleteContact = DeleteContactRequest()
            deleteContact.email = "BOBBY@example.com"
            #expect(try await ContactsClient(channel: channel).deleteContact(deleteContact, options: root).deletedCount == 2)
            var get = GetMessageRequest()
            get.id = sent.id
            #expect(await statusCode { try await messages.getMessage(get, options: root) } == .notFound)
        }
    }

    @Test("WatchMessages pushes a message sent after the watch started; ExportMessages streams safe CSV", .timeLimit(.minutes(1)), arguments: TestBackend.allCases)
    func watchAndExport(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let messages = MessagesClient(channel: channel)
            let root = try await rootOptions(channel)
            var send = SendMessageRequest()
            send.name = "Watcher Test"
            send.email = "watch@example.com"
            send.subject = "@SUM(A1)"
            send.message = "Hello, \"world\"; second line\nhere."

            let received = try await messages.watchMessages(WatchMessagesRequest(), options: root) { stream in
                // Send only once the server has registered the watcher.
                await server.running.accounts.broadcaster.waitForWatchers(atLeast: 1)
                _ = try await messages.sendMessage(send)
                for try await message in stream {
                    return message
                }
                return ContactMessage()
            }
            #expect(received.email == "watch@example.com")
            #expect(received.subject == "@SUM(A1)")

            var csv: [UInt8] = []
            try await messages.exportMessages(ExportMessagesRequest(), options: root) { stream in
                for try await chunk in stream {
                    csv += chunk.csv
                }
            }
            let text = String(decoding: csv, as: UTF8.self)
            let lines = text.components(separatedBy: "\r\n")
            #expect(lines.first == "id,sent_at_utc,name,email,subject,message,read,answered")
            #expect(text.contains(",'@SUM(A1),"))
            #expect(text.contains("\"Hello, \"\"world\"\"; second line\nhere.\""))
            #expect(lines.last == "")
        }
    }

    @Test("the audit log records logins, changes and refusals with actor, peer, request id and outcome", arguments: TestBackend.allCases)
    func auditLog(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            _ = await statusCode { try await login(channel, AccountsServer.rootEmail, "wrong-password-1") }
            let root = try await rootOptions(channel)
            let staff = try await createAdmin(channel, as: root, email: "staff@example.com")
            _ = await statusCode { try await AuditClient(channel: channel).listAuditEvents(ListAuditEventsRequest(), options: staff.options) }

            let audit = AuditClient(channel: channel)
            let all = try await audit.listAuditEvents(ListAuditEventsRequest(), options: root).events
            let summary = all.reversed().map { "\($0.action) \($0.actor) \($0.outcome)" }
            #expect(summary == [
                "auth.login anonymous UNAUTHENTICATED",
                "auth.login root@example.com OK",
                "admins.create root@example.com OK",
                "auth.login staff@example.com OK",
                "audit.list staff@example.com PERMISSION_DENIED",
            ])
            let create = try #require(all.first { $0.action == "admins.create" })
            #expect(create.target == "admin:\(staff.admin.id)")
            #expect(create.peerAddress.hasPrefix("127.0.0.1:"))
            #expect(!create.requestId.isEmpty)
            #expect(all.first { $0.outcome == "UNAUTHENTICATED" }?.actorAdminId == 0)

            var filter = ListAuditEventsRequest()
            filter.action = "auth.login"
            #expect(try await audit.listAuditEvents(filter, options: root).events.map(\.outcome) == ["OK", "OK", "UNAUTHENTICATED"])
            filter.actor = "root@example.com"
            #expect(try await audit.listAuditEvents(filter, options: root).events.map(\.outcome) == ["OK"])
            filter.actor = "anonymous"
            #expect(try await audit.listAuditEvents(filter, options: root).events.map(\.target) == ["email:root@example.com"])
            filter.actor = ""
            filter.action = "ova.v1.Auth/Login"
            #expect(try await audit.listAuditEvents(filter, options: root).events.isEmpty)
            var page = PageRequest()
            page.pageSize = 2
            var paged = ListAuditEventsRequest()
            paged.page = page
            let first = try await audit.listAuditEvents(paged, options: root)
            #expect(first.events.count == 2)
            page.pageToken = "' OR 1=1 --"
            paged.page = page
            #expect(await statusCode { try await audit.listAuditEvents(paged, options: root) } == .invalidArgument)
        }
    }
}
