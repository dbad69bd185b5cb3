import Foundation
import OvaMariaDBServer
import Testing

@testable import OvaStore

/// The one list of migrations, checked for both dialects. Nothing runs the MariaDB DDL here
/// yet; these tests keep it from drifting away from the SQLite schema the store tests exercise.
@Suite("Migrations per dialect")
struct MigrationDialectTests {
    @Test("versions count up from 1, and every migration has SQL or a stated reason for each dialect")
    func everyMigrationCoversEveryDialect() {
        #expect(Migrations.all.map(\.version) == Array(1...Int64(Migrations.all.count)))
        for migration in Migrations.all {
            for dialect in SQLDialect.allCases {
                switch migration.steps(for: dialect) {
                case .statements(let statements):
                    #expect(!statements.isEmpty, "migration \(migration.version) has no \(dialect) statements")
                    #expect(!statements.contains { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty })
                case .noChange(let reason):
                    #expect(!reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
                }
            }
        }
    }

    @Test("each dialect's SQL uses none of the other's syntax")
    func noForeignSyntax() {
        for migration in Migrations.all {
            for statement in migration.steps(for: .mariadb).statements {
                for sqliteOnly in ["AUTOINCREMENT", "||", "PRAGMA", "sqlite_", "INTEGER PRIMARY KEY", "REFERENCES administrators(id)"] {
                    #expect(!statement.contains(sqliteOnly), "migration \(migration.version), MariaDB: \(sqliteOnly)")
                }
                if statement.contains("CREATE TABLE") {
                    #expect(statement.contains("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"))
                    #expect(statement.contains("BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"))
                }
            }
            for statement in migration.steps(for: .sqlite).statements {
                for mariadbOnly in ["AUTO_INCREMENT", "ENGINE=", "CONCAT(", "TINYINT", "FOR UPDATE"] {
                    #expect(!statement.contains(mariadbOnly), "migration \(migration.version), SQLite: \(mariadbOnly)")
                }
            }
        }
        #expect(SQLDialect.sqlite.tableOptions.isEmpty)
        #expect(SQLDialect.sqlite.lockingRead.isEmpty)
    }

    @Test("MariaDB's tables have the columns, in order, and the indexes of a fresh SQLite database")
    func mariadbSchemaMatchesSQLite() async throws {
        let mariadb = MariaDBTables(Migrations.all.flatMap { $0.steps(for: .mariadb).statements })
        try await withSQLiteStore { store, _ in
            let sqlite = try await store.database.read { connection throws(StoreError) in
                let tables = try connection.query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence') ORDER BY name"
                ).map { $0.string(0) }
                var columns: [String: [String]] = [:]
                for table in tables {
                    columns[table] = try connection.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)])
                        .map { $0.string(0) }
                }
                let indexes = try connection.query(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
                ).map { $0.string(0) }
                return (columns, indexes)
            }
            #expect(!sqlite.0.isEmpty)
            #expect(mariadb.columns == sqlite.0)
            #expect(mariadb.indexes.sorted() == sqlite.1)
        }
    }
}

@Suite("Migration 4: imported rows")
struct ImportedRowsMigrationTests {
    @Test("imported_rows records each source row once (SQLite)")
    func sqliteKeysEachSourceRowOnce() async throws {
        try await withSQLiteStore { store, _ in
            let insert = "INSERT INTO imported_rows (source_table, source_id, target_id, imported_at_ms) VALUES (?, ?, ?, 0)"
            try await store.database.write { connection throws(StoreError) in
                try connection.run(insert, [.text("ova_web.contactos"), .integer(1), .integer(10)])
                // The same id in another source table is another row.
                try connection.run(insert, [.text("ova_web.usuarios"), .integer(1), .integer(10)])
            }
            await #expect(throws: StoreError.duplicate(field: "source_id")) {
                try await store.database.write { connection throws(StoreError) in
                    try connection.run(insert, [.text("ova_web.contactos"), .integer(1), .integer(11)])
                }
            }
        }
    }

    @Test("every migration's MariaDB DDL runs, in order, on a real server; imported_rows keys each source row once")
    func mariadbDDLRuns() async throws {
        try await withMariaDB { database in
            let configuration = database.configuration()
            let duplicate = try await onOwnThread { () throws -> MariaDBError? in
                let connection = try MariaDBConnection(configuration)
                for migration in Migrations.all {
                    for statement in migration.steps(for: .mariadb).statements {
                        try connection.execute(statement)
                    }
                }
                let insert = "INSERT INTO imported_rows (source_table, source_id, target_id, imported_at_ms) VALUES (?, ?, ?, 0)"
                try connection.run(insert, [.text("ova_web.contactos"), .integer(1), .integer(10)])
                try connection.run(insert, [.text("ova_web.usuarios"), .integer(1), .integer(10)])
                return mariaDBError { try connection.run(insert, [.text("ova_web.contactos"), .integer(1), .integer(11)]) }
            }
            #expect(duplicate?.isDuplicateKey == true)
        }
    }
}

/// The tables and named indexes the MariaDB CREATE TABLE statements declare, read from their
/// text: one column or key per line, as Migrations writes them.
private struct MariaDBTables {
    var columns: [String: [String]] = [:]
    var indexes: [String] = []

    init(_ statements: [String]) {
        for statement in statements {
            let lines = statement.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = lines.first, first.hasPrefix("CREATE TABLE ") else { continue }
            let table = String(first.dropFirst("CREATE TABLE ".count).prefix { $0 != " " && $0 != "(" })
            var columns: [String] = []
            for line in lines.dropFirst() where !line.hasPrefix(")") {
                let words = line.split(separator: " ").map(String.init)
                switch words.first {
                case "KEY": self.indexes.append(words.dropFirst().first ?? "")
                case "UNIQUE", "PRIMARY", "CONSTRAINT", "FOREIGN", nil: continue
                case let column?: columns.append(column)
                }
            }
            self.columns[table] = columns
        }
    }
}
