import Foundation
import OvaStore
import Testing

@testable import OvaServer

/// `DB_*` and `OVA_DATABASE_URL`: which database the server uses, decided once at load, never a
/// silent fallback to SQLite.
@Suite("MariaDB settings")
struct MariaDBSettingsTests {
    private let complete = [
        "DB_HOST": "db.internal", "DB_PORT": "3307", "DB_USER": "ova", "DB_PASSWORD": " s3cret db pass ", "DB_NAME": "ova_prod",
    ]

    private func loadError(_ environment: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            let config = try ServerConfiguration.load(environment: environment)
            Issue.record("expected an error, got \(config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test("without DB_HOST the data is in SQLite, as before")
    func sqliteByDefault() throws {
        let config = try ServerConfiguration.load(environment: ["OVA_DATA_DIR": "/srv/ova", "DB_HOST": ""])
        #expect(config.storage.mariadb == nil)
        #expect(config.storage.databaseLocation == .file("/srv/ova/ova.sqlite3"))
    }

    @Test("the original's DB_* variables select MariaDB; the password is kept as given and never shown")
    func originalVariables() throws {
        let config = try ServerConfiguration.load(environment: self.complete)
        let mariadb = try #require(config.storage.mariadb)
        #expect(mariadb.connection.endpoint == .tcp(host: "db.internal", port: 3307))
        #expect(mariadb.connection.user == "ova")
        #expect(mariadb.connection.password == " s3cret db pass ")
        #expect(mariadb.connection.database == "ova_prod")
        #expect(mariadb.connection.tlsMode == .preferred)
        #expect(mariadb.poolSize == 10)
        #expect(config.storage.databaseLocation == .mariadb(mariadb))
        #expect(config.redactedSummary().first { $0.key == "DB_PASSWORD" }?.value == "set")
        for printed in ["\(config)", String(reflecting: config), "\(mariadb)", { var text = ""; dump(config, to: &text); return text }()] {
            #expect(!printed.contains("s3cret"), "\(printed)")
        }
    }

    @Test("the port defaults to the original's 3306; a path in DB_HOST is a unix socket; flags work too")
    func endpoints() throws {
        var environment = self.complete
        environment["DB_PORT"] = nil
        #expect(try ServerConfiguration.load(environment: environment).storage.mariadb?.connection.endpoint == .tcp(host: "db.internal", port: 3306))
        environment["DB_HOST"] = "/run/mysqld/mysqld.sock"
        #expect(try ServerConfiguration.load(environment: environment).storage.mariadb?.connection.endpoint == .unixSocket(path: "/run/mysqld/mysqld.sock"))
        let fromFlags = try ServerConfiguration.load(
            environment: ["DB_PASSWORD": "x"],
            overrides: try ServerConfiguration.overrides(fromFlags: ["--db-host", "10.0.0.5", "--db-user=ova", "--db-name", "ova"])
        )
        #expect(fromFlags.storage.mariadb?.connection.endpoint == .tcp(host: "10.0.0.5", port: 3306))
    }

    @Test(
        "a DB_* setting without DB_HOST stops the server instead of storing data in SQLite",
        arguments: ["DB_PORT", "DB_USER", "DB_PASSWORD", "DB_PASSWORD_FILE", "DB_NAME", "DB_SSL_MODE", "DB_SSL_CA", "DB_SSL_DISABLED"]
    )
    func settingWithoutHost(variable: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("file").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("s3cret-db-value\n".utf8))
        let values = [
            "DB_PORT": "3306", "DB_PASSWORD_FILE": file, "DB_SSL_MODE": "required", "DB_SSL_CA": file, "DB_SSL_DISABLED": "true",
        ]
        let error = self.loadError([variable: values[variable] ?? "s3cret-db-value"])
        #expect(error?.kind == .inconsistent)
        #expect(error?.variable == variable)
        let message = error?.description ?? ""
        #expect(message.hasPrefix("\(variable) is set but DB_HOST is not: set DB_HOST (or OVA_DATABASE_URL)"), "\(message)")
        #expect(message.contains("or unset \(variable) to keep it in SQLite"), "\(message)")
        #expect(!message.contains("s3cret-db-value"))
    }

    @Test("DB_HOST needs DB_USER and DB_NAME, and excludes OVA_DB_PATH")
    func incompleteOrContradictory() {
        var environment = self.complete
        environment["DB_USER"] = nil
        #expect(self.loadError(environment)?.variable == "DB_USER")
        environment = self.complete
        environment["DB_NAME"] = nil
        #expect(self.loadError(environment)?.variable == "DB_NAME")
        environment = self.complete
        environment["OVA_DB_PATH"] = "/srv/ova.sqlite3"
        let error = self.loadError(environment)
        #expect(error?.variable == "OVA_DB_PATH")
        #expect(error?.description.contains("both set") == true)
    }

    @Test("OVA_DATABASE_URL: mysql:// or mariadb://, the port optional, no password, not with DB_HOST")
    func databaseURL() throws {
        let config = try ServerConfiguration.load(environment: ["OVA_DATABASE_URL": "mysql://ova%40app@db.internal:3310/ova_prod", "DB_PASSWORD": "pw"])
        #expect(config.storage.mariadb?.connection.endpoint == .tcp(host: "db.internal", port: 3310))
        #expect(config.storage.mariadb?.connection.user == "ova@app")
        #expect(config.storage.mariadb?.connection.database == "ova_prod")
        #expect(config.storage.mariadb?.connection.password == "pw")
        let ipv6 = try ServerConfiguration.load(environment: ["OVA_DATABASE_URL": "mariadb://ova@[::1]/ova"])
        #expect(ipv6.storage.mariadb?.connection.endpoint == .tcp(host: "::1", port: 3306))

        let withPassword = self.loadError(["OVA_DATABASE_URL": "mysql://ova:hunter2-secret@db/ova"])
        #expect(withPassword?.variable == "OVA_DATABASE_URL")
        #expect(withPassword?.description.contains("DB_PASSWORD_FILE") == true)
        #expect(withPassword?.description.contains("hunter2") == false)
        for bad in ["postgres://ova@db/ova", "mysql://db/ova", "mysql://ova@db", "mysql://ova@db:0/ova", "mysql://ova@db/ova?ssl=1"] {
            #expect(self.loadError(["OVA_DATABASE_URL": bad])?.variable == "OVA_DATABASE_URL", "\(bad)")
        }
        let both = self.loadError(["OVA_DATABASE_URL": "mysql://ova@db/ova", "DB_HOST": "db"])
        #expect(both?.kind == .inconsistent)
        #expect(both?.description.contains("either") == true)
    }

    @Test("DB_PASSWORD_FILE is read without its newline; not with DB_PASSWORD; a missing file is named")
    func passwordFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("db-password").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("pass word\n".utf8))
        var environment = self.complete
        environment["DB_PASSWORD"] = nil
        environment["DB_PASSWORD_FILE"] = file
        #expect(try ServerConfiguration.load(environment: environment).storage.mariadb?.connection.password == "pass word")

