import GreeterProto
import OvaRPC
import OvaTestServer
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
        var router = RPCRouter()
        router.register(Greeter())
        try await RouterTestServer.start(router: router).run { _, channel in
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
        }
    }
}
