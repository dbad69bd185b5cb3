// Hand-written equivalent of what protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4) generates
// for the `ova.v1.Echo` service in proto/ova/v1/echo.proto: method descriptors, the three
// layers of service protocols with their default implementations, and a client. Written by
// hand so the benchmark does not need the protoc plugins; the shape follows the generated
// files in grpc-swift-nio-transport's performance tests.

import GRPCCore
import GRPCProtobuf

// MARK: - ova.v1.Echo

public enum Ova_V1_Echo: Sendable {
    public static let descriptor = GRPCCore.ServiceDescriptor(fullyQualifiedService: "ova.v1.Echo")

    public enum Method: Sendable {
        public enum Unary: Sendable {
            public typealias Input = Ova_V1_EchoRequest
            public typealias Output = Ova_V1_EchoResponse
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "ova.v1.Echo"),
                method: "Unary",
                type: .unary
            )
        }
        public enum ServerStream: Sendable {
            public typealias Input = Ova_V1_EchoRequest
            public typealias Output = Ova_V1_EchoResponse
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "ova.v1.Echo"),
                method: "ServerStream",
                type: .serverStreaming
            )
        }
        public enum ClientStream: Sendable {
            public typealias Input = Ova_V1_EchoRequest
            public typealias Output = Ova_V1_EchoSummary
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "ova.v1.Echo"),
                method: "ClientStream",
                type: .clientStreaming
            )
        }
        public enum Bidi: Sendable {
            public typealias Input = Ova_V1_EchoRequest
            public typealias Output = Ova_V1_EchoResponse
            public static let descriptor = GRPCCore.MethodDescriptor(
                service: GRPCCore.ServiceDescriptor(fullyQualifiedService: "ova.v1.Echo"),
                method: "Bidi",
                type: .bidirectionalStreaming
            )
        }
        public static let descriptors: [GRPCCore.MethodDescriptor] = [
            Unary.descriptor,
            ServerStream.descriptor,
            ClientStream.descriptor,
            Bidi.descriptor,
        ]
    }
}

// MARK: ova.v1.Echo (server)

