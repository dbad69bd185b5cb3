import Foundation

/// Calls to the Hugging Face Inference API (`POST {base}/models/{model}`), one method per
/// task OVA uses.
///
/// Every call needs ``HuggingFaceConfiguration/apiKey`` and the task's model; without them
/// it fails with ``ProviderError/notConfigured(setting:)`` before any network traffic. Error
/// responses become ``ProviderError/http(status:message:retryAfter:)``, except a 503 for a
/// model that is still loading, which is ``ProviderError/modelLoading(estimatedSeconds:)``.
/// A 2xx body that does not have the documented shape is
/// ``ProviderError/malformedResponse(_:)``. Retrying is the caller's decision
/// (``ProviderError/isRetryable``).
public struct HuggingFaceClient: Sendable {
    public let configuration: HuggingFaceConfiguration
    private let http: CurlHTTPClient

    /// The largest response accepted (synthesized audio is the biggest).
    static let maxResponseBytes = 32 * 1024 * 1024

    public init(configuration: HuggingFaceConfiguration, http: CurlHTTPClient) {
        self.configuration = configuration
        self.http = http
    }

    // MARK: - Tasks

    /// Speech to text with ``HuggingFaceConfiguration/sttModel``: the audio file's bytes in,
    /// `{"text": "..."}` out.
    ///
    /// - Parameter timeout: overrides ``HuggingFaceConfiguration/requestTimeout`` for this call.
    public func transcribe(
        audio: [UInt8],
        contentType: String = "audio/wav",
        timeout: Duration? = nil
    ) async throws(ProviderError) -> String {
        let body = try await self.post(
            model: self.configuration.sttModel,
            setting: HuggingFaceConfiguration.Setting.sttModel,
            body: audio,
            contentType: contentType,
            timeout: timeout
        ).1
        struct Transcript: Decodable { var text: String }
        return try Self.decode(Transcript.self, from: body, what: "transcription").text
    }

    /// Text to speech with ``HuggingFaceConfiguration/ttsModel``: `{"inputs": text}` in, the
    /// audio file out, with its media type (`audio/flac`, `audio/wav`, `audio/mpeg`, ...).
    public func synthesize(
        text: String,
        timeout: Duration? = nil
    ) async throws(ProviderError) -> (audio: [UInt8], contentType: String) {
        let request = try Self.json(["inputs": text])
        let (head, body) = try await self.post(
            model: self.configuration.ttsModel,
            setting: HuggingFaceConfiguration.Setting.ttsModel,
            body: request,
            contentType: "application/json",
            timeout: timeout
        )
        // A 200 with JSON (an error object, a model that returns something else) is not audio.
        guard let type = head.mediaType, type.hasPrefix("audio/") else {
            throw .malformedResponse("expected audio, got \(head.mediaType ?? "no content type")")
        }
        guard !body.isEmpty else {
            throw .malformedResponse("empty audio")
        }
        return (body, type)
    }

    /// Object detection with ``HuggingFaceConfiguration/detectionModel``, most confident first.
    ///
    /// - Parameter contentType: the image's media type; detected from its first bytes when nil.
    public func detectObjects(
        image: [UInt8],
        contentType: String? = nil,
        timeout: Duration? = nil
    ) async throws(ProviderError) -> [DetectedObject] {
        let body = try await self.post(
            model: self.configuration.detectionModel,
            setting: HuggingFaceConfiguration.Setting.detectionModel,
            body: image,
            contentType: contentType ?? Self.imageType(image),
            timeout: timeout
        ).1
        let objects = try Self.decode([DetectedObject].self, from: body, what: "object detection")
        return objects.sorted { $0.score > $1.score }
    }

    /// Image captioning with ``HuggingFaceConfiguration/captionModel``.
    public func caption(
        image: [UInt8],
        contentType: String? = nil,
        timeout: Duration? = nil
    ) async throws(ProviderError) -> String {
        let body = try await self.post(
            model: self.configuration.captionModel,
            setting: HuggingFaceConfiguration.Setting.captionModel,
            body: image,
            contentType: contentType ?? Self.imageType(image),
            timeout: timeout
        ).1
        struct Generated: Decodable { var generated_text: String }
        let captions = try Self.decode([Generated].self, from: body, what: "caption")
        guard let first = captions.first else {
            throw .malformedResponse("caption: empty list")
        }
        return first.generated_text
    }

