import Foundation
import Logging
import OvaAuth
@_exported import OvaMariaDBServer
import OvaProto
import OvaRPC
import OvaServer
import OvaServices
import OvaStore

/// A real ova-server (TLS on 127.0.0.1) with one superadmin, its data in SQLite in a temporary
/// directory or in a fresh database on the shared test mariadbd.
public struct AccountsServer: RunningTestServer {
    public static let rootEmail = "root@example.com"
    public static let rootPassword = "Harbor-lights-2026"

    public let running: OvaServerApp.Running
    public let directory: URL
    public let port: Int
    public let backend: TestBackend
    /// The MariaDB database holding the data; nil on SQLite.
    public let mariadb: MariaDBTestDatabase?
    /// Whether stopping without `keepData` drops the database (not for a sibling).
    var ownsDatabase = true

    /// - Parameter environment: extra settings (e.g. a lower `OVA_PUBLIC_RATE_PER_MINUTE`).
    /// - Parameter backend: where the data lives.
    public static func start(_ environment: [String: String] = [:], backend: TestBackend = .sqlite) async throws -> AccountsServer {
        let directory = try TestServerSetup.makeDataDirectory(prefix: "ova-accounts")
        var mariadb: MariaDBTestDatabase?
        if backend == .mariadb {
            mariadb = try await MariaDBTestServer.shared().makeDatabase()
        }
        do {
            return try await Self.start(environment, backend: backend, directory: directory, mariadb: mariadb, isNew: true)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            if let mariadb { await mariadb.server.dropDatabase(mariadb.name) }
            throw error
        }
    }

    /// A new server on the data of `earlier` (stopped with `keepData: true`): its database, and
    /// its data directory unless `newDataDirectory` (which MariaDB needs for nothing but the
    /// signing key and certificate, so it must still see every row).
    public static func restart(_ earlier: AccountsServer, newDataDirectory: Bool = false, _ environment: [String: String] = [:]) async throws -> AccountsServer {
        let directory = newDataDirectory ? try TestServerSetup.makeDataDirectory(prefix: "ova-accounts") : earlier.directory
        return try await Self.start(environment, backend: earlier.backend, directory: directory, mariadb: earlier.mariadb, isNew: false)
    }

    /// Another server on the database of `running` (still running), with a data directory of
    /// its own: what a second instance behind a load balancer is. Pass both the same
    /// `JWT_SECRET_KEY` for tokens to work on both. Stop it with `keepData: true` (its own
    /// directory is removed either way; the database belongs to `running`).
    public static func sibling(of running: AccountsServer, _ environment: [String: String] = [:]) async throws -> AccountsServer {
        precondition(running.mariadb != nil, "instances share a MariaDB database")
        let directory = try TestServerSetup.makeDataDirectory(prefix: "ova-accounts")
        return try await Self.start(
            environment, backend: running.backend, directory: directory, mariadb: running.mariadb, isNew: false, ownsDatabase: false
        )
    }

    private static func start(
        _ environment: [String: String], backend: TestBackend, directory: URL, mariadb: MariaDBTestDatabase?, isNew: Bool,
        ownsDatabase: Bool = true
    ) async throws -> AccountsServer {
        var settings = ["OVA_PUBLIC_RATE_PER_MINUTE": "1000"]
        if let mariadb { settings.merge(mariadb.settings) { $1 } }
        let configuration = try TestServerSetup.configuration(dataDirectory: directory, settings.merging(environment) { $1 })
        var logger = Logger(label: "ova.accounts-test")
        logger.logLevel = .critical
        // Cost 4: the tests exercise the logic, not bcrypt's slowness (PasswordHasher's own
        // tests cover cost 12).
        let running = try await OvaServerApp.start(
            configuration: configuration, logger: logger, passwordHasher: PasswordHasher(insecureTestingCost: 4)
        )
        if isNew {
            _ = try await AdminsServiceHandler.createAdmin(
                name: "Root", email: rootEmail, password: rootPassword, superadmin: true, authenticator: running.accounts.authenticator
            )
        }
        return AccountsServer(
            running: running, directory: directory, port: running.address.port ?? 0, backend: backend, mariadb: mariadb, ownsDatabase: ownsDatabase
        )
    }

