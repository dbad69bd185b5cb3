import CoreMetrics
import OvaRPC
import Prometheus
import Synchronization

/// Calls by method and status code, and their latency by method: the ``ServerCallObserver``
/// the server reports every finished call to.
///
/// Recorded through swift-metrics (`Counter`, `Timer`) whose handlers live in one server's
/// ``PrometheusCollectorRegistry``. A method's series appear at its first call, so a scrape
/// lists what is used rather than every method × code. The `method` label is a registered
/// method's full name (`ova.v1.Echo/Unary`) or `unknown`: paths come from clients, and an
/// unbounded label would let any client grow the server's memory and the scrape.
final class CallMetrics: ServerCallObserver {
    /// Latency buckets, in seconds: from a cached unary call on loopback (~50 µs) to a long stream.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
    static var calls: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "ova", metricName: "calls", unitName: "total",
            helpText: "Calls finished, by method and status code (calls refused before a handler ran included)."
        )
    }
    static var latency: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "ova", metricName: "call_duration", unitName: "seconds",
            helpText: "Time from a call's HEADERS frame to its status, by method."
        )
    }
    static let unknownMethod = "unknown"

    private let series: [String: MethodSeries]
    private let unknown: MethodSeries

    init(methods: [String], registry: PrometheusCollectorRegistry) {
        let factory = PrometheusMetricsFactory(registry: registry)
        var series: [String: MethodSeries] = [:]
        for method in methods {
            series[method] = MethodSeries(method: method, registry: registry, factory: factory)
        }
        self.series = series
        self.unknown = MethodSeries(method: Self.unknownMethod, registry: registry, factory: factory)
    }

    func callFinished(path: String, code: StatusCode, duration: Duration) {
        (self.series[path] ?? self.unknown).record(code: code, duration: duration)
    }
}

/// One method's counters (one per status code seen) and latency timer, made at first use.
private final class MethodSeries: Sendable {
    private struct Made {
        var timer: CoreMetrics.Timer?
        var counters = [CoreMetrics.Counter?](repeating: nil, count: 17)
    }

    private let method: String
    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let made = Mutex(Made())

    init(method: String, registry: PrometheusCollectorRegistry, factory: PrometheusMetricsFactory) {
        self.method = method
        self.registry = registry
        self.factory = factory
    }

    func record(code: StatusCode, duration: Duration) {
        let (counter, timer) = self.made.withLock { made -> (CoreMetrics.Counter, CoreMetrics.Timer) in
            let index = Int(code.rawValue)
            let counter = made.counters[index] ?? self.makeCounter(code: code)
            made.counters[index] = counter
            let timer = made.timer ?? self.makeTimer()
            made.timer = timer
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }

    private func makeCounter(code: StatusCode) -> CoreMetrics.Counter {
        let dimensions = [("method", self.method), ("code", code.name)]
        let descriptor = CallMetrics.calls
        let handler = self.registry.makeCounter(descriptor: descriptor, labels: dimensions)
        return CoreMetrics.Counter(label: descriptor.name, dimensions: dimensions, handler: handler, factory: self.factory)
    }

    private func makeTimer() -> CoreMetrics.Timer {
        let dimensions = [("method", self.method)]
        let descriptor = CallMetrics.latency
        let handler = self.registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: CallMetrics.latencyBuckets)
        return CoreMetrics.Timer(label: descriptor.name, dimensions: dimensions, handler: handler, factory: self.factory)
    }
}
