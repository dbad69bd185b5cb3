import Foundation
import Glibc
import OvaMariaDBServer
import Testing

@testable import OvaStore

/// How a test reaches the server.
enum MariaDBTransport: CaseIterable, Sendable, CustomStringConvertible {
    case tcp, unixSocket

    var description: String { self == .tcp ? "TCP" : "unix socket" }
}

extension MariaDBTestDatabase {
    func configuration(
        _ transport: MariaDBTransport = .tcp,
        password: String? = nil,
        timeout: Duration = .seconds(10)
    ) -> MariaDBConfiguration {
        MariaDBConfiguration(
            endpoint: transport == .tcp ? .tcp(host: self.server.host, port: self.server.port) : .unixSocket(path: self.server.socketPath),
            user: self.server.user,
            password: password ?? self.server.password,
            database: self.name,
            connectTimeout: timeout,
            readTimeout: timeout,
            writeTimeout: timeout
        )
    }
}

/// Runs blocking connection work on a thread of its own, as the store's pool will: a test that
/// waits on the network does not hold one of the few cooperative threads.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// The error `body` throws, or nil.
func mariaDBError(_ body: () throws -> Void) -> MariaDBError? {
    do {
        try body()
        return nil
    } catch let error as MariaDBError {
        return error
    } catch {
        return MariaDBError.client("not a MariaDBError: \(error)")
    }
}

/// A connection kept across awaits by one test, used by one thread at a time (each use is
/// awaited before the next starts).
final class ConnectionBox: @unchecked Sendable {
    let connection: MariaDBConnection

    init(_ connection: MariaDBConnection) {
        self.connection = connection
    }
}

private let utf8mb4Table = """
    CREATE TABLE samples (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      label VARCHAR(191) NULL,
      body TEXT NULL,
      amount BIGINT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
    """

@Suite("MariaDB connection", .timeLimit(.minutes(2)))
struct MariaDBConnectionTests {
    @Test("connects as the test account, in utf8mb4, strict mode and UTC", arguments: MariaDBTransport.allCases)
    func connects(_ transport: MariaDBTransport) async throws {
        try await withMariaDB { database in
            let configuration = database.configuration(transport)
            let (version, row) = try await onOwnThread {
                let connection = try MariaDBConnection(configuration)
                let row = try connection.query(
                    "SELECT DATABASE(), CURRENT_USER(), @@character_set_connection, @@character_set_results, @@character_set_client, @@session.sql_mode, @@session.time_zone"
                ).first
                return (connection.serverVersion, row)
            }
            #expect(version.contains("MariaDB"))
            let session = try #require(row)
            #expect(session.string(0) == database.name)
            #expect(session.string(1) == "ova_test@%")
            #expect(session.string(2) == "utf8mb4")
            #expect(session.string(3) == "utf8mb4")
            #expect(session.string(4) == "utf8mb4")
            #expect(session.string(5).split(separator: ",").contains("STRICT_ALL_TABLES"))
            #expect(session.string(6) == "+00:00")
        }
    }

