import Foundation
import Logging
import NIOCore
import OvaProviders
import OvaResilience
import OvaRPC
import OvaStore

/// The server's settings, in typed groups (modelled on grpc-swift's transport `Config`):
/// ``transport``, ``tls``, ``storage``, ``auth``, ``providers``, ``logging``, plus the
/// ``environment`` they run in. Each group has `defaults`, taken from the runtime types the
/// values end up in (``ConnectionLimits``, ``ResiliencePolicy``, ...).
///
/// Values come from ``load(environment:overrides:)``: every setting is declared once in
/// ``settings`` (name, key path, parser, doc line, secret or not), and the loader, the
/// `ova-server serve` flags and `--help`, the startup summary, docs/CONFIGURATION.md and
/// `.env.example` are all derived from that table. Adding a setting is one stored property
/// here plus one entry there.
public struct ServerConfiguration: Sendable, Equatable {
    /// `ENVIRONMENT`: `development` (default; also `dev`) or `production` (also `prod`).
    public enum Environment: String, Sendable, Equatable, CaseIterable {
        case development
        case production
    }

    /// `OVA_LOG_FORMAT`: `text` (default) or `json`.
    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        case text
        case json
    }

    /// Where the server listens: a host (without brackets) and a port (0: any free port).
    public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
        /// `127.0.0.1`, `::1`, `0.0.0.0`, or a host name.
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with IPv6 hosts in brackets (`[::1]:7443`).
        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// How many event-loop threads to run.
    public enum EventLoopThreads: Sendable, Equatable {
        /// One per CPU core.
        case automatic
        case count(Int)

        /// The number of threads this stands for on this machine.
        public var resolved: Int {
            switch self {
            case .automatic: return max(1, ProcessInfo.processInfo.activeProcessorCount)
            case .count(let count): return count
            }
        }
    }

    /// Listening, connection limits and the threads that serve them.
    public struct Transport: Sendable, Equatable {
        /// `OVA_LISTEN`.
        public var listen: ListenAddress
        /// `OVA_MAX_CONCURRENT_STREAMS`: concurrent calls on one connection.
        public var maxConcurrentStreams: Int
        /// `OVA_MAX_MESSAGE_BYTES`: the largest message accepted.
        public var maxMessageBytes: Int
        /// `OVA_MAX_CONNECTION_BUFFER`: bytes the calls of one connection may queue for sending.
        public var maxConnectionBufferBytes: Int
        /// `OVA_MAX_CONNECTIONS`: simultaneously open connections.
        public var maxConnections: Int
        /// `OVA_IDLE_TIMEOUT_SECONDS`; nil never closes an idle connection.
        public var idleTimeout: Duration?
        /// `OVA_HANDSHAKE_TIMEOUT_SECONDS`.
        public var handshakeTimeout: Duration
        /// `OVA_WRITE_STALL_TIMEOUT_SECONDS`; nil never closes a connection that reads nothing.
        public var writeStallTimeout: Duration?
        /// `OVA_SHUTDOWN_GRACE_SECONDS`: how long in-flight calls may finish after SIGTERM.
        public var shutdownGracePeriod: Duration
        /// `OVA_MAX_CONNECTION_AGE_SECONDS`: connections older than this (±10 %) are sent
        /// GOAWAY so clients spread again over the instances; nil never.
        public var maxConnectionAge: Duration?
        /// `OVA_MAX_CONNECTION_AGE_GRACE_SECONDS`: how long calls in flight may finish after
        /// the age GOAWAY.
        public var maxConnectionAgeGrace: Duration
        /// `OVA_THREADS`.
        public var eventLoopThreads: EventLoopThreads
        /// `OVA_TASKS_ON_EVENT_LOOPS`: run Swift concurrency's tasks on the event loops (no
        /// thread hop between I/O and handlers). Handlers must then never block.
        public var tasksOnEventLoops: Bool
        /// `ALLOWED_ORIGINS`: browser origins; accepted but not used until gRPC-Web exists.
        public var allowedOrigins: [String]
        /// `OVA_ADMIN_LISTEN`: the plain-HTTP health and metrics listener; nil (the default) is off.
        public var adminListen: ListenAddress? = nil

        /// The defaults of ``ConnectionLimits`` and ``RPCServer/Configuration``.
        public static var defaults: Transport {
            let limits = ConnectionLimits()
            return Transport(
                listen: ListenAddress(host: "127.0.0.1", port: 7443),
                maxConcurrentStreams: limits.settings.maxConcurrentStreams,
                maxMessageBytes: limits.settings.maxMessageSize,
                maxConnectionBufferBytes: limits.maxConnectionBuffer,
                maxConnections: RPCServer.Configuration.defaultMaxConnections,
                idleTimeout: limits.idleTimeout.map(Duration.init),
                handshakeTimeout: Duration(limits.handshakeTimeout),
                writeStallTimeout: limits.writeStallTimeout.map(Duration.init),
                shutdownGracePeriod: Duration(RPCServer.Configuration.defaultShutdownGracePeriod),
                maxConnectionAge: limits.maxConnectionAge.map(Duration.init),
                maxConnectionAgeGrace: Duration(limits.maxConnectionAgeGrace),
                eventLoopThreads: .automatic,
                tasksOnEventLoops: true,
                allowedOrigins: []
            )
        }

        /// These limits as the RPC runtime takes them.
        public var connectionLimits: ConnectionLimits {
            var limits = ConnectionLimits()
            limits.settings.maxConcurrentStreams = maxConcurrentStreams
            limits.settings.maxMessageSize = maxMessageBytes
            limits.maxConnectionBuffer = maxConnectionBufferBytes
            limits.idleTimeout = idleTimeout.map(TimeAmount.init)
            limits.handshakeTimeout = TimeAmount(handshakeTimeout)
            limits.writeStallTimeout = writeStallTimeout.map(TimeAmount.init)
            limits.maxConnectionAge = maxConnectionAge.map(TimeAmount.init)
            limits.maxConnectionAgeGrace = TimeAmount(maxConnectionAgeGrace)
            return limits
        }
    }

    /// The server's certificate and, for mutual TLS, the clients' CA (absolute paths).
    public struct TLS: Sendable, Equatable {
        /// `OVA_TLS_CERT`: PEM certificate chain; nil uses the development certificate.
        public var certificatePath: String?
        /// `OVA_TLS_KEY`: PEM private key of ``certificatePath``.
        public var keyPath: String?
        /// `OVA_TLS_CLIENT_CA`: when set, clients must present a certificate signed by it.
        public var clientCAPath: String?

        public static var defaults: TLS { TLS(certificatePath: nil, keyPath: nil, clientCAPath: nil) }
    }

    /// Where state is kept.
    public struct Storage: Sendable, Equatable {
        /// `OVA_DATA_DIR`: absolute once loaded (the default is relative to the working directory).
        public var dataDirectory: String
        /// `OVA_DB_PATH`: the SQLite file; nil is `ova.sqlite3` in ``dataDirectory``.
        public var databasePath: String?
        /// `DB_HOST`: the MariaDB/MySQL server (a name, an address, or a unix socket's path
        /// starting with `/`). Set, OVA stores its data there instead of in SQLite.
        public var mariadbHost: String?
        /// `DB_PORT`, the original's 3306 by default.
        public var mariadbPort: Int
        /// `DB_USER`, `DB_PASSWORD` (or the file `DB_PASSWORD_FILE`), `DB_NAME`.
        public var mariadbUser: String?
        public var mariadbPassword: String?
        public var mariadbPasswordFile: String?
        public var mariadbDatabase: String?
        /// `OVA_DATABASE_URL`: `mysql://user@host:port/database`, instead of the `DB_*` above.
        public var databaseURL: String?
        /// `DB_SSL_MODE`, `DB_SSL_CA`, and the original's `DB_SSL_DISABLED`.
        public var mariadbTLSMode: MariaDBConfiguration.TLSMode
        public var mariadbCAPath: String?
        public var mariadbTLSDisabled: Bool
        /// `OVA_DB_POOL_SIZE`: connections to MariaDB (statements at once).
        public var poolSize: Int
        /// `OVA_DB_POOL_TIMEOUT_SECONDS`: how long a call waits for a free connection.
        public var poolTimeout: Duration
        /// `DB_CONNECT_TIMEOUT` (the original's name) and `OVA_DB_QUERY_TIMEOUT_SECONDS`.
        public var connectTimeout: Duration
        public var queryTimeout: Duration
        /// The MariaDB server to use, resolved from the settings above when the configuration
        /// is loaded (the password file read); nil for SQLite.
        public var mariadb: MariaDBStoreOptions?

        public static var defaults: Storage {
            let pool = MariaDBStoreOptions(connection: MariaDBConfiguration(endpoint: .tcp(host: "", port: 3306), user: "", password: "", database: ""))
            return Storage(
                dataDirectory: "./data", databasePath: nil,
                mariadbHost: nil, mariadbPort: 3306, mariadbUser: nil, mariadbPassword: nil, mariadbPasswordFile: nil,
                mariadbDatabase: nil, databaseURL: nil,
                mariadbTLSMode: pool.connection.tlsMode, mariadbCAPath: nil, mariadbTLSDisabled: false,
                poolSize: pool.poolSize, poolTimeout: pool.acquireTimeout,
                connectTimeout: pool.connection.connectTimeout, queryTimeout: pool.connection.readTimeout,
                mariadb: nil
            )
        }

        /// Where the data lives: the MariaDB server when one is configured, else the SQLite file.
        public var databaseLocation: Database.Location {
            if let mariadb { return .mariadb(mariadb) }
            return .file(self.effectiveDatabasePath)
        }

        /// ``databasePath``, or `ova.sqlite3` in the data directory.
        public var effectiveDatabasePath: String {
            databasePath ?? dataDirectory + "/ova.sqlite3"
        }
    }

    /// Access tokens and the public methods' rate limit.
    public struct Auth: Sendable, Equatable {
        /// `JWT_SECRET_KEY` as bytes; nil means "generate and persist one" (development only).
        public var jwtSecret: [UInt8]?
        /// `ACCESS_TOKEN_EXPIRE_MINUTES`: lifetime of an access token and its session.
        public var accessTokenLifetime: Duration
        /// `OVA_PUBLIC_RATE_PER_MINUTE`: contact messages, and separately subscriber
        /// registrations, accepted per client address per minute.
        public var publicRatePerMinute: Int

        /// The original's 30-minute tokens.
        public static var defaults: Auth {
            Auth(jwtSecret: nil, accessTokenLifetime: .seconds(30 * 60), publicRatePerMinute: 10)
        }
    }

    /// The remote providers: Hugging Face and an OpenAI-compatible chat API.
    public struct Providers: Sendable, Equatable {
        /// `HF_API_KEY` (or `HF_TOKEN`).
        public var huggingFaceAPIKey: String?
        /// `OVA_HF_BASE_URL`.
        public var huggingFaceBaseURL: String
        /// `HF_MODELO_STT`, `HF_MODELO_TTS`: nil uses the local engine.
        public var speechToTextModel: String?
        public var textToSpeechModel: String?
        /// `HF_MODELO_IMG`, `HF_MODELO_CAPTION`, `HF_MODELO_SIGN`.
        public var detectionModel: String?
        public var captionModel: String?
        public var signModel: String?
        /// `OVA_LLM_BASE_URL`: nil means the Hugging Face router when an API key is set.
        public var llmBaseURL: String?
        /// `OVA_LLM_API_KEY`, falling back to ``huggingFaceAPIKey``.
        public var llmAPIKey: String?
        /// `HF_MODELO_LLM`: nil means chat is not configured.
        public var llmModel: String?
        /// `OVA_PROVIDER_TIMEOUT_SECONDS`: one provider call, retries included.
        public var timeout: Duration
        /// `OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS`: one attempt of that call; nil (`auto`) means
        /// a third of ``timeout`` (see ``effectiveAttemptTimeout``).
        public var attemptTimeout: Duration?
        /// `OVA_PROVIDER_RETRIES`: retries after a retryable failure.
        public var retries: Int

        /// The defaults of ``HuggingFaceConfiguration``, ``ResiliencePolicy`` and ``RetryPolicy``;
        /// each attempt gets a third of the overall time so a hung upstream leaves time for retries.
        public static var defaults: Providers {
            let huggingFace = HuggingFaceConfiguration()
            let policy = ResiliencePolicy()
            return Providers(
                huggingFaceAPIKey: huggingFace.apiKey,
                huggingFaceBaseURL: huggingFace.baseURL,
                speechToTextModel: huggingFace.sttModel,
                textToSpeechModel: huggingFace.ttsModel,
                detectionModel: huggingFace.detectionModel,
                captionModel: huggingFace.captionModel,
                signModel: huggingFace.signModel,
                llmBaseURL: nil,
                llmAPIKey: nil,
                llmModel: nil,
                timeout: policy.overallTimeout,
                attemptTimeout: nil,
                retries: policy.retry.maxRetries
            )
        }

        /// ``attemptTimeout``, or for `auto` a third of the overall time (20 s of the default 60):
        /// whatever the overall time, a hung first attempt leaves room for two more.
        public var effectiveAttemptTimeout: Duration {
            attemptTimeout ?? timeout / 3
        }

        /// The chat API base: ``llmBaseURL``, or the Hugging Face router when only an API key is set.
        public var effectiveLLMBaseURL: String? {
            llmBaseURL ?? (huggingFaceAPIKey == nil ? nil : "https://router.huggingface.co/v1")
        }
    }

    /// What the server logs and how.
    public struct Logging: Sendable, Equatable {
        /// `OVA_LOG_LEVEL` (or `LOG_LEVEL`).
        public var level: Logger.Level
        /// `OVA_LOG_FORMAT`.
        public var format: LogFormat

        public static var defaults: Logging { Logging(level: .info, format: .text) }
    }

    public var environment: Environment
    /// `OVA_ENV_FILE`: a dotenv file read at startup in addition to `./.env` (absolute once
    /// loaded); nil when unset. ``ProcessEnvironment`` reads it; it is here to be documented.
    public var environmentFile: String?
    public var transport: Transport
    public var tls: TLS
    public var storage: Storage
    public var auth: Auth
    public var providers: Providers
    public var logging: Logging
    /// Problems that are not errors but should be visible at startup: unknown variables
    /// (usually typos), conflicting aliases, settings that have no effect yet.
    public var warnings: [String]

    public init(
        environment: Environment,
        environmentFile: String?,
        transport: Transport,
        tls: TLS,
        storage: Storage,
        auth: Auth,
        providers: Providers,
        logging: Logging
    ) {
        self.environment = environment
        self.environmentFile = environmentFile
        self.transport = transport
        self.tls = tls
        self.storage = storage
        self.auth = auth
        self.providers = providers
        self.logging = logging
        self.warnings = []
    }

    /// Every group's defaults, before any path is resolved.
    public static var defaults: ServerConfiguration {
        ServerConfiguration(
            environment: .development,
            environmentFile: nil,
            transport: .defaults,
            tls: .defaults,
            storage: .defaults,
            auth: .defaults,
            providers: .defaults,
            logging: .defaults
        )
    }

    public var isProduction: Bool { environment == .production }
}
