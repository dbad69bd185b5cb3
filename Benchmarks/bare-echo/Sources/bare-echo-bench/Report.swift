// Same output as ova-bench's Report (Sources/ova-bench/Report.swift at the repository root),
// with "tool":"bare-echo-bench", so compare.sh can read every tool's JSON the same way.
import Foundation
import Histogram

/// Formats a run's numbers as text or one JSON object.
struct Report {
    let plan: LoadPlan
    let connections: Int
    let result: RunResult

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

    func json() -> String {
        var fields: [String] = [
            "\"tool\":\"bare-echo-bench\"",
            "\"mode\":\"\(self.plan.mode.rawValue)\"",
            "\"connections\":\(self.connections)",
            "\"concurrency\":\(self.plan.concurrency)",
            "\"payload_bytes\":\(self.plan.payload)",
            "\"duration_s\":\(Self.number(self.result.seconds))",
            "\"calls\":\(self.result.calls)",
            "\"messages\":\(self.result.messages)",
            "\"bytes\":\(self.result.bytes)",
            "\"calls_per_s\":\(Self.number(Double(self.result.calls) / self.seconds))",
            "\"messages_per_s\":\(Self.number(Double(self.result.messages) / self.seconds))",
            "\"mb_per_s\":\(Self.number(Double(self.result.bytes) / self.seconds / 1e6))",
            "\"latency_us\":{\(self.percentiles.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ","))}",
        ]
        fields.append("\"errors\":{\(self.result.errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ","))}")
        if let error = self.result.startError {
            fields.append("\"start_error\":\"\(error.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    func text() -> String {
        if let error = self.result.startError, self.result.failedToStart {
            return "bare-echo-bench: could not connect: \(error)"
        }
        var lines: [String] = []
        lines.append("mode \(self.plan.mode.rawValue), \(self.connections) connection(s), concurrency \(self.plan.concurrency), payload \(self.plan.payload) B, \(String(format: "%.2f", self.result.seconds)) s measured")
        lines.append(String(format: "calls     %10d  %12.1f /s", self.result.calls, Double(self.result.calls) / self.seconds))
        lines.append(String(format: "messages  %10d  %12.1f /s", self.result.messages, Double(self.result.messages) / self.seconds))
        lines.append(String(format: "bytes     %10d  %12.2f MB/s", self.result.bytes, Double(self.result.bytes) / self.seconds / 1e6))
        if !self.percentiles.isEmpty {
            lines.append("latency µs " + self.percentiles.map { "\($0.0) \($0.1)" }.joined(separator: "  "))
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
