// The report every load tool of this repository prints: ova-bench here, grpc-bench
// (Benchmarks/grpc-compare) and bare-echo-bench (Benchmarks/bare-echo) through a path
// dependency. Benchmarks/compare.sh reads their JSON lines as one format, so the format lives
// in one place.
import Foundation
import Histogram
import OvaJSONEscaping

/// What one load run measured: completions inside the measured window, their latency in
/// microseconds, and failures counted by status name.
public struct LoadResult: Sendable {
    public var calls = 0
    public var messages = 0
    public var bytes = 0
    /// Length of the measured window.
    public var seconds = 0.0
    public var latency = LoadResult.makeLatencyHistogram()
    /// Failures by status name (`UNAVAILABLE`, ..., or a tool's own `CLIENT_*` names).
    public var errors: [String: Int] = [:]
    /// Connections held open (idle mode).
    public var held = 0
    /// True when no connection could be opened, so nothing ran.
    public var failedToStart = false
    public var startError: String?

    public init() {}

    /// Microseconds from 1 µs to 120 s at 3 significant digits, as every tool records them.
    public static func makeLatencyHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }
}

/// Formats a ``LoadResult`` and the settings of its run as text for people or as one JSON
/// object (the `--json` line `compare.sh` reads).
public struct LoadReport {
    public let tool: String
    public let mode: String
    /// Idle mode reports connections held instead of rates and latency.
    public let isIdle: Bool
    public let connections: Int
    public let concurrency: Int
    public let payload: Int
    /// Open-loop arrival rate in calls/s; 0 for a closed loop.
    public let rate: Double
    public let result: LoadResult

    public init(
        tool: String,
        mode: String,
        isIdle: Bool = false,
        connections: Int,
        concurrency: Int,
        payload: Int,
        rate: Double = 0,
        result: LoadResult
    ) {
        self.tool = tool
        self.mode = mode
        self.isIdle = isIdle
        self.connections = connections
        self.concurrency = concurrency
        self.payload = payload
        self.rate = rate
        self.result = result
    }

    private var seconds: Double { max(self.result.seconds, 1e-9) }

    private var percentiles: [(String, UInt64)] {
        guard self.result.latency.totalCount > 0 else { return [] }
        return [
            ("p50", self.result.latency.valueAtPercentile(50)),
            ("p90", self.result.latency.valueAtPercentile(90)),
            ("p99", self.result.latency.valueAtPercentile(99)),
            ("p999", self.result.latency.valueAtPercentile(99.9)),
            ("max", self.result.latency.max),
        ]
    }

    public func json() -> String {
        var fields: [String] = [
            "\"tool\":\(JSONString.quoted(self.tool))",
            "\"mode\":\(JSONString.quoted(self.mode))",
            "\"connections\":\(self.connections)",
        ]
        if self.isIdle {
            fields.append("\"held\":\(self.result.held)")
        } else {
            fields += [
                "\"concurrency\":\(self.concurrency)",
                "\"payload_bytes\":\(self.payload)",
                "\"duration_s\":\(Self.number(self.result.seconds))",
                "\"calls\":\(self.result.calls)",
                "\"messages\":\(self.result.messages)",
                "\"bytes\":\(self.result.bytes)",
                "\"calls_per_s\":\(Self.number(Double(self.result.calls) / self.seconds))",
                "\"messages_per_s\":\(Self.number(Double(self.result.messages) / self.seconds))",
                "\"mb_per_s\":\(Self.number(Double(self.result.bytes) / self.seconds / 1e6))",
                "\"latency_us\":{\(self.percentiles.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ","))}",
            ]
            if self.rate > 0 { fields.append("\"rate\":\(Self.number(self.rate))") }
        }
        let errors = self.result.errors.sorted { $0.key < $1.key }.map { "\(JSONString.quoted($0.key)):\($0.value)" }
        fields.append("\"errors\":{\(errors.joined(separator: ","))}")
        if let error = self.result.startError {
            fields.append("\"start_error\":\(JSONString.quoted(error))")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    public func text() -> String {
        if let error = self.result.startError, self.result.failedToStart {
            return "\(self.tool): could not connect: \(error)"
        }
        var lines: [String] = []
        if self.isIdle {
            lines.append("idle: held \(self.result.held) of \(self.connections) connections")
        } else {
            lines.append("mode \(self.mode), \(self.connections) connection(s), concurrency \(self.concurrency), payload \(self.payload) B, \(String(format: "%.2f", self.result.seconds)) s measured")
            lines.append(String(format: "calls     %10d  %12.1f /s", self.result.calls, Double(self.result.calls) / self.seconds))
            lines.append(String(format: "messages  %10d  %12.1f /s", self.result.messages, Double(self.result.messages) / self.seconds))
            lines.append(String(format: "bytes     %10d  %12.2f MB/s", self.result.bytes, Double(self.result.bytes) / self.seconds / 1e6))
            if !self.percentiles.isEmpty {
                lines.append("latency µs " + self.percentiles.map { "\($0.0) \($0.1)" }.joined(separator: "  "))
            }
        }
        if self.result.errors.isEmpty {
            lines.append("errors    none")
        } else {
            lines.append("errors    " + self.result.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    private static func number(_ value: Double) -> String {
        value.isFinite ? String(format: "%.3f", value) : "0"
    }
}
