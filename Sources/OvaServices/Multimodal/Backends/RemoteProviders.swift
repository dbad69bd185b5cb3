import Logging
import OvaProviders
import OvaResilience
import OvaStore
import Synchronization

/// The remote providers (Hugging Face Inference API models and an OpenAI-compatible chat
/// API), each behind its own ``ResilientExecutor`` — one breaker, bulkhead and retry budget
/// per model, so a failing caption model does not take detection down with it.
public final class RemoteProviders: ProviderMonitor, Sendable {
    /// A provider name as the Status service shows it, and its capability.
    public struct Entry: Sendable {
        public let name: String
        public let capability: String
        public let configured: Bool
        public let executor: ResilientExecutor
    }

    public let huggingFace: HuggingFaceClient
    public let huggingFaceConfiguration: HuggingFaceConfiguration
    public let chat: ChatCompletionsClient?
    public let chatConfiguration: ChatCompletionsConfiguration?
    public let entries: [Entry]
    private let watchers = Mutex<[Int: AsyncStream<ProviderHealth>.Continuation]>([:])
    private let nextWatcher = Atomic<Int>(0)
    /// Wall-clock time of each breaker's last state change, for the Status service.
    private let changedAt = Mutex<[String: Int64]>([:])

    /// Names of the executors.
    public enum Name {
        public static let speechToText = "huggingface-stt"
        public static let textToSpeech = "huggingface-tts"
        public static let detection = "huggingface-detection"
        public static let caption = "huggingface-caption"
        public static let sign = "huggingface-sign"
        public static let chat = "llm"
    }

    public init(
        huggingFace configuration: HuggingFaceConfiguration,
        chat chatConfiguration: ChatCompletionsConfiguration?,
        policy: ResiliencePolicy,
        http: CurlHTTPClient,
        clock: any ResilienceClock = SystemResilienceClock(),
        logger: Logger
    ) {
        self.huggingFaceConfiguration = configuration
        self.huggingFace = HuggingFaceClient(configuration: configuration, http: http)
        self.chatConfiguration = chatConfiguration
        self.chat = chatConfiguration.map { ChatCompletionsClient(configuration: $0, http: http) }
        let hasKey = configuration.apiKey != nil
        let specs: [(String, String, Bool)] = [
            (Name.speechToText, "speech-to-text", hasKey && configuration.sttModel != nil),
            (Name.textToSpeech, "text-to-speech", hasKey && configuration.ttsModel != nil),
            (Name.detection, "object-detection", hasKey && configuration.detectionModel != nil),
            (Name.caption, "image-captioning", hasKey && configuration.captionModel != nil),
            (Name.sign, "sign-language", hasKey && configuration.signModel != nil),
            (Name.chat, "chat", chatConfiguration != nil),
        ]
        var entries: [Entry] = []
        let box = WeakBox()
        for (name, capability, configured) in specs {
            let executor = ResilientExecutor(name: name, policy: policy, clock: clock) { name, from, to in
                logger.warning("circuit breaker state changed", metadata: ["provider": "\(name)", "from": "\(from)", "to": "\(to)"])
                box.value?.stateChanged(name)
            }
            entries.append(Entry(name: name, capability: capability, configured: configured, executor: executor))
        }
        self.entries = entries
        box.value = self
    }

    public func executor(_ name: String) -> ResilientExecutor? {
        self.entries.first { $0.name == name }?.executor
    }

    // MARK: - ProviderMonitor

    public func providers() -> [ProviderHealth] {
        self.entries.map(self.health)
    }

    public func resetCircuitBreaker(_ name: String) -> ProviderHealth? {
        guard let entry = self.entries.first(where: { $0.name == name }) else { return nil }
        entry.executor.breaker.reset()
        return self.health(entry)
    }

    public func stateChanges() -> AsyncStream<ProviderHealth> {
        let (stream, continuation) = AsyncStream.makeStream(of: ProviderHealth.self, bufferingPolicy: .bufferingNewest(64))
        let id = self.nextWatcher.add(1, ordering: .relaxed).newValue
        self.watchers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.watchers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every watch (shutdown).
    public func finishWatchers() {
        let watchers = self.watchers.withLock { watchers in
            defer { watchers.removeAll() }
            return Array(watchers.values)
        }
        for watcher in watchers { watcher.finish() }
    }

    private func stateChanged(_ name: String) {
        self.changedAt.withLock { $0[name] = StoreClock.nowMilliseconds() }
        guard let entry = self.entries.first(where: { $0.name == name }) else { return }
        let health = self.health(entry)
        for watcher in self.watchers.withLock({ Array($0.values) }) {
            watcher.yield(health)
        }
    }

    private func health(_ entry: Entry) -> ProviderHealth {
        let snapshot = entry.executor.breaker.snapshot
        let state: ProviderHealth.CircuitState
        switch snapshot.state {
        case .closed: state = .closed
        case .open: state = .open
        case .halfOpen: state = .halfOpen
        }
        return ProviderHealth(
            name: entry.name,
            capability: entry.capability,
            configured: entry.configured,
            circuitState: state,
            errorRate: snapshot.failureRate,
            p50LatencyMilliseconds: snapshot.p50Latency?.milliseconds ?? 0,
            p99LatencyMilliseconds: snapshot.p99Latency?.milliseconds ?? 0,
            callsTotal: UInt64(max(0, snapshot.callsTotal)),
            failuresTotal: UInt64(max(0, snapshot.failuresTotal)),
            stateChangedAtUnixMilliseconds: UInt64(max(0, self.changedAt.withLock { $0[entry.name] } ?? 0)),
            retryAfterMilliseconds: snapshot.retryAfter?.milliseconds ?? 0,
            lastError: snapshot.lastError ?? ""
        )
    }
}

/// Lets the executors' callbacks reach the registry that owns them without a retain cycle.
private final class WeakBox: @unchecked Sendable {
    // Written once, in RemoteProviders.init, before any callback can run.
    weak var value: RemoteProviders?
}
