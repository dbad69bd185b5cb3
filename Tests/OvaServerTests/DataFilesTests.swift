import Foundation
import Logging
import Testing

@testable import OvaServer

#if canImport(Glibc)
import Glibc
#endif

/// Modes of what the server creates in its data directory. Serialized: the umask is
/// process-wide, so only one test at a time may change it.
@Suite("Private data files", .serialized)
struct DataFilesTests {
    /// Runs `body` with the process umask set to `mask`, restoring the previous one after.
    private func withUmask<T>(_ mask: mode_t, _ body: () async throws -> T) async rethrows -> T {
        let previous = umask(mask)
        defer { umask(previous) }
        return try await body()
    }

    @Test(arguments: [mode_t(0o022), mode_t(0o000)])
    func everyCreatedFileIsPrivateWhateverTheUmask(_ mask: mode_t) async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let dataDirectory = temp.file("data")
        let configuration = try developmentConfiguration(dataDirectory: dataDirectory)

        try await withUmask(mask) {
            let development = try DevelopmentCertificate.ensure(in: dataDirectory)
            #expect(try fileMode(development.keyPath) == 0o600)
            #expect(try fileMode(development.certificatePath) == 0o644)

            let accounts = try await AccountServices.open(configuration: configuration, logger: Logger(label: "test"))
            // SQLite removes -wal and -shm when the last connection closes: look while it is open.
            let database = configuration.storage.effectiveDatabasePath
            let modes = try [database, database + "-wal", database + "-shm", dataDirectory + "/jwt-secret"].map { path in
                (path, try fileMode(path))
            }
            await accounts.close()
            for (path, mode) in modes {
                #expect(mode == 0o600, "\(path) has mode \(String(mode, radix: 8))")
            }
        }
        #expect(try fileMode(dataDirectory) == 0o700)
    }

    @Test func existingLooseFilesAreTightenedWithANotice() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let dataDirectory = temp.file("data")
        let configuration = try developmentConfiguration(dataDirectory: dataDirectory)
        let database = configuration.storage.effectiveDatabasePath
        let secret = dataDirectory + "/jwt-secret"
        try await AccountServices.open(configuration: configuration, logger: Logger(label: "test")).close()
        #expect(chmod(database, 0o644) == 0)
        #expect(chmod(secret, 0o640) == 0)
        let logs = CapturedLogs()

        let accounts = try await AccountServices.open(configuration: configuration, logger: logs.logger())
        await accounts.close()

        #expect(try fileMode(database) == 0o600)
        #expect(try fileMode(secret) == 0o600)
        let notices = logs.entries.filter { $0.level == .notice }.map(\.message)
        #expect(notices.contains("\(database) was accessible to group or others; its mode is now 0600"))
        #expect(notices.contains("\(secret) was accessible to group or others; its mode is now 0600"))
    }

    @Test func looseDatabaseCompanionsAreTightenedAndMissingOnesNotCreated() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let database = temp.file("ova.sqlite3")
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: nil))
        #expect(chmod(database + "-wal", 0o666) == 0)
        let logs = CapturedLogs()

        try DataFiles.preparePrivateDatabase(path: database, logger: logs.logger())

        #expect(try fileMode(database) == 0o600)
        #expect(try fileMode(database + "-wal") == 0o600)
        #expect(!FileManager.default.fileExists(atPath: database + "-shm"))
        #expect(logs.entries.map(\.message) == ["\(database)-wal was accessible to group or others; its mode is now 0600"])
    }

    @Test func aLooseDevelopmentKeyIsReportedWhenTightened() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(first.tightenedKeyMode == nil)
        #expect(chmod(first.keyPath, 0o644) == 0)
        let second = try DevelopmentCertificate.ensure(in: temp.path)
        #expect(second.tightenedKeyMode == 0o644)
        #expect(try fileMode(second.keyPath) == 0o600)
    }

    // MARK: The directory in production

    @Test(arguments: [0o777, 0o770, 0o702, 0o1777])
    func productionRefusesADirectoryOthersCanWrite(_ mode: Int) async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let dataDirectory = temp.file("data")
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: false)
        #expect(chmod(dataDirectory, mode_t(mode)) == 0)
        let configuration = try ServerConfiguration.load(environment: [
            "ENVIRONMENT": "production",
            "OVA_DATA_DIR": dataDirectory,
            "OVA_TLS_CERT": temp.file("cert.pem"),
            "OVA_TLS_KEY": temp.file("key.pem"),
            "JWT_SECRET_KEY": String(repeating: "k", count: 48),
        ])

        let error = await #expect(throws: ConfigurationError.self) {
            try await AccountServices.open(configuration: configuration, logger: Logger(label: "test")).close()
        }

        let message = try #require(error).message
        let shown = String(repeating: "0", count: 4 - String(mode, radix: 8).count) + String(mode, radix: 8)
        #expect(message.contains(dataDirectory))
        #expect(message.contains("mode \(shown)"), "\(message)")
        #expect(message.contains("chmod 700 \(dataDirectory)"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: dataDirectory + "/ova.sqlite3"), "nothing is created in it")
    }

    @Test func productionWarnsAboutADirectoryOthersCanRead() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        #expect(chmod(temp.path, 0o755) == 0)
        let logs = CapturedLogs()

        try DataFiles.preparePrivateDirectory(temp.path, production: true, logger: logs.logger())

        #expect(logs.entries.map(\.level) == [.warning])
        #expect(logs.entries.first?.message == "the data directory is readable by group or others; fix: chmod 700 \(temp.path)")
        #expect(try fileMode(temp.path) == 0o755, "production reports, it does not change the operator's directory")
    }

    @Test func aPrivateDirectoryIsAcceptedSilently() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        #expect(chmod(temp.path, 0o700) == 0)
        let logs = CapturedLogs()
        try DataFiles.preparePrivateDirectory(temp.path, production: true, logger: logs.logger())
        #expect(logs.entries.isEmpty)
    }

    @Test func developmentLeavesAnExistingDirectoryAlone() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        #expect(chmod(temp.path, 0o777) == 0)
        let logs = CapturedLogs()
        try DataFiles.preparePrivateDirectory(temp.path, production: false, logger: logs.logger())
        #expect(logs.entries.isEmpty)
        #expect(try fileMode(temp.path) == 0o777)
    }

    @Test func productionCreatesAMissingDirectoryPrivate() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let dataDirectory = temp.file("new/data")
        try DataFiles.preparePrivateDirectory(dataDirectory, production: true, logger: Logger(label: "test"))
        #expect(try fileMode(dataDirectory) == 0o700)
    }
}
