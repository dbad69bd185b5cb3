import Foundation
import Logging

extension ServerConfiguration {
    /// One setting, declared once: its names, where its value goes, how it is parsed, its
    /// documentation. Everything else (loading, flags, `--help`, the startup summary, the
    /// docs and `.env.example`) is derived from these declarations.
    public struct Setting: Sendable {
        /// The part of the configuration a setting belongs to (the headings of the docs).
        public enum Group: String, Sendable, CaseIterable {
            case general, transport, tls, storage, auth, providers, logging

            public var title: String {
                switch self {
                case .general: return "General"
                case .transport: return "Transport"
                case .tls: return "TLS"
                case .storage: return "Storage"
                case .auth: return "Accounts and tokens"
                case .providers: return "Providers"
                case .logging: return "Logging"
                }
            }
        }

        /// Whether the server acts on a setting yet.
        public enum Availability: Sendable, Equatable {
            case available
            /// Accepted, but a startup warning says it has no effect yet, and why.
            case notUsedYet(String)
            /// Setting it stops the server with this reason: running without what it asks
            /// for would mislead the operator.
            case refused(String)
        }

        /// The environment variable, also the key in `overrides`.
        public let name: String
        /// Other accepted variable names (lower precedence than `name` within one source).
        public let aliases: [String]
        public let group: Group
        /// One paragraph of Markdown for the docs, `--help` and `.env.example`.
        public let doc: String
        /// Secret values are never logged or echoed in errors, and cannot be given as flags
        /// (a command line is visible to every local user).
        public let isSecret: Bool
        public let availability: Availability
        /// The default as it would be written in the environment, rendered from
        /// ``ServerConfiguration/defaults``; nil when unset by default.
        public let defaultText: String?
        let apply: @Sendable (_ config: inout ServerConfiguration, _ text: String, _ variable: String, _ context: LoadContext) throws(ConfigurationError) -> Void
        /// The effective value as text; nil when unset.
        let display: @Sendable (ServerConfiguration) -> String?

        init<Value>(
            _ name: String,
            aliases: [String] = [],
            _ keyPath: any WritableKeyPath<ServerConfiguration, Value> & Sendable,
            _ parser: SettingParser<Value>,
            group: Group,
            secret: Bool = false,
            availability: Availability = .available,
            doc: String
        ) {
            self.name = name
            self.aliases = aliases
            self.group = group
            self.doc = doc
            self.isSecret = secret
            self.availability = availability
            self.defaultText = parser.format(ServerConfiguration.defaults[keyPath: keyPath])
            self.apply = { config, text, variable, context throws(ConfigurationError) in
                do throws(ConfigurationError) {
                    config[keyPath: keyPath] = try parser.parse(text, variable, context)
                } catch where secret {
                    // Parsers quote the value they reject; a secret's value must not reach the log.
                    let prefix = "\(variable)=\(ConfigurationError.quoted(text)): "
                    let expected = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : "invalid value"
                    throw .invalidValue(variable: variable, value: text, expected: expected, secret: true)
                }
            }
            self.display = { parser.format($0[keyPath: keyPath]) }
        }

        /// The long command line flag for this setting: `OVA_TLS_CERT` → `tls-cert`.
        public var flagName: String {
            let base = name.hasPrefix("OVA_") ? String(name.dropFirst(4)) : name
            return base.lowercased().replacingOccurrences(of: "_", with: "-")
        }

        /// Whether `--<flagName>` is accepted (secrets are not).
        public var hasFlag: Bool { !isSecret }

        /// The names this setting is read from, primary first.
        public var names: [String] { [name] + aliases }
    }

