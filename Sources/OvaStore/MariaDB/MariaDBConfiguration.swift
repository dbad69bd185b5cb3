/// Where and as whom a MariaDB connection logs in, and how long any one wait may last.
///
/// Printing it (`description`, `debugDescription`, `dump`, string interpolation) shows the
/// endpoint, the user and the database, never the password.
public struct MariaDBConfiguration: Sendable, Equatable {
    /// How the server is reached.
    public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
        /// TCP, also for `localhost` (Connector/C would otherwise take `localhost` to mean its
        /// default unix socket).
        case tcp(host: String, port: Int)
        /// A unix socket on this machine.
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixSocket(let path): return "unix:\(path)"
            }
        }
    }

    /// Whether, and how strictly, the connection to the server is encrypted (`DB_SSL_MODE`).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP, even if the server offers TLS.
        case disabled
        /// TLS when the server offers it, unverified; plain otherwise (the default of the
        /// `mariadb` client, and what protects against passive listeners only).
        case preferred
        /// TLS or no connection; the certificate is not verified.
        case required
        /// TLS with the server's certificate verified against `DB_SSL_CA` (or the system's
        /// roots) and its name against the host: what protects against an active attacker.
        case verifyIdentity = "verify-identity"
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String
    public var database: String
    /// Connecting, including the login handshake. Connector/C counts whole seconds, so every
    /// timeout is rounded up to one.
    public var connectTimeout: Duration
    /// One read from the server: bounds how long a statement's answer may take (the server's
    /// own lock wait timeout is usually shorter).
    public var readTimeout: Duration
    /// One write to the server.
    public var writeTimeout: Duration
    public var tlsMode: TLSMode
    /// A PEM file of the authorities that may sign the server's certificate (`DB_SSL_CA`).
    public var certificateAuthorityPath: String?

    public init(
        endpoint: Endpoint,
        user: String,
        password: String,
        database: String,
        connectTimeout: Duration = .seconds(5),
        readTimeout: Duration = .seconds(30),
        writeTimeout: Duration = .seconds(30),
        tlsMode: TLSMode = .preferred,
        certificateAuthorityPath: String? = nil
    ) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.tlsMode = tlsMode
        self.certificateAuthorityPath = certificateAuthorityPath
    }
}

extension MariaDBConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `'user'@host:port/database`, as the server's own messages name an account.
    public var description: String {
        "'\(self.user)'@\(self.endpoint)/\(self.database)"
    }

    public var debugDescription: String { self.description }

    /// What `dump` and reflection see: every field but the password.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": self.endpoint,
                "user": self.user,
                "password": "[redacted]",
                "database": self.database,
                "connectTimeout": self.connectTimeout,
                "readTimeout": self.readTimeout,
                "writeTimeout": self.writeTimeout,
                "tlsMode": self.tlsMode,
                "certificateAuthorityPath": self.certificateAuthorityPath as Any,
            ],
            displayStyle: .struct
        )
    }
}