extension Ova_V1_Echo {
    /// Streaming variant of the service protocol: every method sees streams.
    public protocol StreamingServiceProtocol: GRPCCore.RegistrableRPCService {
        func unary(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>

        func serverStream(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>

        func clientStream(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoSummary>

        func bidi(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>
    }

    /// Service protocol with request/response metadata.
    public protocol ServiceProtocol: Ova_V1_Echo.StreamingServiceProtocol {
        func unary(
            request: GRPCCore.ServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Ova_V1_EchoResponse>

        func serverStream(
            request: GRPCCore.ServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>

        func clientStream(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.ServerResponse<Ova_V1_EchoSummary>

        func bidi(
            request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
            context: GRPCCore.ServerContext
        ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>
    }

    /// Simplest service protocol: plain messages in, plain messages out.
    public protocol SimpleServiceProtocol: Ova_V1_Echo.ServiceProtocol {
        func unary(
            request: Ova_V1_EchoRequest,
            context: GRPCCore.ServerContext
        ) async throws -> Ova_V1_EchoResponse

        func serverStream(
            request: Ova_V1_EchoRequest,
            response: GRPCCore.RPCWriter<Ova_V1_EchoResponse>,
            context: GRPCCore.ServerContext
        ) async throws

        func clientStream(
            request: GRPCCore.RPCAsyncSequence<Ova_V1_EchoRequest, any Swift.Error>,
            context: GRPCCore.ServerContext
        ) async throws -> Ova_V1_EchoSummary

        func bidi(
            request: GRPCCore.RPCAsyncSequence<Ova_V1_EchoRequest, any Swift.Error>,
            response: GRPCCore.RPCWriter<Ova_V1_EchoResponse>,
            context: GRPCCore.ServerContext
        ) async throws
    }
}

// Default implementation of 'registerMethods(with:)'.
extension Ova_V1_Echo.StreamingServiceProtocol {
    public func registerMethods<Transport>(with router: inout GRPCCore.RPCRouter<Transport>) where Transport: GRPCCore.ServerTransport {
        router.registerHandler(
            forMethod: Ova_V1_Echo.Method.Unary.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoResponse>(),
            handler: { request, context in
                try await self.unary(request: request, context: context)
            }
        )
        router.registerHandler(
            forMethod: Ova_V1_Echo.Method.ServerStream.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoResponse>(),
            handler: { request, context in
                try await self.serverStream(request: request, context: context)
            }
        )
        router.registerHandler(
            forMethod: Ova_V1_Echo.Method.ClientStream.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoSummary>(),
            handler: { request, context in
                try await self.clientStream(request: request, context: context)
            }
        )
        router.registerHandler(
            forMethod: Ova_V1_Echo.Method.Bidi.descriptor,
            deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoRequest>(),
            serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoResponse>(),
            handler: { request, context in
                try await self.bidi(request: request, context: context)
            }
        )
    }
}

// Default implementation of streaming methods from 'StreamingServiceProtocol'.
extension Ova_V1_Echo.ServiceProtocol {
    public func unary(
        request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse> {
        let response = try await self.unary(request: GRPCCore.ServerRequest(stream: request), context: context)
        return GRPCCore.StreamingServerResponse(single: response)
    }

    public func serverStream(
        request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse> {
        try await self.serverStream(request: GRPCCore.ServerRequest(stream: request), context: context)
    }

    public func clientStream(
        request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoSummary> {
        let response = try await self.clientStream(request: request, context: context)
        return GRPCCore.StreamingServerResponse(single: response)
    }
}

// Default implementation of methods from 'ServiceProtocol'.
extension Ova_V1_Echo.SimpleServiceProtocol {
    public func unary(
        request: GRPCCore.ServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Ova_V1_EchoResponse> {
        GRPCCore.ServerResponse<Ova_V1_EchoResponse>(
            message: try await self.unary(request: request.message, context: context),
            metadata: [:]
        )
    }

    public func serverStream(
        request: GRPCCore.ServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse> {
        GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>(
            metadata: [:],
            producer: { writer in
                try await self.serverStream(request: request.message, response: writer, context: context)
                return [:]
            }
        )
    }

    public func clientStream(
        request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.ServerResponse<Ova_V1_EchoSummary> {
        GRPCCore.ServerResponse<Ova_V1_EchoSummary>(
            message: try await self.clientStream(request: request.messages, context: context),
            metadata: [:]
        )
    }

    public func bidi(
        request: GRPCCore.StreamingServerRequest<Ova_V1_EchoRequest>,
        context: GRPCCore.ServerContext
    ) async throws -> GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse> {
        GRPCCore.StreamingServerResponse<Ova_V1_EchoResponse>(
            metadata: [:],
            producer: { writer in
                try await self.bidi(request: request.messages, response: writer, context: context)
                return [:]
            }
        )
    }
}

// MARK: ova.v1.Echo (client)

extension Ova_V1_Echo {
    public struct Client<Transport>: Sendable where Transport: GRPCCore.ClientTransport {
        private let client: GRPCCore.GRPCClient<Transport>

        public init(wrapping client: GRPCCore.GRPCClient<Transport>) {
            self.client = client
        }

        public func unary<Result>(
            request: GRPCCore.ClientRequest<Ova_V1_EchoRequest>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Ova_V1_EchoResponse>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.unary(
                request: request,
                descriptor: Ova_V1_Echo.Method.Unary.descriptor,
                serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoRequest>(),
                deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoResponse>(),
                options: options,
                onResponse: handleResponse
            )
        }

        public func serverStream<Result>(
            request: GRPCCore.ClientRequest<Ova_V1_EchoRequest>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.StreamingClientResponse<Ova_V1_EchoResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable {
            try await self.client.serverStreaming(
                request: request,
                descriptor: Ova_V1_Echo.Method.ServerStream.descriptor,
                serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoRequest>(),
                deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoResponse>(),
                options: options,
                onResponse: handleResponse
            )
        }

        public func clientStream<Result>(
            request: GRPCCore.StreamingClientRequest<Ova_V1_EchoRequest>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.ClientResponse<Ova_V1_EchoSummary>) async throws -> Result = { response in
                try response.message
            }
        ) async throws -> Result where Result: Sendable {
            try await self.client.clientStreaming(
                request: request,
                descriptor: Ova_V1_Echo.Method.ClientStream.descriptor,
                serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoRequest>(),
                deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoSummary>(),
                options: options,
                onResponse: handleResponse
            )
        }

        public func bidi<Result>(
            request: GRPCCore.StreamingClientRequest<Ova_V1_EchoRequest>,
            options: GRPCCore.CallOptions = .defaults,
            onResponse handleResponse: @Sendable @escaping (GRPCCore.StreamingClientResponse<Ova_V1_EchoResponse>) async throws -> Result
        ) async throws -> Result where Result: Sendable {
            try await self.client.bidirectionalStreaming(
                request: request,
                descriptor: Ova_V1_Echo.Method.Bidi.descriptor,
                serializer: GRPCProtobuf.ProtobufSerializer<Ova_V1_EchoRequest>(),
                deserializer: GRPCProtobuf.ProtobufDeserializer<Ova_V1_EchoResponse>(),
                options: options,
                onResponse: handleResponse
            )
        }
    }
}
