import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OvaProto
import OvaRPC
import OvaServer
import OvaTestServer
import Testing

/// The operators' listener (`OVA_ADMIN_LISTEN`) of a real ova-server: health, readiness while
/// draining, and `/metrics` as Prometheus's own `promtool` reads it.
@Suite("Admin endpoints")
struct AdminEndpointsTests {
    static let adminSettings = ["OVA_ADMIN_LISTEN": "127.0.0.1:0"]

    @Test("/metrics passes promtool and counts the calls made", arguments: TestBackend.allCases)
    func metricsPassPromtool(backend: TestBackend) async throws {
        try await withAccountsServer(Self.adminSettings, backend: backend) { server, channel in
            let echo = EchoClient(channel: channel)
            let calls = 5
            for index in 0..<calls {
                var request = EchoRequest()
                request.text = "call \(index)"
                _ = try await echo.unary(request)
            }
            let refused = await rpcError { try await AuthClient(channel: channel).whoAmI(WhoAmIRequest()) }
            #expect(refused?.code == .unauthenticated)

            let response = try await get(server, "/metrics")
            #expect(response.status == 200)
            #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
            try runPromtool(on: response.body)

            let samples = try PrometheusSamples(response.body)
            #expect(samples.value("ova_calls_total", ["method": "ova.v1.Echo/Unary", "code": "OK"]) ?? 0 >= Double(calls))
            #expect(samples.value("ova_calls_total", ["method": "ova.v1.Auth/WhoAmI", "code": "UNAUTHENTICATED"]) ?? 0 >= 1)
            #expect(samples.value("ova_call_duration_seconds_count", ["method": "ova.v1.Echo/Unary"]) ?? 0 >= Double(calls))
            #expect(samples.value("ova_open_connections", [:]) ?? 0 >= 1)
            #expect(samples.value("ova_received_bytes_total", [:]) ?? 0 > 0)
            #expect(samples.value("ova_sent_bytes_total", [:]) ?? 0 > 0)
            #expect(samples.value("ova_store_up", [:]) == 1)
            #expect(samples.value("ova_store_ping_duration_seconds_count", [:]) ?? 0 >= 1)
            #expect(samples.value("ova_store_pool_size_connections", [:]) ?? 0 >= 1)
            // Every provider is listed, whether configured or not.
            #expect(samples.names.contains("ova_provider_calls_total"))
        }
    }

    @Test("a method no server has is counted as `unknown`, not under the client's path")
    func unknownMethodsShareOneLabel() async throws {
        try await withAccountsServer(Self.adminSettings) { server, channel in
            let method = MethodDescriptor(
                service: "ova.v1.Nope", name: "Invented\(UInt32.random(in: 0...UInt32.max))", kind: .unary,
                inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse"
            )
            let failure = await rpcError { () async throws -> EchoResponse in
                try await channel.unary(method, request: EchoRequest())
            }
            #expect(failure?.code == .unimplemented)
            let samples = try PrometheusSamples(try await get(server, "/metrics").body)
            #expect(samples.value("ova_calls_total", ["method": "unknown", "code": "UNIMPLEMENTED"]) ?? 0 >= 1)
            #expect(!samples.text.contains("Invented"))
        }
    }

    @Test("/healthz and /readyz answer 200, then /readyz 503 once draining begins")
    func readinessDuringDrain() async throws {
        try await withAccountsServer(Self.adminSettings) { server, _ in
            let health = try await get(server, "/healthz")
            #expect(health.status == 200)
            #expect(health.text == "ok\n")
            let ready = try await get(server, "/readyz")
            #expect(ready.status == 200)

            server.running.beginGracefulShutdown()
            // The admin listener stays open until the server has stopped.
            let draining = try await get(server, "/readyz")
            #expect(draining.status == 503)
            #expect(draining.text.hasPrefix("not ready: draining"))
            #expect(try await get(server, "/healthz").status == 200)
        }
    }

    @Test("other paths are 404, other methods 405, large bodies 413")
    func refusals() async throws {
        try await withAccountsServer(Self.adminSettings) { server, _ in
            #expect(try await get(server, "/").status == 404)
            #expect(try await get(server, "/metrics/extra").status == 404)
            let post = try await send(server, "/metrics", method: "POST")
            #expect(post.status == 405)
            #expect(post.allow == "GET, HEAD")
            // The body limit is checked as the body arrives, before the method is.
            let large = try await send(server, "/readyz", method: "POST", body: Data(repeating: 0x61, count: 4096))
            #expect(large.status == 413)
            #expect(try await send(server, "/healthz", method: "HEAD").status == 200)
        }
    }

    @Test("the admin listener is off unless OVA_ADMIN_LISTEN is set")
    func offByDefault() async throws {
        try await withAccountsServer { server, _ in
            #expect(server.running.admin == nil)
            #expect(server.running.operatorMetrics == nil)
        }
    }
}

// MARK: - HTTP and Prometheus helpers

private struct AdminResponse {
    var status: Int
    var body: Data
    var contentType: String?
    var allow: String?
    var text: String { String(decoding: self.body, as: UTF8.self) }
}

private func get(_ server: AccountsServer, _ path: String) async throws -> AdminResponse {
    try await send(server, path, method: "GET")
}

private func send(_ server: AccountsServer, _ path: String, method: String, body: Data? = nil) async throws -> AdminResponse {
    let port = try #require(server.running.admin?.address.port)
    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
    request.httpMethod = method
    request.httpBody = body
    request.timeoutInterval = 30
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    return AdminResponse(
        status: http.statusCode, body: data,
        contentType: http.value(forHTTPHeaderField: "Content-Type"), allow: http.value(forHTTPHeaderField: "Allow")
    )
}

/// `promtool check metrics` (Debian's `prometheus`, installed by scripts/deps.sh) on `exposition`.
private func runPromtool(on exposition: Data) throws {
    let candidates = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
    guard let promtool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("promtool not found (\(candidates.joined(separator: ", "))): run scripts/deps.sh, which installs Debian's prometheus")
        return
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(exposition)
    try input.fileHandleForWriting.close()
    let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "promtool check metrics failed:\n\(report)")
}

/// The samples of a text-format exposition: `name{label="value",...} number`.
private struct PrometheusSamples {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let text: String
    let samples: [Sample]
    var names: Set<String> { Set(self.samples.map(\.name)) }

    init(_ data: Data) throws {
        self.text = String(decoding: data, as: UTF8.self)
        var samples: [Sample] = []
        for line in self.text.split(separator: "\n") where !line.hasPrefix("#") {
            let (series, number) = try #require(line.lastIndex(of: " ").map { (line[..<$0], line[line.index(after: $0)...]) })
            let value = try #require(Double(number), "not a number in: \(line)")
            var labels: [String: String] = [:]
            var name = Substring(series)
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = series[..<open]
                let body = series[series.index(after: open)..<series.index(before: series.endIndex)]
                // Label values here hold no `",` sequence (method names, codes, providers).
                for pair in body.split(separator: "\",").map({ $0.hasSuffix("\"") ? $0.dropLast() : $0 }) {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1].dropFirst())
                }
            }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The sample `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        self.samples.first { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }?.value
    }
}
