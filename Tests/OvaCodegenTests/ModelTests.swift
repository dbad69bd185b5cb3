import OvaCodegen
import Testing

@Suite struct ModelTests {
    static func files() throws -> [ProtoFile] {
        try PluginIO.decodeFileDescriptorSet(GoldenTests.descriptorSet())
    }

    @Test func methodKindsComeFromTheSchema() throws {
        let echo = try #require(Self.files().first { $0.name == "ova/v1/echo.proto" })
        let service = try #require(echo.services.first)
        #expect(service.fullName == "ova.v1.Echo")
        #expect(service.methods.map(\.name) == ["Unary", "ServerStream", "ClientStream", "Bidi"])
        #expect(service.methods.map(\.kind) == [.unary, .serverStreaming, .clientStreaming, .bidiStreaming])
        #expect(service.methods[2].inputType == "ova.v1.EchoRequest")
        #expect(service.methods[2].outputType == "ova.v1.EchoSummary")
    }

    @Test func generatedDescriptorsCarryTheKinds() throws {
        let request = try GoldenTests.request()
        let echo = try #require(request.files.first { $0.name == "ova/v1/echo.proto" })
        let source = try Generator.render(echo, in: request)
        #expect(source.contains("name: \"ServerStream\",\n            kind: .serverStreaming,"))
        #expect(source.contains("name: \"ClientStream\",\n            kind: .clientStreaming,"))
        #expect(source.contains("name: \"Bidi\",\n            kind: .bidiStreaming,"))
        #expect(source.contains("name: \"Unary\",\n            kind: .unary,"))
        #expect(source.contains("func clientStream(requests: OvaRPC.RPCRequestStream<EchoRequest>, context: OvaRPC.ServerContext) async throws -> EchoSummary"))
    }

    @Test func fieldsMapsOneofsAndNestedTypes() throws {
        let files = try Self.files()
        let echo = try #require(files.first { $0.name == "ova/v1/echo.proto" })
        let response = try #require(echo.messages.first { $0.name == "EchoResponse" })
        let metadata = try #require(response.fields.first { $0.name == "metadata" })
        #expect(metadata.isRepeated && metadata.type == .message)
        #expect(metadata.typeName == "ova.v1.EchoResponse.MetadataEntry")
        #expect(response.nestedMessages.first?.isMapEntry == true)
        let request = try #require(echo.messages.first { $0.name == "EchoRequest" })
        #expect(request.fields.first { $0.name == "fail_with" }?.jsonName == "failWith")

        let speech = try #require(files.first { $0.name == "ova/v1/speech.proto" })
        let recognize = try #require(speech.messages.first { $0.name == "RecognizeRequest" })
        #expect(recognize.oneofs == ["request"])
        #expect(recognize.fields.map(\.oneofIndex) == [0, 0])

        let health = try #require(files.first { $0.name == "ova/v1/health.proto" })
        let status = try #require(health.messages.first { $0.name == "HealthCheckResponse" }?.nestedEnums.first)
        #expect(status.fullName == "ova.v1.HealthCheckResponse.ServingStatus")
        #expect(status.values.map(\.number) == [0, 1, 2, 3])
    }

    @Test func unsupportedSchemasAreErrors() throws {
        let recursive = ProtoFile(name: "r.proto", package: "r", messages: [
            ProtoMessage(name: "Node", fullName: "r.Node", fields: [
                ProtoField(name: "next", number: 1, type: .message, typeName: "r.Node"),
            ]),
        ])
        #expect(throws: CodegenError.self) {
            try Generator.generate(PluginRequest(files: [recursive], filesToGenerate: ["r.proto"]))
        }
        // Repeated self-reference is fine (arrays are indirect).
        let tree = ProtoFile(name: "t.proto", package: "t", messages: [
            ProtoMessage(name: "Tree", fullName: "t.Tree", fields: [
                ProtoField(name: "children", number: 1, label: .repeated, type: .message, typeName: "t.Tree"),
            ]),
        ])
        let output = try Generator.generate(PluginRequest(files: [tree], filesToGenerate: ["t.proto"]))
        #expect(output.first?.content.contains("public var children: [Tree] = []") == true)

        let unknownType = ProtoFile(name: "u.proto", package: "u", messages: [
            ProtoMessage(name: "A", fullName: "u.A", fields: [
                ProtoField(name: "b", number: 1, type: .message, typeName: "google.protobuf.Timestamp"),
            ]),
        ])
        #expect(throws: CodegenError("u.A.b: unknown type google.protobuf.Timestamp")) {
            try Generator.generate(PluginRequest(files: [unknownType], filesToGenerate: ["u.proto"]))
        }

        let proto2 = ProtoFile(name: "p.proto", package: "p", syntax: "proto2")
        #expect(throws: CodegenError.self) {
            try Generator.generate(PluginRequest(files: [proto2], filesToGenerate: ["p.proto"]))
        }
    }

    @Test func keywordsAreEscapedInGeneratedCode() throws {
        let file = ProtoFile(name: "k.proto", package: "k", messages: [
            ProtoMessage(name: "Keywords", fullName: "k.Keywords", fields: [
                ProtoField(name: "default", number: 1, type: .string),
                ProtoField(name: "class", number: 2, type: .int32),
                ProtoField(name: "self", number: 3, type: .bool),
            ]),
        ])
        let output = try #require(Generator.generate(PluginRequest(files: [file], filesToGenerate: ["k.proto"])).first)
        #expect(output.content.contains("public var `default`: String = \"\""))
        // protoc-c appends "_" to C keywords; Swift reads the C member by that name.
        #expect(output.content.contains("c.pointee.class_ = self.`class`"))
        #expect(output.content.contains("public var self_: Bool = false"))
    }
}