    public func makeChannel() throws -> RPCChannel {
        try TestServerSetup.makeChannel(port: self.port, certificatePath: self.running.tls.certificatePath)
    }

    public var store: Store { self.running.accounts.store }

    /// The key the server signs tokens with (generated in the data directory in development).
    public var signingSecret: [UInt8] {
        let text = (try? String(contentsOf: self.directory.appendingPathComponent("jwt-secret"), encoding: .utf8)) ?? ""
        return Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }

    public func stop() async {
        await self.stop(keepData: false)
    }

    /// - Parameter keepData: leave the data directory for a restart.
    public func stop(keepData: Bool) async {
        self.running.beginGracefulShutdown()
        await self.running.waitUntilStopped()
        if !keepData || !self.ownsDatabase {
            try? FileManager.default.removeItem(at: self.directory)
        }
        if !keepData, self.ownsDatabase, let mariadb {
            await mariadb.server.dropDatabase(mariadb.name)
        }
    }
}

/// Runs `body` against a fresh server and always stops it.
@discardableResult
public func withAccountsServer<Result>(
    _ environment: [String: String] = [:],
    backend: TestBackend = .sqlite,
    _ body: (AccountsServer, RPCChannel) async throws -> Result
) async throws -> Result {
    try await AccountsServer.start(environment, backend: backend).run(body)
}

/// Call options carrying a bearer token.
public func bearer(_ token: String) -> CallOptions {
    var metadata = Metadata()
    metadata.addString("Bearer \(token)", forKey: "authorization")
    metadata.addString("accounts-test/1", forKey: "user-agent")
    return CallOptions(timeout: .seconds(20), metadata: metadata)
}

public func login(_ channel: RPCChannel, _ email: String, _ password: String) async throws -> LoginResponse {
    var request = LoginRequest()
    request.email = email
    request.password = password
    var metadata = Metadata()
    metadata.addString("accounts-test/1", forKey: "user-agent")
    return try await AuthClient(channel: channel).login(request, options: CallOptions(metadata: metadata))
}

/// Logs in as the superadmin and returns call options with its token.
public func rootOptions(_ channel: RPCChannel) async throws -> CallOptions {
    bearer(try await login(channel, AccountsServer.rootEmail, AccountsServer.rootPassword).accessToken)
}

/// Creates an administrator through the RPC and returns call options logged in as it.
public func createAdmin(
    _ channel: RPCChannel, as root: CallOptions, email: String, password: String = "Quiet-river-2026", superadmin: Bool = false
) async throws -> (admin: Admin, options: CallOptions) {
    var request = CreateAdminRequest()
    request.name = "Staff \(email)"
    request.email = email
    request.password = password
    request.superadmin = superadmin
    let admin = try await AdminsClient(channel: channel).createAdmin(request, options: root)
    return (admin, bearer(try await login(channel, email, password).accessToken))
}

/// The status code a call fails with (nil when it succeeds).
public func statusCode(_ body: () async throws -> some Any) async -> StatusCode? {
    do {
        _ = try await body()
        return nil
    } catch let error as RPCError {
        return error.code
    } catch {
        return .unknown
    }
}

/// The error a call fails with.
public func rpcError(_ body: () async throws -> some Any) async -> RPCError? {
    do {
        _ = try await body()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        return RPCError(code: .unknown, message: "\(error)")
    }
}

/// Decodes a JWT segment without the server's code: base64url → JSON object.
public func jwtSegment(_ token: String, _ index: Int) -> [String: Any]? {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return nil }
    var base64 = parts[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    guard let data = Data(base64Encoded: base64) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

public func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
