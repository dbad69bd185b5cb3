/// Settings for the Hugging Face Inference API.
///
/// Reading the environment (and the `HF_TOKEN` alias of `HF_API_KEY`) is the server
/// configuration's job; this type only holds the values. A model left nil makes the calls
/// that need it fail with ``ProviderError/notConfigured(setting:)`` naming its setting.
public struct HuggingFaceConfiguration: Sendable {
    /// Environment names of the settings, for ``ProviderError/notConfigured(setting:)``.
    public enum Setting {
        public static let baseURL = "OVA_HF_BASE_URL"
        public static let apiKey = "HF_API_KEY"
        public static let sttModel = "HF_MODELO_STT"
        public static let ttsModel = "HF_MODELO_TTS"
        public static let detectionModel = "HF_MODELO_IMG"
        public static let captionModel = "HF_MODELO_CAPTION"
        public static let signModel = "HF_MODELO_SIGN"
    }

    public static let defaultBaseURL = "https://api-inference.huggingface.co"

    /// The API root; calls go to `{baseURL}/models/{model}`.
    public var baseURL: String
    /// Sent as `Authorization: Bearer`. Every call needs it.
    public var apiKey: String?
    /// Speech recognition, audio in, `{"text"}` out.
    public var sttModel: String?
    /// Speech synthesis, `{"inputs"}` in, audio out.
    public var ttsModel: String?
    /// Object detection, image in, boxes out.
    public var detectionModel: String?
    /// Image captioning, image in, `[{"generated_text"}]` out.
    public var captionModel: String?
    /// Sign-language letter classification, image in, labels out.
    public var signModel: String?
    /// Default limit for one call, from connecting to the last byte; each call may override it.
    public var requestTimeout: Duration
    public var connectTimeout: Duration

    public init(
        baseURL: String = HuggingFaceConfiguration.defaultBaseURL,
        apiKey: String? = nil,
        sttModel: String? = nil,
        ttsModel: String? = nil,
        detectionModel: String? = "facebook/detr-resnet-50",
        captionModel: String? = "nlpconnect/vit-gpt2-image-captioning",
        signModel: String? = "RavenOnur/Sign-Language",
        requestTimeout: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.sttModel = sttModel
        self.ttsModel = ttsModel
        self.detectionModel = detectionModel
        self.captionModel = captionModel
        self.signModel = signModel
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
    }
}

/// One object found by ``HuggingFaceClient/detectObjects(image:contentType:timeout:)``.
public struct DetectedObject: Sendable, Equatable, Decodable {
    /// Pixel coordinates of the box, top-left origin.
    public struct Box: Sendable, Equatable, Decodable {
        public var xmin: Double
        public var ymin: Double
        public var xmax: Double
        public var ymax: Double

        public init(xmin: Double, ymin: Double, xmax: Double, ymax: Double) {
            self.xmin = xmin
            self.ymin = ymin
            self.xmax = xmax
            self.ymax = ymax
        }
    }

    public var label: String
    /// Confidence, 0 to 1.
    public var score: Double
    public var box: Box

    public init(label: String, score: Double, box: Box) {
        self.label = label
        self.score = score
        self.box = box
    }
}
