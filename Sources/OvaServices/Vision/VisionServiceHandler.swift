import OvaProto
import OvaRPC

/// `ova.v1.Vision`: object detection and a caption for one image, as the original's
/// `/api/image` did with two Hugging Face models.
public struct VisionServiceHandler: VisionHandler {
    let vision: any VisionBackend

    public init(vision: any VisionBackend) {
        self.vision = vision
    }

    static let defaultMinScore: Float = 0.5

    /// Runs the requested parts concurrently. One failing part gives a partial result with its
    /// status; only when every requested part fails does the call fail (with the first error).
    public func analyzeImage(request: AnalyzeImageRequest, context: ServerContext) async throws -> AnalyzeImageResponse {
        _ = try context.requireAdmin()
        let format = try ImageInput.validate(request.image)
        var validator = RequestValidator()
        if !(0...1).contains(request.minScore) { validator.fail("min_score", "must be 0-1") }
        try validator.check()
        let wantsDetections = request.detectObjects || !request.caption
        let wantsCaption = request.caption || !request.detectObjects
        let minScore = request.minScore > 0 ? request.minScore : Self.defaultMinScore
        let deadline = context.continuousDeadline
        let image = request.image

        async let detections: Result<[ImageDetection], RPCError>? = wantsDetections
            ? Self.capture("object detection") { try await self.vision.detectObjects(image: image, deadline: deadline) } : nil
        async let caption: Result<String, RPCError>? = wantsCaption
            ? Self.capture("image captioning") { try await self.vision.caption(image: image, deadline: deadline) } : nil

        var response = AnalyzeImageResponse()
        response.imageFormat = format
        var failures: [RPCError] = []
        switch await detections {
        case .success(let found):
            response.detections = found.filter { Float($0.score) >= minScore }.map(Self.detection)
            response.detectionStatus = Self.status(nil, provider: self.vision.providerName)
        case .failure(let error):
            failures.append(error)
            response.detectionStatus = Self.status(error, provider: self.vision.providerName)
        case nil:
            break
        }
        switch await caption {
        case .success(let text):
            response.caption = text
            response.captionStatus = Self.status(nil, provider: self.vision.providerName)
        case .failure(let error):
            failures.append(error)
            response.captionStatus = Self.status(error, provider: self.vision.providerName)
        case nil:
            break
        }
        let requested = (wantsDetections ? 1 : 0) + (wantsCaption ? 1 : 0)
        if failures.count == requested, let first = failures.first {
            throw first
        }
        return response
    }

    private static func capture<T: Sendable>(_ capability: String, _ body: () async throws -> T) async -> Result<T, RPCError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(ProviderFailureMapping.rpcError(error, capability: capability))
        }
    }

    private static func detection(_ found: ImageDetection) -> Detection {
        var detection = Detection()
        detection.label = found.label
        detection.score = Float(found.score)
        var box = BoundingBox()
        box.xmin = Float(found.box.xmin)
        box.ymin = Float(found.box.ymin)
        box.xmax = Float(found.box.xmax)
        box.ymax = Float(found.box.ymax)
        detection.box = box
        return detection
    }

    private static func status(_ error: RPCError?, provider: String) -> PartStatus {
        var status = PartStatus()
        status.code = UInt32(error?.code.rawValue ?? 0)
        status.message = error?.message ?? "OK"
        status.provider = provider
        return status
    }
}
