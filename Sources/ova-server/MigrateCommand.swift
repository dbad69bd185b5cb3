import ArgumentParser
import Foundation
import Logging
import OvaServer
import OvaStore

/// `ova-server migrate [--status]`: the schema of the configured database (SQLite or MariaDB),
/// shown or brought up to date ahead of a start (which migrates by itself).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations, or show them with --status.",
        discussion: """
            Uses the server's configuration (OVA_DATA_DIR / OVA_DB_PATH for SQLite, DB_HOST and \
            the other DB_* settings or OVA_DATABASE_URL for MariaDB, and the same .env files). \
            `ova-server serve` applies pending migrations at every start, so this command is for \
            operators who migrate as a separate deployment step, or want to see where a database \
            stands. --status reads only: it creates and changes nothing. A database written by a \
            newer OVA is reported (and refused by migrate and serve).
            """
    )

    @Flag(help: "List every migration with when it was applied, and change nothing.")
    var status = false

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    func run() async throws {
        var overrides: [String: String] = [:]
        overrides["OVA_DATA_DIR"] = self.dataDir
        let configuration: ServerConfiguration
        var logger = Logger(label: "ova")
        logger.logLevel = .warning
        do {
            let environment = try ProcessEnvironment.resolve(overrides: overrides)
            configuration = try ServerConfiguration.load(environment: environment.environment, overrides: overrides)
            environment.log(to: logger)
        } catch {
            FileHandle.standardError.write(Data("ova-server: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let location = configuration.storage.databaseLocation
        if case .file(let path) = location, self.status, !FileManager.default.fileExists(atPath: path) {
            print("\(path): no database yet; \(Migrations.count) migrations pending (applied at the first start)")
            return
        }
        if case .file(let path) = location {
            try DataFiles.preparePrivateDirectory(configuration.storage.dataDirectory, production: configuration.isProduction, logger: logger)
            try DataFiles.preparePrivateDatabase(path: path, logger: logger)
        }
        let database: Database
        do {
            database = try await Database.open(location, logger: logger, migrate: false)
        } catch {
            FileHandle.standardError.write(Data("ova-server: \(DatabaseStartupError(location: location, cause: error))\n".utf8))
            throw ExitCode(69)  // EX_UNAVAILABLE
        }
        do {
            if self.status {
                try await self.printStatus(database, location: location)
            } else {
                let applied = try await database.migrate()
                for migration in applied {
                    print("applied \(migration.version): \(migration.name)")
                }
                print(applied.isEmpty ? "\(Self.describe(location)): the schema is current" : "\(Self.describe(location)): \(applied.count) applied")
            }
            await database.close()
        } catch {
            await database.close()
            FileHandle.standardError.write(Data("ova-server: \(DatabaseStartupError(location: location, cause: error))\n".utf8))
            throw ExitCode(69)
        }
    }

    private func printStatus(_ database: Database, location: Database.Location) async throws(StoreError) {
        let (known, unknown) = try await database.migrationStatus()
        print("\(Self.describe(location)) (\(database.backendName) \(database.serverVersion))")
        for migration in known {
            let state = migration.appliedAtMilliseconds.map { "applied \(Self.timestamp($0))" } ?? "pending"
            print("  \(migration.version)  \(state)  \(migration.name)")
        }
        for version in unknown {
            print("  \(version)  applied  (unknown to this ova-server: written by a newer OVA)")
        }
        let pending = known.filter { $0.appliedAtMilliseconds == nil }.count
        if !unknown.isEmpty {
            print("the database is newer than this ova-server: upgrade ova-server")
        } else {
            print(pending == 0 ? "the schema is current" : "\(pending) pending: run `ova-server migrate` (or start the server)")
        }
    }

    static func describe(_ location: Database.Location) -> String {
        switch location {
        case .file(let path): return path
        case .memory: return "in-memory database"
        case .mariadb(let options): return "\(options.connection)"
        }
    }

    /// `2026-12-03 19:40:12 UTC`.
    static func timestamp(_ milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
