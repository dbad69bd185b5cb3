import Logging
import OvaFakeUpstream
import OvaProviders
import OvaResilience
import OvaServices
import OvaTestSupport
import Testing

/// The chat backend against a loopback upstream, with the breaker's clock under the test's
/// control: failures open it, the open period passes, half-open probes close it again.
@Suite("Breaker recovery through half-open")
struct BreakerRecoveryTests {
    @Test("10 upstream failures open the breaker; after the open period 3 good probes close it")
    func recovery() async throws {
        let upstream = try await FakeHTTPServer.start()
        try await withAsyncCleanup {
            upstream.route("/v1/chat/completions", FakeHTTPServer.json(status: 503, #"{"error":"overloaded"}"#))
            let clock = ManualResilienceClock()
            var policy = ResiliencePolicy()
            policy.retry.maxRetries = 0
            let providers = RemoteProviders(
                huggingFace: HuggingFaceConfiguration(baseURL: upstream.baseURL, apiKey: "k"),
                chat: ChatCompletionsConfiguration(baseURL: upstream.baseURL + "/v1", model: "m"),
                policy: policy, http: CurlHTTPClient(), clock: clock, logger: Logger(label: "breaker-test")
            )
            let changes = providers.stateChanges()
            let chat = RemoteChatBackend(providers: providers)
            let prompt = ChatPrompt(messages: [ChatPrompt.Message(role: "user", content: "hi")])

            func ask() async throws -> String {
                var text = ""
                for try await chunk in try await chat.complete(prompt, deadline: nil) {
                    if case .delta(let delta) = chunk { text += delta }
                }
                return text
            }
            func state() -> ProviderHealth.CircuitState? {
                providers.providers().first { $0.name == RemoteProviders.Name.chat }?.circuitState
            }

            for _ in 0..<10 {
                await #expect(throws: (any Error).self) { _ = try await ask() }
            }
            #expect(state() == .open)
            do {
                _ = try await ask()
                Issue.record("an open breaker let a call through")
            } catch let error as ResilienceError {
                guard case .circuitOpen(let retryAfter) = error else {
                    Issue.record("expected circuitOpen, got \(error)")
                    return
                }
                #expect(retryAfter == .seconds(30))
            }
            #expect(upstream.requests("/v1/chat/completions").count == 10)

            // The upstream recovers; the open period passes on the test's clock.
            upstream.route("/v1/chat/completions", SSE.answer("fine again"))
            clock.advance(by: .seconds(30))
            #expect(state() == .halfOpen)
            for _ in 0..<3 {
                #expect(try await ask() == "fine again")
            }
            #expect(state() == .closed)
            var seen: [ProviderHealth.CircuitState] = []
            for await change in changes {
                seen.append(change.circuitState)
                if seen.count == 3 { break }
            }
            #expect(seen == [.open, .halfOpen, .closed])
        } cleanup: {
            await upstream.stop()
        }
    }
}
