import ArgumentParser
import Foundation
import Logging
import OvaServer
import OvaStore

/// `ova-server backup --to FILE`: a consistent copy of the server's SQLite database, taken
/// while the server runs. The work is ``SQLiteBackup``'s; this finds the database as `serve`
/// and `admin` do and reports the outcome.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite database to a file, while the server runs.",
        discussion: """
            Uses SQLite's online backup API on the server's database (the same OVA_DATA_DIR / \
            OVA_DB_PATH and .env files as the server), so the server keeps serving and writing. \
            The copy is one consistent snapshot, written with mode 0600 to a temporary file \
            beside FILE, checked with PRAGMA integrity_check and only then renamed to FILE.

              ova-server backup --to /var/backups/ova/ova-$(date +%F).sqlite3

            To restore: stop the server, move the database and its -wal and -shm files aside, \
            copy the backup to the database's path with mode 0600, start the server \
            (docs/OPERATIONS.md). With MariaDB (DB_HOST set) this command copies nothing and \
            names mariadb-dump and mariabackup instead.
            """
    )

    @Option(name: .customLong("to"), help: ArgumentHelp("The backup file to write.", valueName: "file"))
    var destination: String

    @Flag(help: "Replace the backup file if it exists.")
    var force = false

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (OVA_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    @Option(name: .customLong("db-path"), help: ArgumentHelp("The SQLite database file (OVA_DB_PATH).", valueName: "path"))
    var dbPath: String?

    func run() async throws {
        var overrides: [String: String] = [:]
        overrides["OVA_DATA_DIR"] = self.dataDir
        overrides["OVA_DB_PATH"] = self.dbPath
        let environment: ProcessEnvironment
        let configuration: ServerConfiguration
        do {
            // The same .env files as `serve`, so both use one database.
            environment = try ProcessEnvironment.resolve(overrides: overrides)
            configuration = try ServerConfiguration.load(environment: environment.environment, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("ova-server: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        if let mariadb = configuration.storage.mariadb {
            FileHandle.standardError.write(Data(MariaDBBackupAdvice(mariadb.connection).text.utf8))
            throw ExitCode(64)  // EX_USAGE
        }
        var logger = Logger(label: "ova")
        logger.logLevel = .warning
        environment.log(to: logger)

        let databasePath = configuration.storage.effectiveDatabasePath
        var backup = SQLiteBackup(database: databasePath, to: self.destination)
        backup.replaceExisting = self.force
        let report: BackupReport
        do throws(BackupError) {
            report = try await backup.run()
        } catch {
            let (message, code) = Self.explain(error, databasePath: databasePath)
            FileHandle.standardError.write(Data("ova-server: \(message)\n".utf8))
            throw ExitCode(code)
        }
        print(
            "backed up \(databasePath) to \(report.path): \(report.pages) pages of \(report.pageSize) bytes, "
                + "\(Self.size(report.bytes)), in \(Self.seconds(report.duration)); integrity_check ok"
        )
    }

    /// The message for a failed backup and its sysexits code.
    static func explain(_ error: BackupError, databasePath: String) -> (String, Int32) {
        switch error {
        case .databaseMissing(let path):
            return (
                "there is no database at \(path): run the backup with the server's configuration "
                    + "(OVA_DATA_DIR or OVA_DB_PATH, or --data-dir / --db-path)",
                66  // EX_NOINPUT
            )
        case .destinationExists(let path):
            return ("\(path) already exists; pass --force to replace it", 73)  // EX_CANTCREAT
        case .destinationIsDatabase(let path):
            return ("\(path) is the server's database; write the backup to another file", 64)  // EX_USAGE
        case .integrityCheckFailed:
            return (
                "\(error); no backup was written. The database itself may be damaged: "
                    + "check it with sqlite3 \(databasePath) 'PRAGMA integrity_check'",
                65  // EX_DATAERR
            )
        case .failed(let message):
            return ("backup failed: \(message)", 74)  // EX_IOERR
        }
    }

    /// `233472 bytes (228.0 KiB)`.
    static func size(_ bytes: Int64) -> String {
        var value = Double(bytes)
        var unit = ""
        for next in ["KiB", "MiB", "GiB", "TiB"] where value >= 1024 {
            value /= 1024
            unit = next
        }
        return unit.isEmpty ? "\(bytes) bytes" : "\(bytes) bytes (\(String(format: "%.1f", value)) \(unit))"
    }

    /// `0.012 s`.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.3f s", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// What `ova-server backup` says when the configuration selects MariaDB/MySQL: the database's
/// own tools make that backup (docs/OPERATIONS.md, "Backups").
struct MariaDBBackupAdvice {
    let text: String

    init(_ connection: MariaDBConfiguration) {
        // The known settings go into the commands; the password never does (-p asks).
        let endpoint: String
        switch connection.endpoint {
        case .tcp(let host, let port): endpoint = " -h \(host) -P \(port)"
        case .unixSocket(let path): endpoint = " -S \(path)"
        }
        let user = connection.user
        let database = connection.database
        self.text = """
            ova-server: DB_HOST (or OVA_DATABASE_URL) is set, so the database is MariaDB/MySQL, which `ova-server backup` \
            does not copy (it backs up the SQLite database). Back it up with MariaDB's tools \
            (docs/OPERATIONS.md, "Backups"), for example:
              mariadb-dump --single-transaction --routines --events\(endpoint) -u \(user) -p \(database) > ova.sql
              mariabackup --backup --target-dir=/var/backups/ova/$(date +%F) --user=\(user)    # on the database host

            """
    }
}
