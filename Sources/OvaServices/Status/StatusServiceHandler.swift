import OvaProto
import OvaRPC
import OvaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Filled in once the server exists (the registry is built before it).
public final class ServerMetricsReference: Sendable {
    private let metrics = Mutex<ServerMetrics?>(nil)

    public init() {}

    public func set(_ metrics: ServerMetrics) {
        self.metrics.withLock { $0 = metrics }
    }

    var current: ServerMetrics? {
        self.metrics.withLock { $0 }
    }
}

/// `ova.v1.Status`: the server, its database and every provider (the original's `/status`
/// and `/resilience` endpoints).
public struct StatusServiceHandler: StatusHandler {
    let version: String
    let environment: String
    let startedAtUnixMilliseconds: Int64
    let database: Database
    let monitor: any ProviderMonitor
    let metrics: ServerMetricsReference

    public init(version: String, environment: String, database: Database, monitor: any ProviderMonitor, metrics: ServerMetricsReference) {
        self.version = version
        self.environment = environment
        self.startedAtUnixMilliseconds = StoreClock.nowMilliseconds()
        self.database = database
        self.monitor = monitor
        self.metrics = metrics
    }

    public func getStatus(request: GetStatusRequest, context: ServerContext) async throws -> ServerStatus {
        _ = try context.requireAdmin()
        var status = ServerStatus()
        status.version = self.version
        status.environment = self.environment
        status.startedAtUnixMs = UInt64(self.startedAtUnixMilliseconds)
        status.uptimeMs = UInt64(max(0, StoreClock.nowMilliseconds() - self.startedAtUnixMilliseconds))
        status.system = Self.systemStatus()
        var database = DatabaseStatus()
        database.backend = self.database.backendName
        database.serverVersion = self.database.serverVersion
        do {
            let latency = try await self.database.ping()
            database.up = true
            database.latencyUs = UInt64(latency.components.seconds) * 1_000_000 + UInt64(latency.components.attoseconds / 1_000_000_000_000)
        } catch {
            database.up = false
            database.error = Self.databaseFailureText(error, location: self.database.location)
            context.logger.warning("database ping failed", metadata: ["cause": "\(error)"])
        }
        // Read after the ping, which itself took a connection and gave it back.
        let pool = self.database.poolStatus
        database.poolSize = UInt32(clamping: pool.size)
        database.poolInUse = UInt32(clamping: pool.inUse)
        database.poolIdle = UInt32(clamping: pool.idle)
        database.poolWaiting = UInt32(clamping: pool.waiting)
        status.database = database
        status.providers = self.monitor.providers().map(Self.providerStatus)
        if let metrics = self.metrics.current {
            status.openConnections = UInt32(clamping: metrics.openConnections)
            status.activeCalls = UInt32(clamping: metrics.activeCalls)
        }
        return status
    }

    /// Sends every provider's current status, then each state change as it happens.
    public func watchProviders(request: WatchProvidersRequest, responses: RPCResponseWriter<ProviderStatus>, context: ServerContext) async throws {
        _ = try context.requireAdmin()
        let changes = self.monitor.stateChanges()
        for provider in self.monitor.providers() {
            try await responses.write(Self.providerStatus(provider))
        }
        for await change in changes {
            try Task.checkCancellation()
            try await responses.write(Self.providerStatus(change))
        }
    }

    public func resetCircuitBreaker(request: ResetCircuitBreakerRequest, context: ServerContext) async throws -> ProviderStatus {
        _ = try context.requireSuperadmin(for: "resetting a circuit breaker")
        guard let provider = self.monitor.resetCircuitBreaker(request.provider) else {
            let known = self.monitor.providers().map(\.name).joined(separator: ", ")
            throw RPCError(code: .notFound, message: "provider '\(request.provider)' not found; known: \(known)")
        }
        return Self.providerStatus(provider)
    }

    static func providerStatus(_ health: ProviderHealth) -> ProviderStatus {
        var status = ProviderStatus()
        status.name = health.name
        status.capability = health.capability
        status.configured = health.configured
        switch health.circuitState {
        case .closed: status.circuitState = .closed
        case .open: status.circuitState = .open
        case .halfOpen: status.circuitState = .halfOpen
        case .notApplicable: status.circuitState = .unspecified
        }
        status.errorRate = health.errorRate
        status.p50LatencyMs = health.p50LatencyMilliseconds
        status.p99LatencyMs = health.p99LatencyMilliseconds
        status.callsTotal = health.callsTotal
        status.failuresTotal = health.failuresTotal
        status.stateChangedAtUnixMs = health.stateChangedAtUnixMilliseconds
        status.retryAfterMs = health.retryAfterMilliseconds
        status.lastError = health.lastError
        return status
    }

    /// What an administrator sees of a failed ping: the store's own text (SQLite's message, e.g.
    /// "database is locked"), with the database file's path replaced and control characters
    /// dropped, at most 200 characters. GetStatus needs an administrator's token; SQLite's
    /// messages hold no credentials.
    static func databaseFailureText(_ error: any Error, location: Database.Location) -> String {
        var text = (error as? StoreError)?.description ?? "\(error)"
        if case .file(let path) = location, !path.isEmpty {
            text = text.replacing(path, with: "<database file>")
        }
        var result = String(text.unicodeScalars.filter { $0.properties.generalCategory != .control })
        if result.count > 200 {
            result = String(result.prefix(199)) + "…"
        }
        return result
    }

    static func systemStatus() -> SystemStatus {
        var system = SystemStatus()
        var name = utsname()
        uname(&name)
        let sysname = withUnsafeBytes(of: &name.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        system.platform = "\(sysname) \(machine)"
        system.cpuCount = UInt32(clamping: sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var loads = [Double](repeating: 0, count: 3)
        if getloadavg(&loads, 3) > 0 { system.loadAverage1m = loads[0] }
        // statm: size resident shared … in pages.
        if let statm = Self.readSmallFile("/proc/self/statm"),
           let resident = statm.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) {
            system.residentMemoryBytes = resident * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        }
        return system
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
