import Logging
import OvaEngines
import OvaProviders
import OvaResilience
import OvaRPC
import OvaServices

/// The assistant's services (speech, chat, voice, vision, sign) and the Status service, wired
/// to the providers the configuration enables and the local engines installed.
public struct MultimodalServices: Sendable {
    public let providers: RemoteProviders
    public let recognition: SpeechRecognitionChain
    public let synthesis: SpeechSynthesisChain
    public let chat: RemoteChatBackend
    public let vision: RemoteVisionBackend
    public let conversations = ConversationStore()
    public let metrics = ServerMetricsReference()

    /// Builds the provider clients and starts the local engines. A missing engine is not
    /// fatal: its capability answers FAILED_PRECONDITION saying what to install.
    public static func start(configuration: ServerConfiguration, logger: Logger) async -> MultimodalServices {
        let settings = configuration.providers
        let huggingFace = HuggingFaceConfiguration(
            baseURL: settings.huggingFaceBaseURL,
            apiKey: settings.huggingFaceAPIKey,
            sttModel: settings.speechToTextModel,
            ttsModel: settings.textToSpeechModel,
            detectionModel: settings.detectionModel,
            captionModel: settings.captionModel,
            signModel: settings.signModel,
            requestTimeout: settings.timeout
        )
        var chat: ChatCompletionsConfiguration?
        if let base = settings.effectiveLLMBaseURL, let model = settings.llmModel {
            chat = ChatCompletionsConfiguration(baseURL: base, apiKey: settings.llmAPIKey ?? settings.huggingFaceAPIKey, model: model)
        }
        let providers = RemoteProviders(
            huggingFace: huggingFace, chat: chat, policy: Self.resiliencePolicy(for: configuration),
            http: CurlHTTPClient(logger: logger), logger: logger
        )

        var recognizer: PocketSphinxRecognizer?
        var recognizerProblem = ""
        do {
            recognizer = try PocketSphinxRecognizer()
        } catch {
            recognizerProblem = "\(error)"
            logger.warning("local speech recognition unavailable", metadata: ["reason": "\(error)"])
        }
        var synthesizer: EspeakSynthesizer?
        var synthesizerProblem = ""
        do {
            synthesizer = try await EspeakSynthesizer()
        } catch {
            synthesizerProblem = "\(error)"
            logger.warning("local speech synthesis unavailable", metadata: ["reason": "\(error)"])
        }
        for entry in providers.entries where !entry.configured {
            logger.info("provider not configured", metadata: ["provider": "\(entry.name)", "capability": "\(entry.capability)"])
        }
        return MultimodalServices(
            providers: providers,
            recognition: SpeechRecognitionChain(local: recognizer, localUnavailableReason: recognizerProblem, providers: providers),
            synthesis: SpeechSynthesisChain(local: synthesizer, localUnavailableReason: synthesizerProblem, providers: providers),
            chat: RemoteChatBackend(providers: providers),
            vision: RemoteVisionBackend(providers: providers)
        )
    }

    /// Every provider's timeouts and retries, from the `OVA_PROVIDER_*` settings.
    static func resiliencePolicy(for configuration: ServerConfiguration) -> ResiliencePolicy {
        let settings = configuration.providers
        var policy = ResiliencePolicy()
        policy.overallTimeout = settings.timeout
        // The loader guarantees attempt <= overall; min() keeps the executor's precondition
        // for a configuration built some other way.
        policy.attemptTimeout = min(settings.effectiveAttemptTimeout, settings.timeout)
        policy.retry.maxRetries = settings.retries
        return policy
    }

    func register(into router: inout RPCRouter, configuration: ServerConfiguration, accounts: AccountServices) {
        router.register(SpeechServiceHandler(recognition: self.recognition, synthesis: self.synthesis))
        router.register(ChatServiceHandler(chat: self.chat, conversations: self.conversations))
        router.register(VoiceServiceHandler(recognition: self.recognition, synthesis: self.synthesis, chat: self.chat))
        router.register(VisionServiceHandler(vision: self.vision))
        router.register(SignServiceHandler(vision: self.vision))
        router.register(StatusServiceHandler(
            version: OvaVersion.current, environment: configuration.environment.rawValue, database: accounts.store.database,
            monitor: self.providers, metrics: self.metrics
        ))
    }
}

/// The server's version, reported by Status and `--version`.
public enum OvaVersion {
    public static let current = "0.1.0"
}
