import OvaRPC
@testable import OvaServer
import Testing

@Suite("Operator metrics")
struct OperatorMetricsTests {
    @Test("calls are counted by registered method and code; any other path is `unknown`")
    func callsByMethodAndCode() {
        let metrics = OperatorMetrics(methods: ["ova.v1.Echo/Unary", "ova.v1.Auth/Login"])
        for _ in 0..<3 {
            metrics.calls.callFinished(path: "ova.v1.Echo/Unary", code: .ok, duration: .microseconds(300))
        }
        metrics.calls.callFinished(path: "ova.v1.Echo/Unary", code: .invalidArgument, duration: .milliseconds(2))
        metrics.calls.callFinished(path: "evil/\u{1F4A5}\"label", code: .unimplemented, duration: .microseconds(50))
        let text = metrics.registry.emitToString()
        #expect(text.contains(#"ova_calls_total{method="ova.v1.Echo/Unary",code="OK"} 3"#))
        #expect(text.contains(#"ova_calls_total{method="ova.v1.Echo/Unary",code="INVALID_ARGUMENT"} 1"#))
        #expect(text.contains(#"ova_calls_total{method="unknown",code="UNIMPLEMENTED"} 1"#))
        #expect(!text.contains("evil"))
        #expect(text.contains(#"ova_call_duration_seconds_count{method="ova.v1.Echo/Unary"} 4"#))
        // 3 calls of 300 µs fall in the 500 µs bucket, not in the 250 µs one.
        #expect(text.contains(#"ova_call_duration_seconds_bucket{method="ova.v1.Echo/Unary",le="0.00025"} 0"#))
        #expect(text.contains(#"ova_call_duration_seconds_bucket{method="ova.v1.Echo/Unary",le="0.0005"} 3"#))
        // A method never called has no series.
        #expect(!text.contains("ova.v1.Auth/Login"))
        #expect(text.contains("# HELP ova_calls_total "))
    }

    @Test("two servers' metrics never mix (no global MetricsSystem)")
    func registriesAreSeparate() {
        let first = OperatorMetrics(methods: ["ova.v1.Echo/Unary"])
        let second = OperatorMetrics(methods: ["ova.v1.Echo/Unary"])
        first.calls.callFinished(path: "ova.v1.Echo/Unary", code: .ok, duration: .microseconds(100))
        #expect(first.registry.emitToString().contains(#"ova_calls_total{method="ova.v1.Echo/Unary",code="OK"} 1"#))
        #expect(!second.registry.emitToString().contains("ova_calls_total{"))
    }
}
