import Foundation

/// `OVA_DATABASE_URL`: `mysql://user@host:port/database` (or `mariadb://`), the four `DB_*`
/// connection settings in one value.
struct DatabaseURL: Equatable {
    var host: String
    var port: Int
    var user: String
    var database: String

    /// - Throws: ``ConfigurationError`` naming what is missing or wrong; a password in the URL is
    ///   refused (and not echoed), since the URL is logged and visible in process lists.
    static func parse(_ text: String, variable: String) throws(ConfigurationError) -> DatabaseURL {
        let expected = "expected mysql://user@host:port/database"
        guard let components = URLComponents(string: text) else {
            throw .invalidValue(variable: variable, value: text, expected: expected)
        }
        if components.password != nil {
            throw .invalidValue(
                variable: variable, value: "<redacted>",
                expected: "holds a password, which would show in logs and process lists: remove it and set DB_PASSWORD_FILE (or DB_PASSWORD)",
                secret: true
            )
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "mysql" || scheme == "mariadb" else {
            throw .invalidValue(variable: variable, value: text, expected: "\(expected) (the scheme must be mysql or mariadb)")
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw .invalidValue(variable: variable, value: text, expected: "\(expected) (the user is missing)")
        }
        guard var host = components.host, !host.isEmpty else {
            throw .invalidValue(variable: variable, value: text, expected: "\(expected) (the host is missing)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        let port = components.port ?? 3306
        guard (1...65_535).contains(port) else {
            throw .invalidValue(variable: variable, value: text, expected: "the port must be 1-65535")
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard let database = path.removingPercentEncoding, !database.isEmpty, !database.contains("/") else {
            throw .invalidValue(variable: variable, value: text, expected: "\(expected) (the database name is missing)")
        }
        guard components.query == nil, components.fragment == nil else {
            throw .invalidValue(variable: variable, value: text, expected: "\(expected) (options after ? are not supported: use the DB_* settings)")
        }
        return DatabaseURL(host: host, port: port, user: user, database: database)
    }
}
