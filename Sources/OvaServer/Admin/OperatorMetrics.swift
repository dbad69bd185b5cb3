import CoreMetrics
import OvaRPC
import OvaServices
import OvaStore
import Prometheus
import Synchronization

/// The server's Prometheus metrics, in a registry of its own (never swift-metrics' global
/// `MetricsSystem`, so several servers in one test process each count their own calls).
///
/// Calls are counted as they finish (``CallMetrics``, the server's call observer). Everything
/// else already has a counter or a state somewhere (``ServerMetrics``, the database pool, the
/// providers' breakers), so it is read when Prometheus scrapes: nothing more per call.
public final class OperatorMetrics: Sendable {
    /// Where each scrape reads the server, the database and the providers.
    public struct Sources: Sendable {
        public var server: ServerMetrics
        public var database: Database
        public var providers: any ProviderMonitor

        public init(server: ServerMetrics, database: Database, providers: any ProviderMonitor) {
            self.server = server
            self.database = database
            self.providers = providers
        }
    }

    public let registry: PrometheusCollectorRegistry
    /// Give this to ``RPCServer/Configuration/callObserver``.
    public let calls: any ServerCallObserver
    private let factory: PrometheusMetricsFactory
    private let sources: Mutex<Sources?> = Mutex(nil)
    /// What the last scrape saw of monotonic values kept elsewhere, so each Prometheus counter
    /// grows by the difference; also serializes scrapes.
    private let seen = Mutex<[String: Int]>([:])

    private let openConnections: CoreMetrics.Meter
    private let activeCalls: CoreMetrics.Meter
    private let waitingWriters: CoreMetrics.Meter
    private let writerStalls: CoreMetrics.Counter
    private let bytesReceived: CoreMetrics.Counter
    private let bytesSent: CoreMetrics.Counter
    private let storeUp: CoreMetrics.Meter
    private let storePing: CoreMetrics.Timer
    private let poolSize: CoreMetrics.Meter
    private let poolInUse: CoreMetrics.Meter
    private let poolIdle: CoreMetrics.Meter
    private let poolWaiting: CoreMetrics.Meter

    /// - Parameter methods: the full names of the registered methods, the only values of the
    ///   `method` label besides `unknown`.
    public init(methods: [String]) {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        self.factory = factory
        self.calls = CallMetrics(methods: methods, registry: registry)
        let meter = { (name: String, unit: String, help: String) -> CoreMetrics.Meter in
            let descriptor = MetricNameDescriptor(namespace: "ova", metricName: name, unitName: unit, helpText: help)
            return CoreMetrics.Meter(label: descriptor.name, dimensions: [], handler: registry.makeGauge(descriptor: descriptor), factory: factory)
        }
        let counter = { (name: String, help: String) -> CoreMetrics.Counter in
            let descriptor = MetricNameDescriptor(namespace: "ova", metricName: name, unitName: "total", helpText: help)
            return CoreMetrics.Counter(label: descriptor.name, dimensions: [], handler: registry.makeCounter(descriptor: descriptor), factory: factory)
        }
        self.openConnections = meter("open_connections", "", "Client connections open now.")
        self.activeCalls = meter("active_calls", "", "Calls (streams) in progress now.")
        self.waitingWriters = meter(
            "waiting_writers", "", "Handler writes suspended now because the client does not take what they send (flow control)."
        )
        self.writerStalls = counter("writer_stalls", "Handler writes that had to wait for the client (flow-control stalls).")
        self.bytesReceived = counter("received_bytes", "Bytes read from client sockets, TLS records included.")
        self.bytesSent = counter("sent_bytes", "Bytes written to client sockets, TLS records included.")
        self.storeUp = meter("store_up", "", "1 when the database answered the last ping within 1 s, else 0.")
        let ping = MetricNameDescriptor(
            namespace: "ova", metricName: "store_ping_duration", unitName: "seconds",
            helpText: "Round trip of a database ping (SELECT 1 through the pool), per scrape and readiness check."
        )
        self.storePing = CoreMetrics.Timer(
            label: ping.name, dimensions: [],
            handler: registry.makeDurationHistogram(descriptor: ping, buckets: CallMetrics.latencyBuckets.filter { $0 <= .seconds(1) }),
            factory: factory
        )
        self.poolSize = meter("store_pool_size", "connections", "The most database connections the pool opens (1 for SQLite).")
        self.poolInUse = meter("store_pool_in_use", "connections", "Database connections running an operation now.")
        self.poolIdle = meter("store_pool_idle", "connections", "Open database connections waiting for work.")
        self.poolWaiting = meter("store_pool_waiting", "operations", "Operations waiting for a database connection now.")
    }

