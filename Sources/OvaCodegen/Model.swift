/// The schema as the generator sees it: a neutral model built from protoc's descriptors, with
/// no C or Swift naming decided yet.

/// One `.proto` file.
public struct ProtoFile: Sendable, Hashable {
    /// Path as protoc names it, e.g. `ova/v1/echo.proto`.
    public var name: String
    /// e.g. `ova.v1`.
    public var package: String
    /// `proto3`, `proto2` or "" (which protoc uses for proto2).
    public var syntax: String
    public var dependencies: [String]
    public var messages: [ProtoMessage]
    public var enums: [ProtoEnum]
    public var services: [ProtoService]

    public init(
        name: String,
        package: String,
        syntax: String = "proto3",
        dependencies: [String] = [],
        messages: [ProtoMessage] = [],
        enums: [ProtoEnum] = [],
        services: [ProtoService] = []
    ) {
        self.name = name
        self.package = package
        self.syntax = syntax
        self.dependencies = dependencies
        self.messages = messages
        self.enums = enums
        self.services = services
    }
}

/// A message type; nested messages and enums are inside it.
public struct ProtoMessage: Sendable, Hashable {
    /// Short name, e.g. `MetadataEntry`.
    public var name: String
    /// Full name without a leading dot, e.g. `ova.v1.EchoResponse.MetadataEntry`.
    public var fullName: String
    public var fields: [ProtoField]
    public var oneofs: [String]
    public var nestedMessages: [ProtoMessage]
    public var nestedEnums: [ProtoEnum]
    /// protoc's synthesized entry type of a `map<K, V>` field.
    public var isMapEntry: Bool

    public init(
        name: String,
        fullName: String,
        fields: [ProtoField] = [],
        oneofs: [String] = [],
        nestedMessages: [ProtoMessage] = [],
        nestedEnums: [ProtoEnum] = [],
        isMapEntry: Bool = false
    ) {
        self.name = name
        self.fullName = fullName
        self.fields = fields
        self.oneofs = oneofs
        self.nestedMessages = nestedMessages
        self.nestedEnums = nestedEnums
        self.isMapEntry = isMapEntry
    }
}

/// Field types, numbered as in `FieldDescriptorProto.Type`.
public enum ProtoFieldType: Int32, Sendable, Hashable, CaseIterable {
    case double = 1
    case float = 2
    case int64 = 3
    case uint64 = 4
    case int32 = 5
    case fixed64 = 6
    case fixed32 = 7
    case bool = 8
    case string = 9
    case group = 10
    case message = 11
    case bytes = 12
    case uint32 = 13
    case `enum` = 14
    case sfixed32 = 15
    case sfixed64 = 16
    case sint32 = 17
    case sint64 = 18
}

/// Field labels, numbered as in `FieldDescriptorProto.Label`.
public enum ProtoFieldLabel: Int32, Sendable, Hashable {
    case optional = 1
    case required = 2
    case repeated = 3
}

public struct ProtoField: Sendable, Hashable {
    /// As written in the schema, e.g. `fail_with`.
    public var name: String
    public var number: Int32
    public var label: ProtoFieldLabel
    public var type: ProtoFieldType
    /// For message and enum fields: the full type name without a leading dot.
    public var typeName: String
    /// protoc's JSON name, e.g. `failWith`.
    public var jsonName: String
    /// Index into the message's `oneofs`.
    public var oneofIndex: Int?
    /// A proto3 `optional` field (its synthetic oneof is not a real oneof).
    public var isProto3Optional: Bool

    public init(
        name: String,
        number: Int32,
        label: ProtoFieldLabel = .optional,
        type: ProtoFieldType,
        typeName: String = "",
        jsonName: String = "",
        oneofIndex: Int? = nil,
        isProto3Optional: Bool = false
    ) {
        self.name = name
        self.number = number
        self.label = label
        self.type = type
        self.typeName = typeName
        self.jsonName = jsonName.isEmpty ? Naming.jsonName(name) : jsonName
        self.oneofIndex = oneofIndex
        self.isProto3Optional = isProto3Optional
    }

    public var isRepeated: Bool { self.label == .repeated }
}

public struct ProtoEnum: Sendable, Hashable {
    public var name: String
    public var fullName: String
    public var values: [ProtoEnumValue]

    public init(name: String, fullName: String, values: [ProtoEnumValue]) {
        self.name = name
        self.fullName = fullName
        self.values = values
    }
}

public struct ProtoEnumValue: Sendable, Hashable {
    public var name: String
    public var number: Int32

    public init(name: String, number: Int32) {
        self.name = name
        self.number = number
    }
}

public struct ProtoService: Sendable, Hashable {
    public var name: String
    /// e.g. `ova.v1.Echo`.
    public var fullName: String
    public var methods: [ProtoMethod]

    public init(name: String, fullName: String, methods: [ProtoMethod]) {
        self.name = name
        self.fullName = fullName
        self.methods = methods
    }
}

public struct ProtoMethod: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case unary
        case clientStreaming
        case serverStreaming
        case bidiStreaming
    }

    public var name: String
    /// Full type names without a leading dot.
    public var inputType: String
    public var outputType: String
    public var clientStreaming: Bool
    public var serverStreaming: Bool

    public init(name: String, inputType: String, outputType: String, clientStreaming: Bool, serverStreaming: Bool) {
        self.name = name
        self.inputType = inputType
        self.outputType = outputType
        self.clientStreaming = clientStreaming
        self.serverStreaming = serverStreaming
    }

    public var kind: Kind {
        switch (self.clientStreaming, self.serverStreaming) {
        case (false, false): return .unary
        case (true, false): return .clientStreaming
        case (false, true): return .serverStreaming
        case (true, true): return .bidiStreaming
        }
    }
}

/// What protoc asked for.
public struct PluginRequest: Sendable, Hashable {
    /// Every file protoc parsed (the ones to generate and their imports), in dependency order.
    public var files: [ProtoFile]
    public var filesToGenerate: [String]
    public var parameter: String

    public init(files: [ProtoFile], filesToGenerate: [String], parameter: String = "") {
        self.files = files
        self.filesToGenerate = filesToGenerate
        self.parameter = parameter
    }
}

/// One output file.
public struct GeneratedFile: Sendable, Hashable {
    public var name: String
    public var content: String

    public init(name: String, content: String) {
        self.name = name
        self.content = content
    }
}

/// A problem that makes generation impossible; reported through the response's `error`.
public struct CodegenError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
