import OvaFakeUpstream
import Synchronization
import Testing

@testable import OvaProviders

/// Runs `body` with a fresh fake server, stopping it afterwards even when `body` throws.
func withFakeServer<T>(_ body: (FakeHTTPServer) async throws -> T) async throws -> T {
    let server = try await FakeHTTPServer.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// The error `body` throws, or nil (recording an issue) when it returns or throws something
/// other than a ``ProviderError``. (Closures with `try` are inferred as throwing `any Error`,
/// so the parameter cannot be `throws(ProviderError)` without annotating every closure.)
func providerError<T>(_ body: () async throws -> T) async -> ProviderError? {
    do {
        let value = try await body()
        Issue.record("expected a ProviderError, got \(value)")
        return nil
    } catch let error as ProviderError {
        return error
    } catch {
        Issue.record("expected a ProviderError, got \(error)")
        return nil
    }
}

@Suite("CurlHTTPClient")
struct CurlHTTPClientTests {
    let client = CurlHTTPClient()

    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await withFakeServer { server in
            server.route("/hello", FakeHTTPServer.respond(status: 201, headers: [("X-Thing", "yes")], body: Array("hi".utf8)))
            let (head, body) = try await client.send(HTTPRequest(url: server.baseURL + "/hello?q=1"))
            #expect(head.status == 201)
            #expect(head.header("X-THING") == "yes")
            #expect(head.headers.contains { $0.0 == "x-thing" })
            #expect(body == Array("hi".utf8))
            let request = try #require(server.requests("/hello").first)
            #expect(request.method == "GET")
            #expect(request.uri == "/hello?q=1")
            #expect(request.header("User-Agent") == "ova/0.1")
            #expect(request.body.isEmpty)
        }
    }

    @Test func postSendsBodyAndHeadersExactly() async throws {
        try await withFakeServer { server in
            server.route("/echo", FakeHTTPServer.json(#"{"ok":true}"#))
            let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let (head, _) = try await client.send(
                HTTPRequest(method: "POST", url: server.baseURL + "/echo", headers: [("X-Key", "v1")], body: payload)
            )
            #expect(head.status == 200)
            #expect(head.mediaType == "application/json")
            let request = try #require(server.requests("/echo").first)
            #expect(request.method == "POST")
            #expect(request.body == payload)
            #expect(request.header("X-Key") == "v1")
            // Our default instead of curl's form encoding, and no 100-continue round trip.
            #expect(request.header("Content-Type") == "application/octet-stream")
            #expect(request.header("Expect") == nil)
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        try await withFakeServer { server in
            server.route("/moved", FakeHTTPServer.respond(status: 302, headers: [("Location", "/elsewhere")], body: []))
            let (head, _) = try await client.send(HTTPRequest(url: server.baseURL + "/moved"))
            #expect(head.status == 302)
            #expect(head.header("location") == "/elsewhere")
            #expect(server.requests("/elsewhere").isEmpty)
        }
    }

    @Test func hangingServerTimesOut() async throws {
        try await withFakeServer { server in
            server.route("/hang", [.hang])
            let start = ContinuousClock.now
            let error = await providerError {
                try await client.send(HTTPRequest(url: server.baseURL + "/hang", timeout: .milliseconds(500)))
            }
            #expect(error == .timeout)
            #expect(error?.isRetryable == true)
            // The server never answers: ending at all is the timeout's doing. The bound only
            // tells "timed out" from "hung", generously, because a loaded 2-core test run
            // (CI) once took 5.3 s for this 500 ms timeout.
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }

    @Test func closedPortIsAConnectError() async throws {
        let server = try await FakeHTTPServer.start()
        let url = server.baseURL + "/"
        await server.stop()
        let error = await providerError { try await client.send(HTTPRequest(url: url)) }
        guard case .connect(let reason) = error else {
            Issue.record("expected .connect, got \(String(describing: error))")
            return
        }
        #expect(!reason.isEmpty)
        #expect(error?.isRetryable == true)
    }

    @Test func serverClosingMidBodyIsAConnectError() async throws {
        try await withFakeServer { server in
            server.route("/cut", [.head(status: 200, headers: [("Content-Length", "100")]), .text("partial"), .close])
            let error = await providerError { try await client.send(HTTPRequest(url: server.baseURL + "/cut")) }
            guard case .connect = error else {
                Issue.record("expected .connect, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func bodyOverTheLimitIsTooLarge() async throws {
        try await withFakeServer { server in
            server.route("/big", FakeHTTPServer.respond(status: 200, body: [UInt8](repeating: 7, count: 50_000)))
            let error = await providerError {
                try await client.send(HTTPRequest(url: server.baseURL + "/big"), maxBodyBytes: 1000)
            }
            #expect(error == .tooLarge)
            let (_, body) = try await client.send(HTTPRequest(url: server.baseURL + "/big"), maxBodyBytes: 50_000)
            #expect(body.count == 50_000)
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url"])
    func otherSchemesAndBadURLsAreRefused(url: String) async {
        let error = await providerError { try await client.send(HTTPRequest(url: url)) }
        guard case .invalidRequest = error else {
            Issue.record("expected .invalidRequest, got \(String(describing: error))")
            return
        }
        #expect(error?.isRetryable == false)
    }

    @Test func headerLineBreaksAreRefused() async {
        let error = await providerError {
            try await client.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("X-A", "v\r\nX-Injected: 1")]))
        }
        guard case .invalidRequest = error else {
            Issue.record("expected .invalidRequest, got \(String(describing: error))")
            return
        }
    }

    @Test func cancellingSendAbortsTheTransfer() async throws {
        try await withFakeServer { server in
            server.route("/hang", [.hang])
            let client = self.client
            let url = server.baseURL + "/hang"
            let task = Task { () async -> ProviderError? in
                await providerError { try await client.send(HTTPRequest(url: url, timeout: .seconds(60))) }
            }
            #expect(await FakeHTTPServer.poll(within: .seconds(30)) { !server.requests("/hang").isEmpty })
            task.cancel()
            #expect(await task.value == .cancelled)
            #expect(await server.waitForClientDisconnect("/hang"))
        }
    }

    @Test func concurrentRequestsAllComplete() async throws {
        try await withFakeServer { server in
            for index in 0..<20 {
                server.route("/n\(index)", [.sleep(.milliseconds(50))] + FakeHTTPServer.json("{\"n\":\(index)}"))
            }
            let client = self.client
            let base = server.baseURL
            let bodies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let (_, body) = try await client.send(HTTPRequest(url: base + "/n\(index)"))
                        return (index, String(decoding: body, as: UTF8.self))
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(bodies.count == 20)
            for index in 0..<20 {
                #expect(bodies[index] == "{\"n\":\(index)}")
            }
        }
    }

    // MARK: - Streaming

    @Test func streamDeliversHeadThenChunksAsTheyArrive() async throws {
        try await withFakeServer { server in
            let gate = Gate()
            let secondSent = Atomic<Bool>(false)
            server.route(
                "/chunks",
                [
                    .head(status: 200, headers: [("Content-Type", "text/plain")]),
                    .text("first"),
                    .wait(gate),
                    .run { secondSent.store(true, ordering: .sequentiallyConsistent) },
                    .text("second"),
                    .end,
                ]
            )
            var parts: [String] = []
            var sawHead = false
            for try await part in client.stream(HTTPRequest(url: server.baseURL + "/chunks")) {
                switch part {
                case .head(let head):
                    #expect(!sawHead)
                    sawHead = true
                    #expect(head.status == 200)
                    #expect(head.mediaType == "text/plain")
                case .body(let bytes):
                    #expect(sawHead)
                    if parts.isEmpty {
                        // The first chunk arrived while the server was still holding the second.
                        let sent = secondSent.load(ordering: .sequentiallyConsistent)
                        #expect(!sent)
                        gate.open()
                    }
                    parts.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            #expect(parts.joined() == "firstsecond")
        }
    }

    @Test func streamOfEmptyResponseStillYieldsTheHead() async throws {
        try await withFakeServer { server in
            server.route("/empty", FakeHTTPServer.respond(status: 204, body: []))
            var heads: [Int] = []
            for try await part in client.stream(HTTPRequest(url: server.baseURL + "/empty")) {
                if case .head(let head) = part { heads.append(head.status) }
                if case .body = part { Issue.record("no body expected") }
            }
            #expect(heads == [204])
        }
    }

    @Test func slowConsumerPausesTheTransferAndLosesNothing() async throws {
        let client = CurlHTTPClient(streamBufferBytes: 64 * 1024)
        try await withFakeServer { server in
            let chunk = 64 * 1024
            let count = 32
            var steps: [FakeHTTPServer.Step] = [.head(status: 200, headers: [("Content-Length", "\(chunk * count)")])]
            for index in 0..<count {
                steps.append(.body((0..<chunk).map { UInt8(truncatingIfNeeded: $0 &+ index) }))
            }
            steps.append(.end)
            server.route("/bulk", steps)
            let reader = client.makeReader(HTTPRequest(url: server.baseURL + "/bulk"))
            guard case .head(let head) = try await reader.next() else {
                Issue.record("expected the head first")
                return
            }
            #expect(head.status == 200)
            // Do not read until the transfer has paused: the buffer is full.
            #expect(await FakeHTTPServer.poll(within: .seconds(30)) { reader.buffer.pauseCount > 0 })
            var received: [UInt8] = []
            while let part = try await reader.next() {
                guard case .body(let bytes) = part else { continue }
                received.append(contentsOf: bytes)
            }
            #expect(received.count == chunk * count)
            let expected = (0..<count).flatMap { index in (0..<chunk).map { UInt8(truncatingIfNeeded: $0 &+ index) } }
            #expect(received == expected)
        }
    }

    @Test func cancellingTheConsumerClosesTheConnection() async throws {
        try await withFakeServer { server in
            server.route("/slow", [.head(status: 200), .text("tick")] + Array(repeating: [.sleep(.milliseconds(200)), .text("tick")], count: 100).flatMap { $0 } + [.end])
            let client = self.client
            let url = server.baseURL + "/slow"
            let firstChunk = Gate()
            let task = Task { () async -> (any Error)? in
                do {
                    for try await part in client.stream(HTTPRequest(url: url, timeout: .seconds(60))) {
                        if case .body = part { firstChunk.open() }
                    }
                    return nil
                } catch {
                    return error
                }
            }
            #expect(await firstChunk.wait(within: .seconds(30)))
            task.cancel()
            _ = await task.value
            #expect(await server.waitForClientDisconnect("/slow"))
        }
    }

    @Test func droppingTheStreamClosesTheConnection() async throws {
        try await withFakeServer { server in
            server.route("/slow", [.head(status: 200), .text("tick")] + Array(repeating: [.sleep(.milliseconds(200)), .text("tick")], count: 100).flatMap { $0 } + [.end])
            var chunks = 0
            for try await part in client.stream(HTTPRequest(url: server.baseURL + "/slow", timeout: .seconds(60))) {
                if case .body = part {
                    chunks += 1
                    break
                }
            }
            #expect(chunks == 1)
            #expect(await server.waitForClientDisconnect("/slow"))
        }
    }

    @Test func streamTimeoutIsThrown() async throws {
        try await withFakeServer { server in
            server.route("/stall", [.head(status: 200), .text("a"), .hang])
            var error: ProviderError?
            var bytes = 0
            do {
                // Long enough for the first byte to arrive even when every test runs at once.
                for try await part in client.stream(HTTPRequest(url: server.baseURL + "/stall", timeout: .seconds(6))) {
                    if case .body(let chunk) = part { bytes += chunk.count }
                }
            } catch let thrown as ProviderError {
                error = thrown
            }
            #expect(bytes == 1)
            #expect(error == .timeout)
        }
    }
}
