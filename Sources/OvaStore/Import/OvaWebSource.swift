import NIOPosix

/// An administrator row of the original OVA Web backend (`administradores`), as stored there.
public struct OvaWebAdministrator: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var email: String
    /// `$2b$` bcrypt, or the oldest `"salt:hexhash"` salted SHA-256; copied as it is.
    public var passwordHash: String
    public var superadmin: Bool
    public var active: Bool
    /// Unix milliseconds; nil when the column is missing, NULL or a zero date.
    public var createdAtMilliseconds: Int64?
    public var updatedAtMilliseconds: Int64?

    public init(
        id: Int64, name: String, email: String, passwordHash: String, superadmin: Bool, active: Bool,
        createdAtMilliseconds: Int64?, updatedAtMilliseconds: Int64?
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.passwordHash = passwordHash
        self.superadmin = superadmin
        self.active = active
        self.createdAtMilliseconds = createdAtMilliseconds
        self.updatedAtMilliseconds = updatedAtMilliseconds
    }
}

/// A contact-form message of OVA Web (`contactos`).
public struct OvaWebContactMessage: Sendable, Equatable {
    public var id: Int64
    /// From `nombre`, or `nombre_completo` in databases written by the original's INSERT bug.
    public var name: String
    public var email: String
    public var subject: String
    public var message: String
    public var sentAtMilliseconds: Int64?
    public var read: Bool
    public var answered: Bool

    public init(
        id: Int64, name: String, email: String, subject: String, message: String, sentAtMilliseconds: Int64?,
        read: Bool, answered: Bool
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.subject = subject
        self.message = message
        self.sentAtMilliseconds = sentAtMilliseconds
        self.read = read
        self.answered = answered
    }
}

/// A subscriber of OVA Web (`usuarios`).
public struct OvaWebSubscriber: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var name: String
    public var active: Bool
    /// Nil when the source has no `fecha_registro` column (the original has no DDL for
    /// `usuarios`), or the value is NULL or a zero date.
    public var registeredAtMilliseconds: Int64?

    public init(id: Int64, email: String, name: String, active: Bool, registeredAtMilliseconds: Int64?) {
        self.id = id
        self.email = email
        self.name = name
        self.active = active
        self.registeredAtMilliseconds = registeredAtMilliseconds
    }
}

/// Everything an import takes from an OVA Web database, read in one go.
public struct OvaWebSnapshot: Sendable, Equatable {
    public var administrators: [OvaWebAdministrator]
    public var messages: [OvaWebContactMessage]
    public var subscribers: [OvaWebSubscriber]
    /// Rows of `sesiones_admin`, which are counted but not imported; nil when the table is absent.
    public var sessionCount: Int64?
    /// Optional tables the database does not have (`usuarios`, `sesiones_admin`).
    public var absentTables: [String]

    public init(
        administrators: [OvaWebAdministrator], messages: [OvaWebContactMessage], subscribers: [OvaWebSubscriber],
        sessionCount: Int64?, absentTables: [String]
    ) {
        self.administrators = administrators
        self.messages = messages
        self.subscribers = subscribers
        self.sessionCount = sessionCount
        self.absentTables = absentTables
    }
}

/// Why an OVA Web database could not be read.
public enum OvaWebSourceError: Error, Sendable, CustomStringConvertible {
    /// Connecting or logging in failed (the server's number tells which: 1045 access denied,
    /// 1049 unknown database, 2002/2003 nothing listening, ...).
    case connection(MariaDBError)
    /// A table every OVA Web database has is missing: probably not an OVA Web database.
    case missingTable(String)
    /// A column the import needs is missing from a table.
    case missingColumn(table: String, column: String)
    /// A query failed after connecting.
    case read(MariaDBError)

    public var description: String {
        switch self {
        case .connection(let error): return error.message
        case .missingTable(let table): return "the database has no table `\(table)`: is it an OVA Web database?"
        case .missingColumn(let table, let column): return "the table `\(table)` has no column `\(column)`"
        case .read(let error): return "reading the OVA Web database failed: \(error.message)"
        }
    }
}

/// Reads the original OVA Web backend's tables from its MySQL/MariaDB database, read-only
/// (SELECTs only; the source is never written).
///
/// Column sets are discovered through `information_schema` rather than assumed, because real
/// databases differ: the original's contact INSERT wrote `nombre_completo` where its DDL says
/// `nombre`, and `usuarios` has no DDL at all. A missing optional column reads as its default
/// (flags false, `activo` true, times nil). Times are DATETIME, which has no zone: they are
/// read as UTC.
public enum OvaWebSource {
    /// Tables every OVA Web database has (its `database.py` creates them).
    static let requiredTables = ["administradores", "contactos"]

    /// Connects with `configuration`, reads every table and disconnects. Blocking network work
    /// runs on NIO's shared thread pool, never on the caller's thread.
    public static func read(_ configuration: MariaDBConfiguration) async throws(OvaWebSourceError) -> OvaWebSnapshot {
        do {
            return try await NIOThreadPool.singleton.runIfActive { () throws -> OvaWebSnapshot in
                let connection: MariaDBConnection
                do throws(MariaDBError) {
                    connection = try MariaDBConnection(configuration)
                } catch {
                    throw OvaWebSourceError.connection(error)
                }
                do {
                    return try Self.read(from: connection)
                } catch let error as OvaWebSourceError {
                    throw error
                } catch let error as MariaDBError {
                    throw OvaWebSourceError.read(error)
                }
            }
        } catch let error as OvaWebSourceError {
            throw error
        } catch {
            throw .read(.client("\(error)"))
        }
    }

