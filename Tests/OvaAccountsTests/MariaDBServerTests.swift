import Foundation
import Logging
import OvaAuth
import OvaProto
import OvaRPC
import OvaServer
import OvaServices
import OvaStore
import OvaTestServer
import OvaTestSupport
import Testing

/// ova-server on MariaDB, end to end: what the data directory no longer holds, what GetStatus
/// says, and how a server that cannot use its database stops.
@Suite("ova-server on MariaDB")
struct MariaDBServerTests {
    @Test("a restarted ova-server with a new data directory still sees every row (a new key: log in again)")
    func restartWithNewDataDirectory() async throws {
        let first = try await AccountsServer.start(backend: .mariadb)
        try await first.run(keepingData: true) { _, channel in
            let root = try await rootOptions(channel)
            var send = SendMessageRequest()
            send.name = "Señora Núñez"
            send.email = "nunez@example.com"
            send.subject = "¿Sigue ahí? 🎙️"
            send.message = "Mañana, con acentos y emoji 😀."
            _ = try await MessagesClient(channel: channel).sendMessage(send)
            _ = try await createAdmin(channel, as: root, email: "staff@example.com")
        }
        let second = try await AccountsServer.restart(first, newDataDirectory: true)
        #expect(second.directory != first.directory)
        try? FileManager.default.removeItem(at: first.directory)
        try await second.run { _, channel in
            let root = try await rootOptions(channel)
            let messages = try await MessagesClient(channel: channel).listMessages(ListMessagesRequest(), options: root).messages
            #expect(messages.map(\.subject) == ["¿Sigue ahí? 🎙️"])
            #expect(messages.first?.name == "Señora Núñez")
            #expect(messages.first?.message == "Mañana, con acentos y emoji 😀.")
            let admins = try await AdminsClient(channel: channel).listAdmins(ListAdminsRequest(), options: root).admins
            #expect(Set(admins.map(\.email)) == [AccountsServer.rootEmail, "staff@example.com"])
            _ = try await login(channel, "staff@example.com", "Quiet-river-2026")
        }
    }

    @Test("GetStatus reports the backend, the server's version and the pool")
    func status() async throws {
        try await withAccountsServer(["OVA_DB_POOL_SIZE": "3"], backend: .mariadb) { _, channel in
            let root = try await rootOptions(channel)
            let database = try #require(try await StatusClient(channel: channel).getStatus(GetStatusRequest(), options: root).database)
            #expect(database.up)
            #expect(database.backend == "mariadb")
            #expect(database.serverVersion.contains("MariaDB"))
            #expect(database.poolSize == 3)
            #expect(database.poolInUse == 0)
            #expect(database.poolIdle >= 1)
            #expect(database.poolWaiting == 0)
        }
        try await withAccountsServer { _, channel in
            let root = try await rootOptions(channel)
            let database = try #require(try await StatusClient(channel: channel).getStatus(GetStatusRequest(), options: root).database)
            #expect(database.backend == "sqlite")
            #expect(database.serverVersion.hasPrefix("3."))
            #expect(database.poolSize == 1)
        }
    }

    @Test("a wrong DB_PASSWORD stops the start with a message naming the database and the settings, never SQLite")
    func wrongPasswordStopsTheStart() async throws {
        try await withMariaDB { database in
            let directory = try TestServerSetup.makeDataDirectory(prefix: "ova-mariadb")
            defer { try? FileManager.default.removeItem(at: directory) }
            var settings = database.settings
            settings["DB_PASSWORD"] = "not-the-password-\(UUID().uuidString)"
            let configuration = try TestServerSetup.configuration(dataDirectory: directory, settings)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            do {
                let running = try await OvaServerApp.start(configuration: configuration, logger: logger, passwordHasher: PasswordHasher(insecureTestingCost: 4))
                running.beginGracefulShutdown()
                await running.waitUntilStopped()
                Issue.record("expected the start to fail")
            } catch let error as DatabaseStartupError {
                let text = "\(error)"
                #expect(text.contains("MariaDB database '\(database.server.user)'@127.0.0.1:\(database.server.port)/\(database.name)"), "\(text)")
                #expect(text.contains("check DB_USER and DB_PASSWORD"), "\(text)")
                #expect(!text.contains(settings["DB_PASSWORD"] ?? "-"))
            }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("ova.sqlite3").path))
        }
    }
}

extension AccountsServer {
    /// ``run(_:)``, stopping the server with its data kept for a restart.
    fileprivate func run(keepingData: Bool, _ body: (AccountsServer, RPCChannel) async throws -> Void) async throws {
        try await withAsyncCleanup {
            let channel = try self.makeChannel()
            try await withAsyncCleanup {
                try await body(self, channel)
            } cleanup: {
                await channel.close()
            }
        } cleanup: {
            await self.stop(keepData: keepingData)
        }
    }
}