    /// The setting with this variable name (or alias), if any.
    public static func setting(named name: String) -> Setting? {
        settings.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The setting whose flag is `--flag`, if any.
    public static func setting(flag: String) -> Setting? {
        settings.first { $0.hasFlag && $0.flagName == flag }
    }

    /// Every setting, grouped, in documentation order.
    public static let settings: [Setting] = [
        // MARK: General
        Setting(
            "ENVIRONMENT", \.environment, .environment, group: .general,
            doc: "`development` or `production` (also `dev` / `prod`, any case). Production requires `OVA_TLS_CERT`, "
                + "`OVA_TLS_KEY` and `JWT_SECRET_KEY`; development generates a self-signed certificate and a signing key "
                + "when none is configured. See [Development and production](#development-and-production)."
        ),
        Setting(
            "OVA_ENV_FILE", \.environmentFile, .file, group: .general,
            doc: "A dotenv file read at startup (a missing one is an error), after `.env` in the working directory (read "
                + "when it exists): its values win over `.env`'s, real environment variables and flags win over both. See "
                + "[`.env` files](#env-files)."
        ),

        // MARK: Transport
        Setting(
            "OVA_LISTEN", \.transport.listen, .listenAddress, group: .transport,
            doc: "Address to listen on: `host:port`, `[ipv6]:port` (e.g. `[::1]:7443`), or `:port` for all IPv4 "
                + "interfaces (`0.0.0.0`). The port must be 0-65535; `0` asks the OS for a free port (used by tests). "
                + "IPv6 addresses must be in brackets."
        ),
        Setting(
            "OVA_MAX_CONCURRENT_STREAMS", \.transport.maxConcurrentStreams, .integer(1...1_000_000), group: .transport,
            doc: "Maximum concurrent calls on one connection, 1-1000000."
        ),
        Setting(
            "OVA_MAX_MESSAGE_BYTES", \.transport.maxMessageBytes, .byteCount(1024...(64 << 20)), group: .transport,
            doc: "Largest accepted message in bytes, 1024-67108864 (1 KiB-64 MiB). `KiB` and `MiB` suffixes are accepted: `16MiB`."
        ),
        Setting(
            "OVA_MAX_CONNECTION_BUFFER", \.transport.maxConnectionBufferBytes, .byteCount((64 << 10)...(1 << 30)), group: .transport,
            doc: "Bytes the calls of one connection may queue for sending before their writes wait, 65536-1073741824 "
                + "(64 KiB-1 GiB; `KiB`/`MiB` suffixes accepted): what the server holds for a client that does not read, "
                + "whatever flow-control windows it advertised (PROTOCOL.md §13)."
        ),
        Setting(
            "OVA_MAX_CONNECTIONS", \.transport.maxConnections, .integer(1...1_000_000), group: .transport,
            doc: "Maximum simultaneously open client connections, 1-1000000; further connections are refused."
        ),
        Setting(
            "OVA_IDLE_TIMEOUT_SECONDS", \.transport.idleTimeout, .secondsOrDisabled(0...86400), group: .transport,
            doc: "Close a connection with no open call and no traffic for this many seconds. `0` disables; at most 86400."
        ),
        Setting(
            "OVA_HANDSHAKE_TIMEOUT_SECONDS", \.transport.handshakeTimeout, .seconds(0.1...300), group: .transport,
            doc: "Close a connection whose TLS handshake, preface and SETTINGS have not all arrived within this many "
                + "seconds after it was accepted (docs/PROTOCOL.md §3), 0.1-300."
        ),
        Setting(
            "OVA_WRITE_STALL_TIMEOUT_SECONDS", \.transport.writeStallTimeout, .secondsOrDisabled(0...3600), group: .transport,
            doc: "Close a connection whose client has read nothing (its socket stayed full) for this many seconds, "
                + "freeing what its calls hold; `0` disables, at most 3600."
        ),
        Setting(
            "OVA_SHUTDOWN_GRACE_SECONDS", \.transport.shutdownGracePeriod, .seconds(0...3600), group: .transport,
            doc: "On SIGTERM/SIGINT, seconds to let in-flight calls finish before connections are closed, 0-3600; "
                + "a trailing `s` is allowed."
        ),
        Setting(
            "OVA_MAX_CONNECTION_AGE_SECONDS", \.transport.maxConnectionAge, .secondsOrDisabled(0...604800), group: .transport,
            doc: "Send GOAWAY on a connection once it is this many seconds old (±10 % per connection, so connections "
                + "opened together do not leave together): its client reconnects for its next calls, so long-lived "
                + "connections spread again after an instance is added behind a load balancer. `0` disables (the "
                + "default); at most 604800 (7 days)."
        ),
        Setting(
            "OVA_MAX_CONNECTION_AGE_GRACE_SECONDS", \.transport.maxConnectionAgeGrace, .seconds(0...3600), group: .transport,
            doc: "After the GOAWAY of `OVA_MAX_CONNECTION_AGE_SECONDS`, seconds the calls in flight may run before the "
                + "connection is closed under them (they then fail with UNAVAILABLE), 0-3600."
        ),
        Setting(
            "OVA_THREADS", \.transport.eventLoopThreads, .threads, group: .transport,
            doc: "Event loop threads: `auto` (the number of CPU cores) or 1-1024."
        ),
        Setting(
            "OVA_TASKS_ON_EVENT_LOOPS", \.transport.tasksOnEventLoops, .bool, group: .transport,
            doc: "Run Swift concurrency tasks (the handlers) on the event-loop threads, so a call needs no thread switch "
                + "between network I/O and its handler (measurements in PERFORMANCE.md). Handlers must never block: "
                + "blocking work (SQLite, speech engines) goes to a thread pool. `false` uses Swift's default executor."
        ),
        Setting(
            "ALLOWED_ORIGINS", \.transport.allowedOrigins, .list, group: .transport,
            availability: .notUsedYet("browsers reach OVA only when gRPC-Web lands; until then no origin is checked or allowed"),
            doc: "Comma-separated browser origins allowed to call the server (the original's CORS list)."
        ),
        Setting(
            "OVA_ADMIN_LISTEN", \.transport.adminListen, .optionalListenAddress, group: .transport,
            doc: "Address of the operators' plain-HTTP listener (`host:port`, as `OVA_LISTEN`): `GET /healthz`, `/readyz` "
                + "(503 while draining or when the database does not answer) and `/metrics` (Prometheus). Unset (the "
                + "default): no listener and no metrics kept. No TLS and no authentication: bind it to loopback "
                + "(`127.0.0.1:9090`) or a private network that only the load balancer and Prometheus reach."
        ),

        // MARK: TLS
        Setting(
            "OVA_TLS_CERT", \.tls.certificatePath, .file, group: .tls,
            doc: "PEM certificate chain, leaf first. Must be set together with `OVA_TLS_KEY`. Required in production."
        ),
        Setting(
            "OVA_TLS_KEY", \.tls.keyPath, .file, group: .tls,
            doc: "PEM private key of `OVA_TLS_CERT` (PKCS#8, SEC1 or PKCS#1). Must be set together with `OVA_TLS_CERT`. "
                + "Required in production. The server warns if the file is readable by group or others."
        ),
        Setting(
            "OVA_TLS_CLIENT_CA", \.tls.clientCAPath, .file, group: .tls,
            doc: "PEM CA bundle. When set, every client must present a certificate signed by one of these CAs (mutual "
                + "TLS); the client certificate's host name is not checked. Works in both environments."
        ),

        // MARK: Storage
        Setting(
            "OVA_DATA_DIR", \.storage.dataDirectory, .path, group: .storage,
            doc: "Directory for server state: the development certificate, the generated token signing key and the "
                + "SQLite database. Relative paths are resolved against the working directory, `~/` against `HOME`. "
                + "Created with mode `0700` if it does not exist."
        ),
        Setting(
            "OVA_DB_PATH", \.storage.databasePath, .file, group: .storage,
            doc: "The SQLite database file; default `ova.sqlite3` in `OVA_DATA_DIR`. Created on first start, opened in WAL "
                + "mode with foreign keys on, and migrated to the current schema at every start (a database written by a "
                + "newer OVA is refused). `ova-server admin create`, `admin reset-password`, `backup`, `migrate` and `import ova-web` use the same file."
        ),
        Setting(
            "DB_HOST", \.storage.mariadbHost, .text, group: .storage,
            doc: "Set, OVA keeps its data in this MariaDB (or MySQL) server instead of SQLite, as the original did in "
                + "production: a host name, an IP address, or the path of the server's unix socket (starting with `/`). "
                + "Needs `DB_USER` and `DB_NAME`; the database must exist (`CREATE DATABASE ova CHARACTER SET utf8mb4`) "
                + "and is migrated at start. If it cannot be reached, or refuses the login, the server exits naming the "
                + "setting to check: it never falls back to SQLite. See [MariaDB](#mariadb)."
        ),
        Setting(
            "DB_PORT", \.storage.mariadbPort, .integer(1...65535), group: .storage,
            doc: "The MariaDB server's TCP port, 1-65535."
        ),
        Setting(
            "DB_USER", \.storage.mariadbUser, .text, group: .storage,
            doc: "The MariaDB account OVA logs in as. It needs `SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, "
                + "DROP, REFERENCES` on `DB_NAME` (the last five for migrations)."
        ),
        Setting(
            "DB_PASSWORD", \.storage.mariadbPassword, .verbatimText, group: .storage, secret: true,
            doc: "The MariaDB account's password, taken as it is (spaces included). Prefer `DB_PASSWORD_FILE`."
        ),
        Setting(
            "DB_PASSWORD_FILE", \.storage.mariadbPasswordFile, .file, group: .storage,
            doc: "A file holding the MariaDB password (one trailing newline is dropped), read at start: keeps it out of "
                + "the environment and the process list (`/proc/PID/environ`). Not together with `DB_PASSWORD`."
        ),
        Setting(
            "DB_NAME", \.storage.mariadbDatabase, .text, group: .storage,
            doc: "The MariaDB database OVA's tables live in."
        ),
        Setting(
            "OVA_DATABASE_URL", \.storage.databaseURL, .text, group: .storage,
            doc: "The same as `DB_HOST`, `DB_PORT`, `DB_USER` and `DB_NAME` in one value: `mysql://user@host:port/database` "
                + "(also `mariadb://`; the port may be left out). A password in the URL is refused (it would show in logs "
                + "and process lists): use `DB_PASSWORD_FILE` or `DB_PASSWORD`. Not together with `DB_HOST`."
        ),
        Setting(
            "DB_SSL_MODE", \.storage.mariadbTLSMode, .databaseTLSMode, group: .storage,
            doc: "TLS to the MariaDB server: `disabled`, `preferred` (TLS when the server offers it, unverified), "
                + "`required` (TLS or no connection, unverified) or `verify-identity` (TLS with the certificate checked "
                + "against `DB_SSL_CA` or the system's roots, and its name against `DB_HOST`). A unix socket needs none."
        ),
        Setting(
            "DB_SSL_CA", \.storage.mariadbCAPath, .file, group: .storage,
            doc: "PEM file of the authorities that sign the MariaDB server's certificate, for `verify-identity`."
        ),
        Setting(
            "DB_SSL_DISABLED", \.storage.mariadbTLSDisabled, .bool, group: .storage,
            doc: "The original's switch: `true` is `DB_SSL_MODE=disabled`."
        ),
        Setting(
            "OVA_DB_POOL_SIZE", \.storage.poolSize, .integer(1...1_000), group: .storage,
            doc: "Connections to MariaDB, 1-1000: at most this many statements run at once, each on a thread of its "
                + "own. Calls beyond it wait for a free connection, up to `OVA_DB_POOL_TIMEOUT_SECONDS`. Mind the "
                + "server's `max_connections` when several ova-server share it. More connections let InnoDB commit more "
                + "writes together: under a heavy write load 64 more than doubled SendMessage's rate (docs/PERFORMANCE.md)."
        ),
        Setting(
            "OVA_DB_POOL_TIMEOUT_SECONDS", \.storage.poolTimeout, .seconds(0.001...300), group: .storage,
            doc: "How long a call waits for a free MariaDB connection before it fails with `UNAVAILABLE`, 0.001-300."
        ),
        Setting(
            "DB_CONNECT_TIMEOUT", \.storage.connectTimeout, .seconds(1...300), group: .storage,
            doc: "Seconds to connect and log in to MariaDB, 1-300 (whole seconds; the original's name)."
        ),
        Setting(
            "OVA_DB_QUERY_TIMEOUT_SECONDS", \.storage.queryTimeout, .seconds(1...3600), group: .storage,
            doc: "Seconds one read or write to the MariaDB server may take before the connection is given up and the "
                + "call fails with `UNAVAILABLE`, 1-3600 (whole seconds)."
        ),

        // MARK: Accounts and tokens
        Setting(
            "JWT_SECRET_KEY", \.auth.jwtSecret, .secretBytes, group: .auth, secret: true,
            doc: "The HMAC key that signs access tokens (HS256), as in the original. Required in production "
                + "and at least 32 bytes there (`openssl rand -base64 48`). In development, when unset, a random key is "
                + "generated once and kept in `OVA_DATA_DIR/jwt-secret` (mode `0600`), so tokens survive restarts; "
                + "delete that file to invalidate every token."
        ),
        Setting(
            "ACCESS_TOKEN_EXPIRE_MINUTES", \.auth.accessTokenLifetime, .minutes(1...1440), group: .auth,
            doc: "Lifetime of an access token and of its server-side session, 1-1440 minutes, as in the original. "
                + "`Auth/Logout`, `RevokeSession`, deactivating an account or changing the password end a session earlier."
        ),
        Setting(
            "OVA_PUBLIC_RATE_PER_MINUTE", \.auth.publicRatePerMinute, .integer(1...10_000_000), group: .auth,
            doc: "Per client address, how many contact messages (`Messages/SendMessage`), and separately how many "
                + "subscriber registrations (`Users/RegisterUser`), are accepted per minute (a token bucket with that "
                + "burst), 1-10000000. More get `RESOURCE_EXHAUSTED` with the retry delay in the error details. The "
                + "top of the range is for load tests from one address (`ova-bench --mode send-message`, see "
                + "Benchmarks/README.md): a limit of 100000 would refuse part of a 10 s run at SQLite's insert "
                + "ceiling of about 20,000 a second."
        ),

        // MARK: Providers
        Setting(
            "HF_API_KEY", aliases: ["HF_TOKEN"], \.providers.huggingFaceAPIKey, .text, group: .providers, secret: true,
            doc: "Hugging Face Inference API key; `HF_TOKEN` is accepted too, as in the original. Enables the "
                + "remote speech, vision and sign providers, and chat through the Hugging Face router when "
                + "`OVA_LLM_BASE_URL` is unset. Without it, vision and sign answer `FAILED_PRECONDITION` naming this setting."
        ),
        Setting(
            "OVA_HF_BASE_URL", \.providers.huggingFaceBaseURL, .url, group: .providers,
            doc: "Base URL of the Inference API (`http` or `https`; tests point it at a loopback fake)."
        ),
        Setting(
            "HF_MODELO_STT", \.providers.speechToTextModel, .model, group: .providers,
            doc: "Remote speech-to-text model (e.g. `openai/whisper-large-v3`). Unset: the local pocketsphinx engine "
                + "(English). When set, the local engine is the fallback for English."
        ),
        Setting(
            "HF_MODELO_TTS", \.providers.textToSpeechModel, .model, group: .providers,
            doc: "Remote text-to-speech model that returns WAV. Unset: the local espeak-ng engine. When set, espeak-ng is the fallback."
        ),
        Setting(
            "HF_MODELO_IMG", \.providers.detectionModel, .model, group: .providers,
            doc: "Object-detection model for `Vision/AnalyzeImage` (the original's default)."
        ),
        Setting(
            "HF_MODELO_CAPTION", \.providers.captionModel, .model, group: .providers,
            doc: "Image-captioning model for `Vision/AnalyzeImage` (the original's default)."
        ),
        Setting(
            "HF_MODELO_SIGN", \.providers.signModel, .model, group: .providers,
            doc: "Sign-language letter classifier (the original's default)."
        ),
        Setting(
            "OVA_LLM_BASE_URL", \.providers.llmBaseURL, .optionalURL, group: .providers,
            doc: "An OpenAI-compatible chat API, e.g. `http://127.0.0.1:8080/v1` (llama.cpp server, vLLM, Ollama, "
                + "Mistral). Unset with `HF_API_KEY` set: `https://router.huggingface.co/v1`."
        ),
        Setting(
            "OVA_LLM_API_KEY", \.providers.llmAPIKey, .text, group: .providers, secret: true,
            doc: "Key for `OVA_LLM_BASE_URL`; falls back to `HF_API_KEY`."
        ),
        Setting(
            "HF_MODELO_LLM", \.providers.llmModel, .model, group: .providers,
            doc: "Chat model name (e.g. `mistralai/Mistral-7B-Instruct-v0.3`). Unset: `Chat/Complete` and the voice "
                + "pipeline answer `FAILED_PRECONDITION` naming this setting."
        ),
        Setting(
            "OVA_PROVIDER_TIMEOUT_SECONDS", \.providers.timeout, .seconds(1...600), group: .providers,
            doc: "Overall time for one remote provider call including retries, 1-600 (the original's 60 s). A shorter "
                + "RPC deadline wins."
        ),
        Setting(
            "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS", \.providers.attemptTimeout, .secondsOrAuto(0.1...600), group: .providers,
            doc: "Time for one attempt of a remote provider call, 0.1-600 and at most `OVA_PROVIDER_TIMEOUT_SECONDS`, or "
                + "`auto` for a third of it (20 s of 60), so that a hung upstream is cut off and retried while time remains; an "
                + "attempt gets at most what remains of the overall time. For chat it bounds the wait for the first token, not "
                + "the whole answer. Out of time, a call answers `UNAVAILABLE` \"the chat provider did not answer in time (3 attempts)\"."
        ),
        Setting(
            "OVA_PROVIDER_RETRIES", \.providers.retries, .integer(0...10), group: .providers,
            doc: "Retries after a retryable failure (connect error, timeout, 429, 502/503/504, model loading), 0-10, with "
                + "exponential backoff and full jitter (the original's 3)."
        ),

        // MARK: Logging
        Setting(
            "OVA_LOG_LEVEL", aliases: ["LOG_LEVEL"], \.logging.level, .logLevel, group: .logging,
            doc: "`trace`, `debug`, `info`, `notice`, `warning` (or `warn`), `error` or `critical`. `LOG_LEVEL` is accepted "
                + "too; if both are set, `OVA_LOG_LEVEL` wins and a warning says so."
        ),
        Setting(
            "OVA_LOG_FORMAT", \.logging.format, .logFormat, group: .logging,
            doc: "`text` (human readable) or `json` (one JSON object per line)."
        ),
    ]
}
