import Foundation
import GreeterProto
import Logging
import OvaRPC
import OvaServer
import Testing

/// A team's own service: implemented against the protocol protoc-gen-ova generated from
/// Examples/Greeter/proto, served by the OVA runtime like any built-in service.
struct Greeter: GreeterHandler {
    func sayHello(request: HelloRequest, context: ServerContext) async throws -> HelloReply {
        guard !request.name.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "name is required")
        }
        var reply = HelloReply()
        reply.message = "Hello, \(request.name)!"
        return reply
    }

    func sayHelloRepeatedly(request: HelloRequest, responses: RPCResponseWriter<HelloReply>, context: ServerContext) async throws {
        for index in 0..<min(request.times, 100) {
            var reply = HelloReply()
            reply.message = "Hello #\(index + 1), \(request.name)"
            reply.index = index
            try await responses.write(reply)
        }
    }
}

@Suite("A custom service generated from the user's own .proto")
struct GreeterTests {
    @Test("served over TLS by RPCServer and called through the generated client: unary, streaming, errors")
    func greeter() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-greeter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = try ServerConfiguration.load(environment: ["OVA_DATA_DIR": directory.path, "OVA_LISTEN": "127.0.0.1:0"])
        let tls = try TLSMaterial.resolve(configuration: configuration, logger: Logger(label: "greeter"))
        var router = RPCRouter()
        router.register(Greeter())
        let server = RPCServer(
            configuration: .init(host: "127.0.0.1", port: 0, tls: try tls.makeServerTLSConfiguration()), router: router
        )
        let address = try await server.start()
        let channel = try RPCChannel(configuration: .init(
            host: "127.0.0.1", port: address.port ?? 0,
            tls: ClientTLSConfiguration(trust: .certificateFile(tls.certificatePath), serverHostname: "localhost")
        ))
        do {
            let client = GreeterClient(channel: channel)
            var request = HelloRequest()
            request.name = "Ana"
            #expect(try await client.sayHello(request).message == "Hello, Ana!")

            request.times = 3
            let replies = try await client.sayHelloRepeatedly(request) { stream in
                var replies: [HelloReply] = []
                for try await reply in stream { replies.append(reply) }
                return replies
            }
            #expect(replies.map(\.index) == [0, 1, 2])
            #expect(replies.last?.message == "Hello #3, Ana")

            do {
                _ = try await client.sayHello(HelloRequest())
                Issue.record("an empty name was accepted")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message == "name is required")
            }
            #expect(GreeterService.descriptor.name == "greeter.v1.Greeter")
            #expect(GreeterService.descriptor.methods.map(\.kind) == [.unary, .serverStreaming])
        } catch {
            await channel.close()
            await server.shutdownGracefully()
            throw error
        }
        await channel.close()
        await server.shutdownGracefully()
    }
}