    @Test("an InnoDB utf8mb4 table round-trips 4-byte characters, NUL bytes, NULLs and the Int64 limits")
    func roundTrip() async throws {
        try await withMariaDB { database in
            let configuration = database.configuration()
            let long = String(repeating: "ñ🦙", count: 6_000)  // 36,000 bytes: past any first guess of a buffer
            let written: [[SQLValue]] = [
                [.text("ñandú 🦙"), .text("Mañana 👩🏽‍💻 😀 𝄞 canción"), .integer(Int64.max)],
                [.null, .null, .null],
                [.text("min"), .text("a\u{0}b"), .integer(Int64.min)],
                [.text("minus one"), .text(""), .integer(-1)],
                [.text("long"), .text(long), .integer(0)],
            ]
            let (inserted, ids, rows, lengths, table) = try await onOwnThread {
                let connection = try MariaDBConnection(configuration)
                try connection.execute(utf8mb4Table)
                var inserted: [Int] = []
                var ids: [Int64] = []
                for values in written {
                    inserted.append(try connection.run("INSERT INTO samples (label, body, amount) VALUES (?, ?, ?)", values))
                    ids.append(connection.lastInsertedID)
                }
                let rows = try connection.query("SELECT id, label, body, amount FROM samples ORDER BY id")
                let lengths = try connection.query("SELECT CHAR_LENGTH(label), LENGTH(label) FROM samples WHERE label = ?", [.text("ñandú 🦙")])
                let table = try connection.query(
                    "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                    [.text("samples")]
                )
                return (inserted, ids, rows, lengths, table)
            }
            #expect(inserted == [1, 1, 1, 1, 1])
            #expect(ids == [1, 2, 3, 4, 5])
            #expect(rows.map(\.values) == zip(ids, written).map { (id, values) -> [SQLValue] in [.integer(id)] + values })
            #expect(rows.first?.int64(3) == Int64.max)
            #expect(rows[1].optionalString(1) == nil)
            #expect(rows[1].optionalInt64(3) == nil)
            #expect(rows[2].string(2).utf8.count == 3)
            // Stored as 4-byte UTF-8 on the server, not as '?' or mojibake.
            #expect(lengths.first.map { [$0.int64(0), $0.int64(1)] } == [7, 12])
            #expect(table.first.map { [$0.string(0), $0.string(1)] } == ["InnoDB", "utf8mb4_unicode_ci"])
        }
    }

    @Test("a value too long for its column is an error, not silently cut (strict mode)")
    func tooLong() async throws {
        try await withMariaDB { database in
            let configuration = database.configuration()
            let (error, count) = try await onOwnThread {
                let connection = try MariaDBConnection(configuration)
                try connection.execute(utf8mb4Table)
                let error = mariaDBError {
                    try connection.run("INSERT INTO samples (label) VALUES (?)", [.text(String(repeating: "🦙", count: 192))])
                }
                return (error, try connection.query("SELECT COUNT(*) FROM samples").first?.int64(0))
            }
            #expect(error?.code == 1406)  // ER_DATA_TOO_LONG
            #expect(count == 0)
        }
    }

    @Test("a unique-key violation is a typed 1062 naming the key; the transaction rolls back, the connection lives on")
    func duplicateKey() async throws {
        try await withMariaDB { database in
            let configuration = database.configuration()
            let (duplicate, inTransaction, emails, sameValueUpdate) = try await onOwnThread {
                let connection = try MariaDBConnection(configuration)
                try connection.execute("""
                    CREATE TABLE accounts (
                      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                      email VARCHAR(191) NOT NULL,
                      UNIQUE KEY email (email)
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                    """)
                try connection.run("INSERT INTO accounts (email) VALUES (?)", [.text("ana@example.com")])
                let duplicate = mariaDBError {
                    try connection.run("INSERT INTO accounts (email) VALUES (?)", [.text("ana@example.com")])
                }
                let inTransaction = mariaDBError {
                    try connection.transaction { () throws(MariaDBError) in
                        try connection.run("INSERT INTO accounts (email) VALUES (?)", [.text("luis@example.com")])
                        try connection.run("INSERT INTO accounts (email) VALUES (?)", [.text("ana@example.com")])
                    }
                }
                let emails = try connection.query("SELECT email FROM accounts ORDER BY id").map { $0.string(0) }
                // Rows matched, not only rows whose values changed (as SQLite counts them).
                let sameValueUpdate = try connection.run("UPDATE accounts SET email = ? WHERE email = ?", [.text("ana@example.com"), .text("ana@example.com")])
                return (duplicate, inTransaction, emails, sameValueUpdate)
            }
            let error = try #require(duplicate)
            #expect(error.code == 1062)
            #expect(error.sqlState == "23000")
            #expect(error.isDuplicateKey)
            #expect(!error.isConnectionLost)
            #expect(error.storeError == .duplicate(field: "email"))
            #expect(inTransaction?.code == 1062)
            #expect(emails == ["ana@example.com"])
            #expect(sameValueUpdate == 1)
        }
    }

