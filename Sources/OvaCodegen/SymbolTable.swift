/// Every message and enum of the request, by full name, with the names the generated Swift and
/// the protoc-c output give it.
struct TypeSymbol: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case message(ProtoMessage)
        case enumeration(ProtoEnum)
    }

    let fullName: String
    /// The Swift type path, e.g. `HealthCheckResponse.ServingStatus`.
    let swiftName: String
    /// The protoc-c type, e.g. `Ova__V1__HealthCheckResponse__ServingStatus`.
    let cType: String
    /// The protoc-c function prefix, e.g. `ova__v1__health_check_response`.
    let cPrefix: String
    /// The defining file.
    let file: String
    let kind: Kind

    var message: ProtoMessage? {
        if case .message(let message) = self.kind { return message }
        return nil
    }
}

/// The value type of a field, ignoring repeated/map.
enum ValueKind: Sendable, Hashable {
    /// A numeric type whose Swift and C representations are the same (`Int32` / `int32_t`).
    case numeric(String)
    case bool
    case string
    case bytes
    case enumeration(TypeSymbol)
    case message(TypeSymbol)

    /// The Swift type of one value.
    var swiftType: String {
        switch self {
        case .numeric(let type): return type
        case .bool: return "Bool"
        case .string: return "String"
        case .bytes: return "[UInt8]"
        case .enumeration(let symbol): return symbol.swiftName
        case .message(let symbol): return symbol.swiftName
        }
    }

    /// The C type of one value as Swift imports it (the element type of a repeated field).
    var cElementType: String {
        switch self {
        case .numeric(let type): return type
        case .bool: return "protobuf_c_boolean"
        case .string: return "UnsafeMutablePointer<CChar>?"
        case .bytes: return "ProtobufCBinaryData"
        case .enumeration(let symbol): return symbol.cType
        case .message(let symbol): return "UnsafeMutablePointer<\(symbol.cType)>?"
        }
    }

    /// The Swift default value of a singular field.
    var defaultValue: String {
        switch self {
        case .numeric: return "0"
        case .bool: return "false"
        case .string: return "\"\""
        case .bytes: return "[]"
        case .enumeration(let symbol): return "\(symbol.swiftName)(rawValue: 0)"
        case .message(let symbol): return "\(symbol.swiftName)()"
        }
    }
}

struct SymbolTable: Sendable {
    private(set) var symbols: [String: TypeSymbol] = [:]
    /// The package of each file, by file name.
    private(set) var packages: [String: String] = [:]

    init(files: [ProtoFile]) throws(CodegenError) {
        for file in files {
            self.packages[file.name] = file.package
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for message in file.messages {
                try self.add(message, swiftScope: "", file: file.name, prefix: prefix)
            }
            for protoEnum in file.enums {
                try self.add(protoEnum, swiftScope: "", file: file.name)
            }
        }
    }

    private mutating func add(_ message: ProtoMessage, swiftScope: String, file: String, prefix: String) throws(CodegenError) {
        let swiftName = swiftScope.isEmpty ? Naming.escaped(message.name) : swiftScope + "." + Naming.escaped(message.name)
        try self.insert(TypeSymbol(
            fullName: message.fullName,
            swiftName: swiftName,
            cType: Naming.cTypeName(message.fullName),
            cPrefix: Naming.cFunctionPrefix(message.fullName),
            file: file,
            kind: .message(message)
        ))
        for nested in message.nestedMessages {
            try self.add(nested, swiftScope: swiftName, file: file, prefix: prefix)
        }
        for nested in message.nestedEnums {
            try self.add(nested, swiftScope: swiftName, file: file)
        }
    }

    private mutating func add(_ protoEnum: ProtoEnum, swiftScope: String, file: String) throws(CodegenError) {
        let swiftName = swiftScope.isEmpty ? Naming.escaped(protoEnum.name) : swiftScope + "." + Naming.escaped(protoEnum.name)
        try self.insert(TypeSymbol(
            fullName: protoEnum.fullName,
            swiftName: swiftName,
            cType: Naming.cTypeName(protoEnum.fullName),
            cPrefix: Naming.cFunctionPrefix(protoEnum.fullName),
            file: file,
            kind: .enumeration(protoEnum)
        ))
    }

    private mutating func insert(_ symbol: TypeSymbol) throws(CodegenError) {
        if self.symbols[symbol.fullName] != nil {
            throw CodegenError("\(symbol.fullName) is defined twice")
        }
        self.symbols[symbol.fullName] = symbol
    }

    func package(ofFile name: String) -> String {
        self.packages[name] ?? ""
    }

    func symbol(_ fullName: String, usedBy user: String) throws(CodegenError) -> TypeSymbol {
        guard let symbol = self.symbols[fullName] else {
            throw CodegenError("\(user): unknown type \(fullName)")
        }
        return symbol
    }

    /// The value kind of a field (of its elements, for repeated fields).
    func valueKind(of field: ProtoField, in message: ProtoMessage) throws(CodegenError) -> ValueKind {
        let user = "\(message.fullName).\(field.name)"
        switch field.type {
        case .double: return .numeric("Double")
        case .float: return .numeric("Float")
        case .int64, .sfixed64, .sint64: return .numeric("Int64")
        case .uint64, .fixed64: return .numeric("UInt64")
        case .int32, .sfixed32, .sint32: return .numeric("Int32")
        case .uint32, .fixed32: return .numeric("UInt32")
        case .bool: return .bool
        case .string: return .string
        case .bytes: return .bytes
        case .enum: return .enumeration(try self.symbol(field.typeName, usedBy: user))
        case .message: return .message(try self.symbol(field.typeName, usedBy: user))
        case .group: throw CodegenError("\(user): groups are not supported")
        }
    }
}
