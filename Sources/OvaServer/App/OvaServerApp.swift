import Dispatch
import Logging
import NIOCore
import NIOPosix
import OvaProto
import OvaRPC
import OvaAuth
import OvaServices

#if canImport(Glibc)
import Glibc
#endif

/// Assembles and runs the OVA server from a ``ServerConfiguration``.
public enum OvaServerApp {
    /// A started server and what its owner needs to stop it.
    public struct Running: Sendable {
        public let server: RPCServer
        public let address: SocketAddress
        public let services: ServiceRegistry
        public let accounts: AccountServices
        public let multimodal: MultimodalServices
        public let tls: TLSMaterial
        /// The health and metrics listener (`OVA_ADMIN_LISTEN`); nil when off.
        public let admin: AdminListener?
        /// The Prometheus metrics; nil when the admin listener is off.
        public let operatorMetrics: OperatorMetrics?

        /// NOT_SERVING to health watchers, then GOAWAY and drain.
        public func beginGracefulShutdown() {
            self.services.health.setAll(.notServing)
            // Watch streams never end by themselves; end them so draining can finish.
            self.accounts.broadcaster.finishAll()
            self.multimodal.providers.finishWatchers()
            self.server.beginGracefulShutdown()
        }

        /// Waits for the server to stop, then closes the admin listener (which answers 503 on
        /// `/readyz` while the server drains) and the database.
        public func waitUntilStopped() async {
            await self.server.waitUntilStopped()
            await self.admin?.close()
            await self.accounts.close()
        }
    }

