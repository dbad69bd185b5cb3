import OvaResilience
import Testing

@Suite("LatencyWindow")
struct LatencyWindowTests {
    @Test("nearest-rank percentiles over the held durations")
    func percentiles() {
        var window = LatencyWindow(capacity: 100)
        #expect(window.percentile(0.5) == nil)
        for milliseconds in (1...100).reversed() {
            window.add(.milliseconds(milliseconds))
        }
        #expect(window.percentile(0.5) == .milliseconds(50))
        #expect(window.percentile(0.99) == .milliseconds(99))
        #expect(window.percentile(1) == .milliseconds(100))
        #expect(window.percentile(0) == .milliseconds(1))
    }

    @Test("only the last `capacity` durations count")
    func slides() {
        var window = LatencyWindow(capacity: 3)
        for seconds in [100, 1, 2, 3] {
            window.add(.seconds(seconds))
        }
        #expect(window.count == 3)
        #expect(window.percentile(1) == .seconds(3))
        #expect(window.percentile(0.5) == .seconds(2))
        window.removeAll()
        #expect(window.count == 0)
        #expect(window.percentile(0.5) == nil)
    }
}
