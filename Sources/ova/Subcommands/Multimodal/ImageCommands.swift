import ArgumentParser
import Foundation
import OvaProto
import OvaProtobuf
import OvaRPC

/// `ova vision`: Vision/AnalyzeImage on an image file, printed as JSON.
struct VisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vision",
        abstract: "Detect objects in an image and caption it (JPEG, PNG or WebP).",
        discussion: "Example: ova vision photo.jpg --insecure"
    )

    @Argument(help: "The image file.")
    var image: String

    @Flag(help: "Only object detection.")
    var detectOnly = false

    @Flag(help: "Only the caption.")
    var captionOnly = false

    @Option(help: "Minimum detection score (0-1, default 0.5).")
    var minScore: Float?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            var request = AnalyzeImageRequest()
            request.image = try readImage(self.image)
            request.detectObjects = !self.captionOnly
            request.caption = !self.detectOnly
            request.minScore = self.minScore ?? 0
            let channel = try self.client.makeChannel()
            let response = try await VisionClient(channel: channel).analyzeImage(request, options: self.client.callOptions())
            print(try ProtobufJSON.encode(serialized: response.serializedBytes(), descriptor: AnalyzeImageResponse.protobufCDescriptor, pretty: true))
            await channel.close()
        }
    }
}

/// `ova sign`: Sign/RecognizeSign on one image.
struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Recognize a sign-language letter in an image.",
        discussion: "Example: ova sign hand.jpg --insecure"
    )

    @Argument(help: "The image file.")
    var image: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            var request = RecognizeSignRequest()
            request.image = try readImage(self.image)
            let channel = try self.client.makeChannel()
            let response = try await SignClient(channel: channel).recognizeSign(request, options: self.client.callOptions())
            print(try ProtobufJSON.encode(serialized: response.serializedBytes(), descriptor: SignPrediction.protobufCDescriptor, pretty: true))
            await channel.close()
        }
    }
}

func readImage(_ path: String) throws -> [UInt8] {
    try checkInputFile(path, expected: "a JPEG, PNG or WebP image")
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(path)")
    }
    return Array(data)
}