    /// Reads the snapshot over an open connection.
    static func read(from connection: MariaDBConnection) throws -> OvaWebSnapshot {
        let tables = Set(try connection.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        ).map { $0.string(0) })
        for table in Self.requiredTables where !tables.contains(table) {
            throw OvaWebSourceError.missingTable(table)
        }
        let administrators = try TableReader(table: "administradores", connection: connection).rows(
            required: [["id"], ["nombre"], ["email"], ["hashed_password"]],
            optional: [["es_superadmin"], ["activo"], ["fecha_creacion"], ["fecha_actualizacion"]]
        ) { row in
            OvaWebAdministrator(
                id: row.int64(0), name: row.string(1), email: row.string(2), passwordHash: row.string(3),
                superadmin: Self.flag(row, 4, default: false), active: Self.flag(row, 5, default: true),
                createdAtMilliseconds: Self.time(row, 6), updatedAtMilliseconds: Self.time(row, 7)
            )
        }
        let messages = try TableReader(table: "contactos", connection: connection).rows(
            required: [["id"], ["nombre", "nombre_completo"], ["email"], ["asunto"], ["mensaje"]],
            optional: [["fecha_envio"], ["leido"], ["respondido"]]
        ) { row in
            OvaWebContactMessage(
                id: row.int64(0), name: row.string(1), email: row.string(2), subject: row.string(3), message: row.string(4),
                sentAtMilliseconds: Self.time(row, 5), read: Self.flag(row, 6, default: false), answered: Self.flag(row, 7, default: false)
            )
        }
        var absent: [String] = []
        var subscribers: [OvaWebSubscriber] = []
        if tables.contains("usuarios") {
            subscribers = try TableReader(table: "usuarios", connection: connection).rows(
                required: [["id"], ["email"], ["nombre"]],
                optional: [["activo"], ["fecha_registro"]]
            ) { row in
                OvaWebSubscriber(
                    id: row.int64(0), email: row.string(1), name: row.string(2), active: Self.flag(row, 3, default: true),
                    registeredAtMilliseconds: Self.time(row, 4)
                )
            }
        } else {
            absent.append("usuarios")
        }
        var sessionCount: Int64?
        if tables.contains("sesiones_admin") {
            sessionCount = try connection.query("SELECT COUNT(*) FROM `sesiones_admin`").first?.int64(0) ?? 0
        } else {
            absent.append("sesiones_admin")
        }
        return OvaWebSnapshot(
            administrators: administrators, messages: messages, subscribers: subscribers,
            sessionCount: sessionCount, absentTables: absent
        )
    }

    /// A BOOLEAN (TINYINT) flag; NULL or a missing column is `default`.
    static func flag(_ row: SQLRow, _ index: Int, default defaultValue: Bool) -> Bool {
        switch row.values[index] {
        case .integer(let value): return value != 0
        case .text(let text): return !["", "0", "false", "f", "no", "n"].contains(text.lowercased())
        case .null: return defaultValue
        }
    }

    /// A DATETIME read as UTC; nil for NULL, a missing column, a zero date or text that is not one.
    static func time(_ row: SQLRow, _ index: Int) -> Int64? {
        row.optionalString(index).flatMap(NaiveDateTime.utcMilliseconds)
    }
}

/// Selects chosen columns of one source table, in id order, naming a missing required one.
private struct TableReader {
    let table: String
    let connection: MariaDBConnection

    /// `required` and `optional` list each column's accepted names, the first found winning;
    /// a missing optional column is selected as NULL. `make` reads the columns in that order.
    func rows<T>(required: [[String]], optional: [[String]], _ make: (SQLRow) -> T) throws -> [T] {
        let present = Set(try self.connection.query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            [.text(self.table)]
        ).map { $0.string(0).lowercased() })
        var selected: [String] = []
        for names in required {
            guard let name = names.first(where: present.contains) else {
                throw OvaWebSourceError.missingColumn(table: self.table, column: names.joined(separator: "` or `"))
            }
            selected.append("`\(name)`")
        }
        for names in optional {
            selected.append(names.first(where: present.contains).map { "`\($0)`" } ?? "NULL")
        }
        // Names come from the lists above, never from the source: nothing to escape.
        let sql = "SELECT \(selected.joined(separator: ", ")) FROM `\(self.table)` ORDER BY `\(required[0][0])`"
        return try self.connection.query(sql).map(make)
    }
}

/// MySQL's DATETIME text (`2024-05-01 10:20:30`, optionally with a fraction), which has no zone.
enum NaiveDateTime {
    /// Unix milliseconds of the text read as UTC; nil for a zero date or anything else.
    static func utcMilliseconds(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-")
        let timeAndFraction = parts[1].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let time = timeAndFraction[0].split(separator: ":", omittingEmptySubsequences: false)
        guard date.count == 3, time.count == 3,
              let year = Int64(date[0]), let month = Int64(date[1]), let day = Int64(date[2]),
              let hour = Int64(time[0]), let minute = Int64(time[1]), let second = Int64(time[2]),
              (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else {
            return nil
        }
        var milliseconds: Int64 = 0
        if timeAndFraction.count == 2 {
            let fraction = timeAndFraction[1]
            guard !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = String(fraction.prefix(3))
            milliseconds = (Int64(digits) ?? 0) * [100, 10, 1][digits.count - 1]
        }
        let days = self.daysFromCivil(year: year, month: month, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milliseconds
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}
