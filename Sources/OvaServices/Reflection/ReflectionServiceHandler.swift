import OvaProto
import OvaRPC

/// ova.v1.Reflection: the schema's services (with call kinds and whether this server
/// implements them) and the shape of any message, read from the protobuf-c descriptors.
public struct ReflectionServiceHandler: ReflectionHandler {
    let implemented: Set<String>

    /// - Parameter implementedServices: full names of the services that have handlers.
    public init(implementedServices: Set<String>) {
        self.implemented = implementedServices
    }

    public func listServices(request: ListServicesRequest, context: OvaRPC.ServerContext) async throws -> ListServicesResponse {
        var response = ListServicesResponse()
        response.services = OvaSchema.services.map(self.describe)
        return response
    }

    public func describeService(request: DescribeServiceRequest, context: OvaRPC.ServerContext) async throws -> ServiceDescription {
        guard let service = OvaSchema.services.first(where: { $0.name == request.service }) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        return self.describe(service)
    }

    public func describeMessage(request: DescribeMessageRequest, context: OvaRPC.ServerContext) async throws -> MessageDescription {
        guard let type = OvaSchema.messageType(named: request.message) else {
            throw RPCError(code: .notFound, message: "unknown message \"\(request.message)\"")
        }
        return Self.describe(messageDescriptor: type.protobufCDescriptor)
    }

    private func describe(_ service: OvaRPC.ServiceDescriptor) -> ServiceDescription {
        var description = ServiceDescription()
        description.name = service.name
        description.file = service.file
        description.implemented = self.implemented.contains(service.name)
        description.methods = service.methods.map { method in
            var m = MethodDescription()
            m.name = method.name
            m.path = method.path
            m.inputType = method.inputType
            m.outputType = method.outputType
            switch method.kind {
            case .unary: m.kind = .unary
            case .clientStreaming: m.kind = .clientStreaming
            case .serverStreaming: m.kind = .serverStreaming
            case .bidiStreaming: m.kind = .bidiStreaming
            }
            return m
        }
        return description
    }

    static func describe(messageDescriptor: ProtobufCDescriptorReference) -> MessageDescription {
        var description = MessageDescription()
        description.name = messageDescriptor.name
        description.fields = ProtobufFieldInfo.fields(of: messageDescriptor).map { info in
            var field = FieldDescription()
            field.name = info.name
            field.number = info.number
            field.type = info.type
            field.typeName = info.typeName
            field.repeated = info.isRepeated
            field.oneof = info.oneofKey.map { "oneof@\($0)" } ?? ""
            return field
        }
        return description
    }
}