    /// Resolves TLS material, opens the database, builds the services and starts listening.
    ///
    /// - Parameter passwordHasher: tests pass a cheaper one; nil is bcrypt at cost 12.
    /// - Throws: ``ConfigurationError`` for bad TLS files or settings; ``StoreError`` when the
    ///   database cannot be opened; bind errors.
    public static func start(
        configuration: ServerConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        passwordHasher: PasswordHasher? = nil
    ) async throws -> Running {
        let tls = try TLSMaterial.resolve(configuration: configuration, logger: logger)
        var rpcConfiguration = RPCServer.Configuration(
            host: configuration.transport.listen.host,
            port: configuration.transport.listen.port,
            tls: try tls.makeServerTLSConfiguration()
        )
        rpcConfiguration.limits = configuration.transport.connectionLimits
        rpcConfiguration.maxConnections = configuration.transport.maxConnections
        rpcConfiguration.shutdownGracePeriod = TimeAmount(configuration.transport.shutdownGracePeriod)
        let accounts = try await AccountServices.open(configuration: configuration, logger: logger, passwordHasher: passwordHasher)
        let multimodal = await MultimodalServices.start(configuration: configuration, logger: logger)
        let services = ServiceRegistry(accounts: accounts, multimodal: multimodal, configuration: configuration)
        var operatorMetrics: OperatorMetrics?
        if configuration.transport.adminListen != nil {
            let metrics = OperatorMetrics(methods: services.router.registeredMethods.map(\.path))
            rpcConfiguration.callObserver = metrics.calls
            rpcConfiguration.countsBytes = true
            operatorMetrics = metrics
        }
        let server = RPCServer(
            configuration: rpcConfiguration,
            router: services.router,
            interceptors: services.interceptors,
            logger: logger,
            eventLoopGroup: eventLoopGroup
        )
        let address: SocketAddress
        do {
            address = try await server.start()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES {
            await accounts.close()
            let listen = configuration.transport.listen.description
            let reason = error.errnoCode == EADDRINUSE
                ? "the address is already in use (another ova-server?)"
                : "permission denied (ports below 1024 need privileges)"
            throw ConfigurationError(
                kind: .invalidValue, variable: "OVA_LISTEN", value: listen,
                message: "cannot listen on \(listen): \(reason); choose another address with OVA_LISTEN or --listen"
            )
        } catch {
            await accounts.close()
            throw error
        }
        multimodal.metrics.set(server.metrics)
        var admin: AdminListener?
        if let listen = configuration.transport.adminListen, let operatorMetrics {
            operatorMetrics.attach(.init(server: server.metrics, database: accounts.store.database, providers: multimodal.providers))
            do {
                admin = try await AdminListener.start(
                    host: listen.host, port: listen.port,
                    endpoints: .serving(server: server, metrics: operatorMetrics, logger: logger),
                    logger: logger, eventLoopGroup: eventLoopGroup
                )
            } catch {
                await server.shutdownGracefully()
                await accounts.close()
                if let error = error as? IOError, error.errnoCode == EADDRINUSE || error.errnoCode == EACCES {
                    let reason = error.errnoCode == EADDRINUSE ? "the address is already in use" : "permission denied (ports below 1024 need privileges)"
                    throw ConfigurationError(
                        kind: .invalidValue, variable: "OVA_ADMIN_LISTEN", value: listen.description,
                        message: "cannot listen on \(listen) for the admin endpoints: \(reason); choose another address with OVA_ADMIN_LISTEN"
                    )
                }
                throw error
            }
        }
        return Running(
            server: server, address: address, services: services, accounts: accounts, multimodal: multimodal, tls: tls,
            admin: admin, operatorMetrics: operatorMetrics
        )
    }

    /// The effective configuration at info level, one line per group; secrets only as set/unset.
    static func logSummary(of configuration: ServerConfiguration, to logger: Logger) {
        let summary = configuration.redactedSummary()
        for group in ServerConfiguration.Setting.Group.allCases {
            let entries = zip(ServerConfiguration.settings, summary).filter { $0.0.group == group }.map { "\($0.1.key)=\($0.1.value)" }
            logger.info("configuration \(group.rawValue): \(entries.joined(separator: " "))")
        }
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully (a second signal exits at once).
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws {
        let group: MultiThreadedEventLoopGroup
        let ownsGroup: Bool
        let threads = configuration.transport.eventLoopThreads.resolved
        if configuration.transport.tasksOnEventLoops {
            // Tasks resumed by the event loop then continue on it: no hop to another thread and
            // back per call (the largest cost of an async handler; see docs/PERFORMANCE.md).
            NIOSingletons.groupLoopCountSuggestion = threads
            if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
                logger.warning("could not run tasks on the event loops (OVA_TASKS_ON_EVENT_LOOPS); using the default executor")
            }
            group = MultiThreadedEventLoopGroup.singleton
            ownsGroup = false
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            ownsGroup = true
        }
        self.logSummary(of: configuration, to: logger)
        let running = try await self.start(configuration: configuration, logger: logger, eventLoopGroup: group)
        if running.tls.isDevelopmentCertificate {
            logger.notice(
                "using the development TLS certificate (clients: --ca \(running.tls.certificatePath) or --insecure)",
                metadata: ["certificate": "\(running.tls.certificatePath)", "sha256": "\(running.tls.fingerprint)"]
            )
        }
        if let admin = running.admin {
            logger.notice("admin endpoints listening (plain HTTP: /healthz /readyz /metrics)", metadata: ["address": "\(admin.address)"])
        }
        let methods = running.services.router.registeredMethods
        logger.notice(
            "ova-server listening",
            metadata: [
                "address": "\(running.address)",
                "environment": "\(configuration.environment.rawValue)",
                "services": "\(Set(methods.map(\.service)).count)",
                "methods": "\(methods.count)",
            ]
        )
        if (try? await running.accounts.store.admins.count()) == 0 {
            logger.notice(
                "no administrator exists yet: create the first superadmin with `ova-server admin create --email you@example.com --name 'Your Name' --password-stdin`"
            )
        }
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { signal, count in
            if count == 1 {
                logger.notice("received signal \(signal): shutting down gracefully (again to force)")
                running.beginGracefulShutdown()
            } else {
                logger.warning("received signal \(signal) again: exiting now")
                exit(130)
            }
        }
        let maintenance = Task { await running.accounts.runMaintenance(logger: logger) }
        await running.server.waitUntilStopped()
        maintenance.cancel()
        await running.admin?.close()
        await running.accounts.close()
        signals.cancel()
        if ownsGroup {
            try? await group.shutdownGracefully()
        }
        logger.notice("ova-server stopped")
    }
}

/// Turns POSIX signals into callbacks on a private queue.
/// Dispatch sources are thread-safe; the array is never mutated after init.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32, Int) -> Void) {
        let queue = DispatchQueue(label: "ova.signals")
        let counter = SignalCounter()
        self.sources = signals.map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                handler(signalNumber, counter.increment())
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in self.sources { source.cancel() }
    }
}

/// Only touched on the signal queue.
private final class SignalCounter: @unchecked Sendable {
    private var count = 0

    func increment() -> Int {
        self.count += 1
        return self.count
    }
}
