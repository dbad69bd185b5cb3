import Logging
import OvaTestServer
import OvaProto
import OvaRPC
import OvaStore
import Testing

@testable import OvaServices

/// Issue 11 ("Protocol hardening") on the account services.
@Suite("Protocol hardening: strings, authorization entries, store errors")
struct HardeningTests {
    /// A length-delimited field with exactly `bytes`.
    static func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        [number << 3 | 2, UInt8(bytes.count)] + bytes
    }

    @Test("a contact message with invalid UTF-8 or a NUL is refused, naming the field, and nothing is stored", arguments: TestBackend.allCases)
    func sendMessageStrings(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let valid = Self.field(1, Array("Ana".utf8)) + Self.field(2, Array("ana@example.com".utf8))
                + Self.field(3, Array("Hola".utf8))
            let cases: [(bytes: [UInt8], field: String, description: String)] = [
                (valid + Self.field(4, Array("Un mensaje ".utf8) + [0xE2, 0x28, 0xA1] + Array(" de prueba".utf8)), "message", "is not valid UTF-8"),
                (Self.field(1, Array("Nul".utf8) + [0] + Array("Name".utf8)) + valid.dropFirst(5) + Self.field(4, Array("Un mensaje de prueba.".utf8)), "name", "contains a NUL byte"),
            ]
            for (bytes, field, description) in cases {
                let error = await rpcError {
                    try await channel.unary(MessagesService.Method.sendMessage, request: RawMessage(bytes: bytes), responseType: ContactMessage.self)
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.errorDetails?.fieldViolations.map(\.field) == [field])
                #expect(error?.errorDetails?.fieldViolations.map(\.description) == [description])
                #expect(error?.errorDetails?.requestId == error?.metadata.firstString(forKey: "ova-request-id"))
            }
            let root = try await rootOptions(channel)
            let stored = try await MessagesClient(channel: channel).listMessages(ListMessagesRequest(), options: root)
            #expect(stored.messages.isEmpty)
        }
    }

    @Test("more than one authorization entry is UNAUTHENTICATED, even when one of them is valid", arguments: TestBackend.allCases)
    func duplicateAuthorization(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { _, channel in
            let root = try await rootOptions(channel)
            let token = try #require(root.metadata.firstString(forKey: "authorization"))
            var twice = Metadata()
            twice.addString(token, forKey: "authorization")
            twice.addString("Bearer forged", forKey: "authorization")
            let error = await rpcError {
                try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: CallOptions(metadata: twice))
            }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("more than one authorization entry") == true)
            // The same token alone still works.
            _ = try await AuthClient(channel: channel).whoAmI(WhoAmIRequest(), options: root)
        }
    }

    @Test("a store error keeps SQLite's text as the cause, never in the message")
    func storeErrorCause() {
        let error = StoreError.internalError("disk I/O error (code 10)").rpcError(resource: "administrator 7")
        #expect(error.code == .internalError)
        #expect(!error.message.contains("disk I/O"))
        #expect((error.cause as? StoreError) == .internalError("disk I/O error (code 10)"))
        let unavailable = RPCError.from(StoreError.unavailable("database is locked"))
        #expect(unavailable.code == .unavailable)
        #expect((unavailable.cause as? StoreError) == .unavailable("database is locked"))
    }

    @Test("a failed database ping reports the store's text in GetStatus, without the file's path")
    func pingFailureText() async throws {
        let path = "/srv/ova/data/ova.sqlite3"
        let text = StatusServiceHandler.databaseFailureText(
            StoreError.unavailable("unable to open database file \(path)\n"), location: .file(path)
        )
        #expect(text == "database unavailable: unable to open database file <database file>")
        let long = StatusServiceHandler.databaseFailureText(StoreError.internalError(String(repeating: "x", count: 500)), location: .memory)
        #expect(long.count == 200)

        // A real closed database: the ping fails with its own words.
        let database = try await Database.open(.memory, logger: .init(label: "test"))
        await database.close()
        do {
            _ = try await database.ping()
            Issue.record("the ping of a closed database succeeded")
        } catch {
            #expect(StatusServiceHandler.databaseFailureText(error, location: .memory) == "database unavailable: the database is closed")
        }
    }

    @Test("lengths are code points, as the columns count them: decomposed accents count twice; a long user agent is stored cut", arguments: TestBackend.allCases)
    func lengthsInCodePoints(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let decomposed = String(repeating: "e\u{0301}", count: 100)  // 100 characters, 200 code points
            #expect(decomposed.count == 100)
            let users = UsersClient(channel: channel)
            var register = RegisterUserRequest()
            register.email = "long@example.com"
            register.name = decomposed + decomposed  // 400 code points for a 200 limit
            let refused = await rpcError { try await users.registerUser(register) }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.errorDetails?.fieldViolations.map(\.description) == ["must be at most 200 characters"])
            register.name = decomposed  // exactly 200 code points: fits the column on both backends
            #expect(try await users.registerUser(register).name == decomposed)

            var agentOptions = CallOptions(metadata: Metadata())
            agentOptions.metadata.addString("agent/" + String(repeating: "ñ", count: 300), forKey: "user-agent")
            var request = LoginRequest()
            request.email = AccountsServer.rootEmail
            request.password = AccountsServer.rootPassword
            let login = try await AuthClient(channel: channel).login(request, options: agentOptions)
            let session = try await server.store.sessions.get(id: login.sessionId)
            #expect(session.userAgent.unicodeScalars.count == 255)
            #expect(session.userAgent.hasPrefix("agent/ñ"))
        }
    }
}
