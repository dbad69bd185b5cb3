import Logging
import OvaRPC
import Synchronization

extension AdminEndpoints {
    /// The endpoints of a running ova-server: ready while it is not draining and its database
    /// answers a ping within `pingTimeout`; metrics from `metrics`.
    static func serving(server: RPCServer, metrics: OperatorMetrics, logger: Logger, pingTimeout: Duration = .seconds(1)) -> AdminEndpoints {
        let transitions = ReadinessLog(logger: logger)
        return AdminEndpoints(
            readiness: {
                let readiness = await Self.readiness(server: server, metrics: metrics, pingTimeout: pingTimeout)
                transitions.record(readiness)
                return readiness
            },
            metrics: { await metrics.scrape() }
        )
    }

    private static func readiness(server: RPCServer, metrics: OperatorMetrics, pingTimeout: Duration) async -> Readiness {
        if server.isDraining {
            return Readiness(isReady: false, reason: "draining (shutting down gracefully)")
        }
        switch await metrics.pingDatabase(timeout: pingTimeout) {
        case .answered:
            // Shutdown may have begun during the ping.
            return server.isDraining
                ? Readiness(isReady: false, reason: "draining (shutting down gracefully)")
                : Readiness(isReady: true, reason: "")
        case .failed:
            return Readiness(isReady: false, reason: "the database ping failed (GetStatus shows why)")
        case .timedOut:
            return Readiness(isReady: false, reason: "the database did not answer within \(pingTimeout)")
        }
    }
}

/// Logs readiness when it changes, not at every probe of a load balancer.
private final class ReadinessLog: Sendable {
    private let logger: Logger
    private let wasReady = Mutex<Bool?>(nil)

    init(logger: Logger) {
        self.logger = logger
    }

    func record(_ readiness: AdminEndpoints.Readiness) {
        let changed = self.wasReady.withLock { wasReady -> Bool in
            defer { wasReady = readiness.isReady }
            return wasReady != readiness.isReady
        }
        guard changed else { return }
        if readiness.isReady {
            self.logger.info("ready (/readyz answers 200)")
        } else {
            self.logger.warning("not ready (/readyz answers 503): \(readiness.reason)")
        }
    }
}