    @Test("a wrong password is a typed 1045 that names the user, never a password")
    func wrongPassword() async throws {
        try await withMariaDB { database in
            let wrong = "wrong-\(UUID().uuidString)"
            let configuration = database.configuration(password: wrong)
            let error = try await onOwnThread {
                mariaDBError { _ = try MariaDBConnection(configuration) }
            }
            let failure = try #require(error)
            #expect(failure.code == 1045)  // ER_ACCESS_DENIED_ERROR
            #expect(failure.sqlState == "28000")
            #expect(failure.description.contains("'ova_test'"))
            #expect(!failure.description.contains(wrong))
            #expect(!failure.description.contains(database.server.password))
            #expect(failure.storeError == .unavailable(failure.description))
            // Nor does the configuration, however it is printed.
            var dumped = ""
            dump(configuration, to: &dumped)
            for printed in ["\(configuration)", String(reflecting: configuration), dumped] {
                #expect(printed.contains("ova_test"))
                #expect(!printed.contains(wrong))
            }
        }
    }

    @Test("a server that accepts TCP but never answers fails the connect at the timeout instead of hanging")
    func silentServer() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let configuration = MariaDBConfiguration(
            endpoint: .tcp(host: "127.0.0.1", port: listener.port),
            user: "ova_test",
            password: "secret-never-sent",
            database: "ovatest_none",
            connectTimeout: .seconds(1),
            readTimeout: .seconds(1),
            writeTimeout: .seconds(1)
        )
        let error = try await onOwnThread {
            mariaDBError { _ = try MariaDBConnection(configuration) }
        }
        let failure = try #require(error)
        #expect(failure.isConnectionLost, "\(failure)")
        #expect(!failure.description.contains("secret-never-sent"))
    }

    @Test("a stopped server: the open connection reports it lost, new connections fail at once, nothing is left behind")
    func stoppedServer() async throws {
        var stopped: MariaDBTestServer?
        try await withDedicatedMariaDB { server in
            stopped = server
            let database = try await server.makeDatabase()
            let tcp = database.configuration(.tcp, timeout: .seconds(5))
            let socket = database.configuration(.unixSocket, timeout: .seconds(5))
            let (box, before) = try await onOwnThread {
                let connection = try MariaDBConnection(tcp)
                return (ConnectionBox(connection), try connection.query("SELECT 1").first?.int64(0))
            }
            #expect(before == 1)

            await server.stop()
            #expect(!FileManager.default.fileExists(atPath: server.directory.path))
            #expect(kill(server.processIdentifier, 0) == -1)

            let (lost, afterwards, broken) = try await onOwnThread {
                let lost = mariaDBError { try box.connection.query("SELECT 1") }
                let afterwards = mariaDBError { try box.connection.query("SELECT 1") }
                return (lost, afterwards, box.connection.isBroken)
            }
            #expect(lost?.isConnectionLost == true, "\(String(describing: lost))")
            #expect(afterwards?.code == 2006)  // CR_SERVER_GONE_ERROR, without touching the network
            #expect(broken)
            for configuration in [tcp, socket] {
                let error = try await onOwnThread {
                    mariaDBError { _ = try MariaDBConnection(configuration) }
                }
                #expect(error?.isConnectionLost == true, "\(String(describing: error))")
                #expect(error?.storeError == error.map { .unavailable($0.description) })
            }
        }
        #expect(stopped.map { FileManager.default.fileExists(atPath: $0.directory.path) } == false)
    }

    @Test("the key of a duplicate is read from MariaDB's and MySQL 8's messages")
    func duplicateKeyName() {
        #expect(MariaDBError.duplicateKeyName("Duplicate entry 'ana@example.com' for key 'email'") == "email")
        #expect(MariaDBError.duplicateKeyName("Duplicate entry 'x' for key 'administrators.email'") == "email")
        #expect(MariaDBError.duplicateKeyName("Duplicate entry 'for key 'x'' for key 'PRIMARY'") == "PRIMARY")
        #expect(MariaDBError.duplicateKeyName("something else") == nil)
    }
}

/// A loopback TCP listener that never accepts: the kernel completes the handshake, then nothing
/// is ever said, as with a hung server.
final class SilentListener: Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 8) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        if !listening { Glibc.close(descriptor) }
        try #require(listening)
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        Glibc.close(self.descriptor)
    }
}