    /// Connects the sources once the server exists (its metrics are made with it).
    public func attach(_ sources: Sources) {
        self.sources.withLock { $0 = sources }
    }

    /// Pings the database (bounded by `timeout`) and records the result.
    func pingDatabase(timeout: Duration = .seconds(1)) async -> DatabaseProbe.Outcome {
        guard let database = self.sources.withLock({ $0?.database }) else { return .failed }
        let outcome = await DatabaseProbe(database: database, timeout: timeout).ping()
        if case .answered(let latency) = outcome {
            self.storeUp.set(1)
            self.storePing.recordNanoseconds(latency.nanoseconds)
        } else {
            self.storeUp.set(0)
        }
        return outcome
    }

    /// Reads every source, then renders the registry in the text format 0.0.4.
    public func scrape() async -> [UInt8] {
        _ = await self.pingDatabase()
        if let sources = self.sources.withLock({ $0 }) {
            self.collect(from: sources)
        }
        return self.registry.emitToBuffer()
    }

    private func collect(from sources: Sources) {
        let server = sources.server
        self.openConnections.set(server.openConnections)
        self.activeCalls.set(server.activeCalls)
        self.waitingWriters.set(server.waitingWriters)
        let pool = sources.database.poolStatus
        self.poolSize.set(pool.size)
        self.poolInUse.set(pool.inUse)
        self.poolIdle.set(pool.idle)
        self.poolWaiting.set(pool.waiting)
        let providers = sources.providers.providers()
        self.seen.withLock { seen in
            func advance(_ counter: CoreMetrics.Counter, key: String, to value: Int) {
                let last = seen[key] ?? 0
                // A source that restarted from zero (a reset breaker) counts anew.
                let delta = value >= last ? value - last : value
                if delta > 0 { counter.increment(by: delta) }
                seen[key] = value
            }
            advance(self.writerStalls, key: "writer_stalls", to: server.writerStalls)
            advance(self.bytesReceived, key: "received_bytes", to: server.bytesReceived)
            advance(self.bytesSent, key: "sent_bytes", to: server.bytesSent)
            for provider in providers {
                let labels = [("provider", provider.name)]
                advance(self.providerCounter("calls", labels, Self.providerCallsHelp), key: "calls/\(provider.name)", to: Int(clamping: provider.callsTotal))
                advance(self.providerCounter("failures", labels, Self.providerFailuresHelp), key: "failures/\(provider.name)", to: Int(clamping: provider.failuresTotal))
                guard provider.circuitState != .notApplicable else { continue }
                for (state, name) in [(ProviderHealth.CircuitState.closed, "closed"), (.halfOpen, "half_open"), (.open, "open")] {
                    let descriptor = MetricNameDescriptor(namespace: "ova", metricName: "provider_circuit", unitName: "state", helpText: Self.circuitHelp)
                    let dimensions = [("provider", provider.name), ("state", name)]
                    let gauge = self.registry.makeGauge(descriptor: descriptor, labels: dimensions)
                    CoreMetrics.Meter(label: descriptor.name, dimensions: dimensions, handler: gauge, factory: self.factory).set(provider.circuitState == state ? 1 : 0)
                }
            }
        }
    }

    private static let providerCallsHelp = "Calls to a remote provider (Hugging Face, the chat API), retries included."
    private static let providerFailuresHelp = "Failed calls to a remote provider."
    private static let circuitHelp = "1 for the state a provider's circuit breaker is in (closed, half_open, open), 0 for the others."

    /// The registry returns the existing series for the same name and labels.
    private func providerCounter(_ name: String, _ labels: [(String, String)], _ help: String) -> CoreMetrics.Counter {
        let descriptor = MetricNameDescriptor(namespace: "ova", metricName: "provider_\(name)", unitName: "total", helpText: help)
        return CoreMetrics.Counter(label: descriptor.name, dimensions: labels, handler: self.registry.makeCounter(descriptor: descriptor, labels: labels), factory: self.factory)
    }
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole + attoseconds / 1_000_000_000
    }
}
