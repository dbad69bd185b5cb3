/// The four call kinds: whether the client and/or the server send a stream of messages.
public enum MethodKind: String, Sendable, Hashable, CaseIterable {
    case unary
    case clientStreaming
    case serverStreaming
    case bidiStreaming

    /// The client may send more than one message.
    public var isClientStreaming: Bool { self == .clientStreaming || self == .bidiStreaming }
    /// The server may send more than one message.
    public var isServerStreaming: Bool { self == .serverStreaming || self == .bidiStreaming }
}

/// One RPC method of a service, as generated from the schema.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Full service name, e.g. `ova.v1.Echo`.
    public let service: String
    /// Method name as in the schema, e.g. `Unary`.
    public let name: String
    public let kind: MethodKind
    /// Full name of the request message, e.g. `ova.v1.EchoRequest`.
    public let inputType: String
    /// Full name of the response message.
    public let outputType: String
    /// `service/name`: what a call's HEADERS frame carries.
    public let path: String

    public init(service: String, name: String, kind: MethodKind, inputType: String, outputType: String) {
        self.service = service
        self.name = name
        self.kind = kind
        self.inputType = inputType
        self.outputType = outputType
        self.path = "\(service)/\(name)"
    }

    public var description: String { self.path }
}

/// A service of the schema: its name, the file that defines it and its methods.
public struct ServiceDescriptor: Sendable, Hashable {
    public let name: String
    public let file: String
    public let methods: [MethodDescriptor]

    public init(name: String, file: String, methods: [MethodDescriptor]) {
        self.name = name
        self.file = file
        self.methods = methods
    }
}
