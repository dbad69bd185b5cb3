import Foundation
import OvaTestSupport
import OvaStore

/// The store backends that parameterized suites run against: every repository and RPC test
/// that is not about one backend's own mechanics runs once per case.
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case mariadb

    public var description: String { self.rawValue }

    /// Runs `body` with the location of a fresh, empty database of this backend: a file in a
    /// temporary directory (SQLite) or a new database on the shared test mariadbd; removed
    /// afterwards, also when `body` throws.
    public func withFreshDatabase<Result>(_ body: (Database.Location) async throws -> Result) async throws -> Result {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try await withAsyncCleanup {
                try await body(.file(directory.appendingPathComponent("ova.sqlite3").path))
            } cleanup: {
                try? FileManager.default.removeItem(at: directory)
            }
        case .mariadb:
            return try await withMariaDB { database in
                try await body(.mariadb(database.storeOptions()))
            }
        }
    }
}

extension MariaDBTestDatabase {
    /// How OVA's store reaches this database: TCP to the server's port, as the test account.
    public func storeOptions(poolSize: Int = 4, acquireTimeout: Duration = .seconds(10)) -> MariaDBStoreOptions {
        MariaDBStoreOptions(
            connection: MariaDBConfiguration(
                endpoint: .tcp(host: self.server.host, port: self.server.port),
                user: self.server.user,
                password: self.server.password,
                database: self.name,
                tlsMode: .disabled
            ),
            poolSize: poolSize,
            acquireTimeout: acquireTimeout
        )
    }

    /// The same as the server's `DB_*` settings.
    public var settings: [String: String] {
        [
            "DB_HOST": self.server.host,
            "DB_PORT": String(self.server.port),
            "DB_USER": self.server.user,
            "DB_PASSWORD": self.server.password,
            "DB_NAME": self.name,
        ]
    }
}
