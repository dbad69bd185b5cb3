import OvaProviders
import OvaResilience

/// Vision and sign recognition through the Hugging Face models, each call behind its
/// model's executor. Without `HF_API_KEY` every call fails with FAILED_PRECONDITION naming it
/// (there is no local engine for these in Debian).
public struct RemoteVisionBackend: VisionBackend {
    let providers: RemoteProviders

    public init(providers: RemoteProviders) {
        self.providers = providers
    }

    public var providerName: String { "huggingface" }

    public func detectObjects(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> [ImageDetection] {
        let client = self.providers.huggingFace
        let found = try await self.run(RemoteProviders.Name.detection, deadline: deadline) { _ in
            try await client.detectObjects(image: image, contentType: nil, timeout: nil)
        }
        return found.map { ImageDetection(label: $0.label, score: $0.score, box: ($0.box.xmin, $0.box.ymin, $0.box.xmax, $0.box.ymax)) }
    }

    public func caption(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> String {
        let client = self.providers.huggingFace
        return try await self.run(RemoteProviders.Name.caption, deadline: deadline) { _ in
            try await client.caption(image: image, contentType: nil, timeout: nil)
        }
    }

    public func classifySign(image: [UInt8], deadline: ContinuousClock.Instant?) async throws -> [(label: String, score: Double)] {
        let client = self.providers.huggingFace
        let ranked = try await self.run(RemoteProviders.Name.sign, deadline: deadline) { _ in
            try await client.classify(image: image, contentType: nil, timeout: nil).map { LabelScore(label: $0.label, score: $0.score) }
        }
        return ranked.map { ($0.label, $0.score) }
    }

    private func run<T: Sendable>(
        _ name: String, deadline: ContinuousClock.Instant?, _ operation: @escaping @Sendable (Int) async throws -> T
    ) async throws -> T {
        guard self.providers.huggingFaceConfiguration.apiKey != nil else {
            throw ProviderError.notConfigured(setting: HuggingFaceConfiguration.Setting.apiKey)
        }
        guard let executor = self.providers.executor(name) else {
            throw ProviderError.notConfigured(setting: HuggingFaceConfiguration.Setting.apiKey)
        }
        return try await executor.run(deadline: deadline, operation)
    }
}

/// A Sendable pair (tuples of labels are not).
private struct LabelScore: Sendable {
    let label: String
    let score: Double
}
