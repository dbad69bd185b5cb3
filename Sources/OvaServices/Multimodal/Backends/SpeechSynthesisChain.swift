import OvaAudio
import OvaEngines
import OvaProviders
import OvaResilience

/// Speech synthesis across the configured providers: the Hugging Face model when
/// `HF_MODELO_TTS` is set (espeak-ng takes over if it fails before any audio), otherwise the
/// local espeak-ng engine, which streams audio as it synthesizes.
public struct SpeechSynthesisChain: SpeechSynthesisBackend {
    let local: EspeakSynthesizer?
    let localUnavailableReason: String
    let providers: RemoteProviders

    public init(local: EspeakSynthesizer?, localUnavailableReason: String, providers: RemoteProviders) {
        self.local = local
        self.localUnavailableReason = localUnavailableReason
        self.providers = providers
    }

    var remoteConfigured: Bool {
        self.providers.huggingFaceConfiguration.apiKey != nil && self.providers.huggingFaceConfiguration.ttsModel != nil
    }

    /// Audio chunks of about 100 ms for remote audio, which arrives whole.
    static let remoteChunkMilliseconds = 100

    public func synthesize(_ settings: SynthesisSettings, deadline: ContinuousClock.Instant?) async throws -> SynthesizedAudio {
        switch settings.provider {
        case "local":
            return try self.localAudio(settings)
        case "huggingface":
            guard self.remoteConfigured else { throw ProviderError.notConfigured(setting: "HF_API_KEY and HF_MODELO_TTS") }
            return try await self.remoteAudio(settings, deadline: deadline)
        default:
            guard self.remoteConfigured else { return try self.localAudio(settings) }
            do {
                return try await self.remoteAudio(settings, deadline: deadline)
            } catch {
                guard self.local != nil, !(error is CancellationError) else { throw error }
                var audio = try self.localAudio(settings)
                audio.provider = "espeak-ng (fallback: huggingface failed)"
                return audio
            }
        }
    }

    public func voices(languagePrefix: String) async throws -> [SynthesisVoice] {
        var voices: [SynthesisVoice] = []
        if let local = self.local {
            voices += await local.voices(languagePrefix: languagePrefix.isEmpty ? nil : languagePrefix).map {
                SynthesisVoice(name: $0.name, languages: $0.languages, gender: $0.gender.rawValue, provider: "espeak-ng")
            }
        }
        if self.remoteConfigured, let model = self.providers.huggingFaceConfiguration.ttsModel {
            voices.append(SynthesisVoice(name: model, languages: [], gender: "unspecified", provider: "huggingface"))
        }
        return voices
    }

    private func localAudio(_ settings: SynthesisSettings) throws -> SynthesizedAudio {
        guard let local = self.local else { throw EngineError.unavailable(self.localUnavailableReason) }
        let language = settings.languageCode.isEmpty ? nil : String(settings.languageCode.lowercased().split(separator: "-").first ?? "")
        let chunks = local.synthesize(
            text: settings.text,
            voice: settings.voice.isEmpty ? nil : settings.voice,
            language: settings.voice.isEmpty ? language : nil,
            rateWordsPerMinute: settings.wordsPerMinute
        )
        return SynthesizedAudio(sampleRate: local.sampleRate, provider: "espeak-ng", chunks: chunks)
    }

    private func remoteAudio(_ settings: SynthesisSettings, deadline: ContinuousClock.Instant?) async throws -> SynthesizedAudio {
        guard let executor = self.providers.executor(RemoteProviders.Name.textToSpeech) else {
            throw ProviderError.notConfigured(setting: "HF_API_KEY and HF_MODELO_TTS")
        }
        let client = self.providers.huggingFace
        let text = settings.text
        let response = try await executor.run(deadline: deadline) { _ in
            let (audio, contentType) = try await client.synthesize(text: text, timeout: nil)
            return RemoteAudio(bytes: audio, contentType: contentType)
        }
        let header: (format: PCMFormat, dataOffset: Int, dataLength: Int?)
        do {
            header = try WAV.parse(response.bytes)
        } catch {
            throw ProviderError.malformedResponse("the model returned \(response.contentType), not 16-bit PCM WAV (\(error))")
        }
        var data = Array(response.bytes[min(header.dataOffset, response.bytes.count)...])
        if let length = header.dataLength, length < data.count { data = Array(data.prefix(length)) }
        var chunker = PCMChunker(channels: header.format.channels)
        var samples = try chunker.append(data)
        if header.format.channels == 2 { samples = Downmix.stereoToMono(samples) }
        let perChunk = max(1, header.format.sampleRate * Self.remoteChunkMilliseconds / 1000)
        let all = samples
        let chunks = AsyncThrowingStream<[Int16], any Error> { continuation in
            var offset = 0
            while offset < all.count {
                let end = min(all.count, offset + perChunk)
                continuation.yield(Array(all[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
        return SynthesizedAudio(sampleRate: header.format.sampleRate, provider: "huggingface", chunks: chunks)
    }
}

private struct RemoteAudio: Sendable {
    let bytes: [UInt8]
    let contentType: String
}
