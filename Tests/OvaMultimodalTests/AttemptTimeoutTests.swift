import Logging
import OvaFakeUpstream
import OvaProto
import OvaProviders
import OvaResilience
import OvaTestServer
import Testing

@testable import OvaServer
@testable import OvaServices

/// A hanging upstream against the per-attempt timeout: the chat backend on a loopback fake,
/// with the executors' clock under the test's control, so the timeouts fire when the test
/// says and never by the wall clock.
@Suite("Provider attempt timeouts", .timeLimit(.minutes(1)))
struct AttemptTimeoutTests {
    static let path = "/v1/chat/completions"

    /// Chat through `upstream`, 30 s overall, 10 s per attempt, retries without backoff.
    func makeChat(_ upstream: FakeHTTPServer, clock: ManualResilienceClock, overall: Duration = .seconds(30)) -> (RemoteChatBackend, RemoteProviders) {
        var policy = ResiliencePolicy()
        policy.overallTimeout = overall
        policy.attemptTimeout = .seconds(10)
        policy.retry = RetryPolicy(maxRetries: 10, randomUnit: { 0 })
        let providers = RemoteProviders(
            huggingFace: HuggingFaceConfiguration(baseURL: upstream.baseURL, apiKey: "k"),
            chat: ChatCompletionsConfiguration(baseURL: upstream.baseURL + "/v1", model: "m"),
            policy: policy, http: CurlHTTPClient(), clock: clock, logger: Logger(label: "attempt-timeout-test")
        )
        return (RemoteChatBackend(providers: providers), providers)
    }

    func ask(_ chat: RemoteChatBackend) async throws -> String {
        var text = ""
        for try await chunk in try await chat.complete(ChatPrompt(messages: [ChatPrompt.Message(role: "user", content: "hi")]), deadline: nil) {
            if case .delta(let delta) = chunk { text += delta }
        }
        return text
    }

    @Test("a hanging first attempt is cut at the attempt timeout and the second attempt answers")
    func hangingAttemptIsRetried() async throws {
        let upstream = try await FakeHTTPServer.start()
        let clock = ManualResilienceClock()
        let (chat, providers) = self.makeChat(upstream, clock: clock)
        // The first request hangs; it also switches the route, so the retry is answered.
        let switched = Gate()
        upstream.route(Self.path, [
            .run {
                upstream.route(Self.path, SSE.answer("second try"))
                switched.open()
            },
            .hang,
        ])
        let t0 = clock.now
        let answer = Task { try await self.ask(chat) }
        #expect(await switched.wait(within: .seconds(30)))
        // The first attempt sleeps until its own timeout, a third of the overall budget.
        await clock.waitForSleeper(until: t0 + .seconds(10))
        clock.advance(to: t0 + .seconds(10))

        #expect(try await answer.value == "second try")
        #expect(upstream.requests(Self.path).count == 2)
        // Cutting the attempt reached the network: the hung request's connection was closed.
        #expect(await upstream.waitForClientDisconnect(Self.path))
        let breaker = try #require(providers.executor(RemoteProviders.Name.chat)).snapshot.breaker
        #expect(breaker.callsTotal == 2)
        #expect(breaker.failuresTotal == 1)
        #expect(clock.now == t0 + .seconds(10))
        await upstream.stop()
    }

    @Test("attempts never outlast the overall budget; the call ends in one wording")
    func attemptsStayWithinTheBudget() async throws {
        let upstream = try await FakeHTTPServer.start()
        let clock = ManualResilienceClock()
        let (chat, _) = self.makeChat(upstream, clock: clock, overall: .seconds(25))
        upstream.route(Self.path, [.hang])
        let t0 = clock.now
        let answer = Task { try await self.ask(chat) }
        // Cut at 10 s and 20 s; the third attempt gets the 5 s that remain, and no fourth starts.
        for (attempt, cut) in [(1, 10), (2, 20), (3, 25)] {
            #expect(await FakeHTTPServer.poll(within: .seconds(30)) { upstream.requests(Self.path).count == attempt })
            await clock.waitForSleeper(until: t0 + .seconds(cut))
            clock.advance(to: t0 + .seconds(cut))
        }
        let result = await answer.result
        guard case .failure(let error) = result, let resilience = error as? ResilienceError,
            case .timedOut(let attempts) = resilience
        else {
            Issue.record("expected timedOut, got \(result)")
            await upstream.stop()
            return
        }
        #expect(attempts == 3)
        #expect(upstream.requests(Self.path).count == 3)
        #expect(clock.now == t0 + .seconds(25))
        let rpcError = ProviderFailureMapping.rpcError(error, capability: "chat")
        #expect(rpcError.code == .unavailable)
        #expect(rpcError.message == "the chat provider did not answer in time (3 attempts)")
        #expect(resilience.description == "the provider did not answer in time (3 attempts)")
        await upstream.stop()
    }

    @Test("the HTTP client's own timeout reads like an attempt cut off by the executor")
    func oneWordingForBothTimeouts() {
        let cut = ProviderFailureMapping.rpcError(ResilienceError.timedOut(attempts: 1), capability: "chat")
        let curl = ProviderFailureMapping.rpcError(ResilienceError.retriesExhausted(attempts: 1, last: ProviderError.timeout), capability: "chat")
        #expect(cut.message == "the chat provider did not answer in time (1 attempt)")
        #expect(curl.message == cut.message)
        #expect(curl.code == cut.code)
        let other = ProviderFailureMapping.rpcError(
            ResilienceError.retriesExhausted(attempts: 1, last: ProviderError.connect("refused")), capability: "chat"
        )
        #expect(other.message == "cannot reach the chat provider: refused (after 1 attempt)")
    }

    @Test("the OVA_PROVIDER_* settings become every provider's policy")
    func policyFromConfiguration() throws {
        let configured = MultimodalServices.resiliencePolicy(for: try ServerConfiguration.load(environment: [
            "OVA_PROVIDER_TIMEOUT_SECONDS": "30", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "4", "OVA_PROVIDER_RETRIES": "2",
        ]))
        #expect(configured.overallTimeout == .seconds(30))
        #expect(configured.attemptTimeout == .seconds(4))
        #expect(configured.retry.maxRetries == 2)
        let automatic = MultimodalServices.resiliencePolicy(for: try ServerConfiguration.load(environment: [:]))
        #expect(automatic.overallTimeout == .seconds(60))
        #expect(automatic.attemptTimeout == .seconds(20))
    }

    @Test("through a real server: a hung first attempt is retried and the client gets the answer")
    func endToEnd() async throws {
        try await withMultimodalServer([
            // Retries to spare, so a loaded machine that is slow to answer the retry within its
            // second does not fail the test.
            "OVA_PROVIDER_RETRIES": "3", "OVA_PROVIDER_TIMEOUT_SECONDS": "30", "OVA_PROVIDER_ATTEMPT_TIMEOUT_SECONDS": "1",
        ]) { _, channel, root, upstream in
            upstream.route(Self.path, [.run { upstream.route(Self.path, SSE.answer("after a retry")) }, .hang])
            let text = try await ChatClient(channel: channel).complete(chatRequest("hi"), options: root) { stream in
                var text = ""
                for try await response in stream {
                    if let delta = response.delta { text += delta.content }
                }
                return text
            }
            #expect(text == "after a retry")
            #expect(upstream.requests(Self.path).count >= 2)
            #expect(await upstream.waitForClientDisconnect(Self.path))
        }
    }
}