    /// Image classification with ``HuggingFaceConfiguration/signModel`` (sign-language
    /// letters), most likely label first.
    public func classify(
        image: [UInt8],
        contentType: String? = nil,
        timeout: Duration? = nil
    ) async throws(ProviderError) -> [(label: String, score: Double)] {
        let body = try await self.post(
            model: self.configuration.signModel,
            setting: HuggingFaceConfiguration.Setting.signModel,
            body: image,
            contentType: contentType ?? Self.imageType(image),
            timeout: timeout
        ).1
        struct Label: Decodable {
            var label: String
            var score: Double
        }
        let labels = try Self.decode([Label].self, from: body, what: "classification")
        return labels.sorted { $0.score > $1.score }.map { (label: $0.label, score: $0.score) }
    }

    // MARK: - Transport

    /// POSTs `body` to the model and returns a 2xx response, or throws the mapped error.
    func post(
        model: String?,
        setting: String,
        body: [UInt8],
        contentType: String,
        timeout: Duration?
    ) async throws(ProviderError) -> (HTTPResponseHead, [UInt8]) {
        guard let apiKey = self.configuration.apiKey, !apiKey.isEmpty else {
            throw .notConfigured(setting: HuggingFaceConfiguration.Setting.apiKey)
        }
        guard let model = model?.trimmingWhitespace(), !model.isEmpty else {
            throw .notConfigured(setting: setting)
        }
        guard Self.isValidModelName(model) else {
            throw .invalidRequest("\(setting) is not a model name (owner/name)")
        }
        let base = self.configuration.baseURL.trimmingWhitespace()
        guard !base.isEmpty else {
            throw .notConfigured(setting: HuggingFaceConfiguration.Setting.baseURL)
        }
        let request = HTTPRequest(
            method: "POST",
            url: (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/models/" + model,
            headers: [
                ("Authorization", "Bearer \(apiKey)"),
                ("Content-Type", contentType),
            ],
            body: body,
            timeout: timeout ?? self.configuration.requestTimeout,
            connectTimeout: self.configuration.connectTimeout
        )
        let (head, responseBody) = try await self.http.send(request, maxBodyBytes: Self.maxResponseBytes)
        guard (200..<300).contains(head.status) else {
            if let loading = Self.modelLoading(head, body: responseBody) {
                throw loading
            }
            throw ProviderResponse.httpError(head, body: responseBody, redacting: apiKey)
        }
        return (head, responseBody)
    }

    /// ``ProviderError/modelLoading(estimatedSeconds:)`` for HF's "model is loading" 503:
    /// `{"error": "Model x is currently loading", "estimated_time": 20.0}`.
    static func modelLoading(_ head: HTTPResponseHead, body: [UInt8]) -> ProviderError? {
        guard head.status == 503, let object = ProviderResponse.jsonObject(body) else { return nil }
        let estimate = ProviderResponse.double(object["estimated_time"])
        let message = (object["error"] as? String) ?? ""
        guard estimate != nil || message.contains("currently loading") else { return nil }
        return .modelLoading(estimatedSeconds: estimate)
    }

    /// Hub model ids are `owner/name` of letters, digits, `-`, `_` and `.`; anything else
    /// (a `..`, a `?`, a space) would change the URL's meaning.
    static func isValidModelName(_ model: String) -> Bool {
        guard model.utf8.count <= 200, !model.contains(".."), !model.hasPrefix("/"), !model.hasSuffix("/") else {
            return false
        }
        return model.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", "/": return true
            default: return false
            }
        }
    }

    /// The media type of an image from its magic bytes; HF needs it to pick a decoder.
    static func imageType(_ image: [UInt8]) -> String {
        if image.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if image.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if image.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        if image.count >= 12, image.starts(with: Array("RIFF".utf8)), Array(image[8..<12]) == Array("WEBP".utf8) {
            return "image/webp"
        }
        if image.starts(with: Array("BM".utf8)) { return "image/bmp" }
        return "application/octet-stream"
    }

    private static func json(_ object: [String: Any]) throws(ProviderError) -> [UInt8] {
        do {
            return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        } catch {
            throw .invalidRequest("the request cannot be encoded as JSON")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], what: String) throws(ProviderError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            // The decoding error names fields and types only, never values.
            throw .malformedResponse("\(what): unexpected JSON shape")
        }
    }
}