        environment["DB_PASSWORD"] = "other"
        #expect(self.loadError(environment)?.variable == "DB_PASSWORD_FILE")
        environment["DB_PASSWORD"] = nil
        environment["DB_PASSWORD_FILE"] = directory.appendingPathComponent("missing").path
        #expect(self.loadError(environment)?.variable == "DB_PASSWORD_FILE")
    }

    @Test("DB_SSL_MODE takes the four modes; the original's DB_SSL_DISABLED=true means disabled")
    func tlsModes() throws {
        for mode in MariaDBConfiguration.TLSMode.allCases {
            var environment = self.complete
            environment["DB_SSL_MODE"] = mode.rawValue.uppercased()
            #expect(try ServerConfiguration.load(environment: environment).storage.mariadb?.connection.tlsMode == mode)
        }
        var environment = self.complete
        environment["DB_SSL_MODE"] = "verify-ca"
        #expect(self.loadError(environment)?.description.contains("verify-identity") == true)
        environment["DB_SSL_MODE"] = nil
        environment["DB_SSL_DISABLED"] = "true"
        #expect(try ServerConfiguration.load(environment: environment).storage.mariadb?.connection.tlsMode == .disabled)
        environment["DB_SSL_MODE"] = "required"
        #expect(self.loadError(environment)?.variable == "DB_SSL_DISABLED")
    }
}
