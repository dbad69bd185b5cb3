/// Renders Swift value types for messages and enums, with their conversions to and from the
/// protoc-c structs.
struct MessageRenderer {
    let symbols: SymbolTable

    /// How a field is stored.
    enum Shape {
        case singular(ValueKind)
        case repeated(ValueKind)
        case map(key: ValueKind, value: ValueKind, entry: TypeSymbol)
    }

    struct FieldPlan {
        let field: ProtoField
        /// Unescaped Swift member name.
        let swiftName: String
        /// The C struct member as a Swift identifier.
        let cMember: String
        let shape: Shape

        var identifier: String { Naming.escaped(self.swiftName) }
    }

    struct OneofPlan {
        let name: String
        let enumName: String
        let swiftName: String
        /// The C `<oneof>_case` member.
        let cCaseMember: String
        var members: [FieldPlan]

        var identifier: String { Naming.escaped(self.swiftName) }
    }

    /// A member of the struct, in schema order (a oneof sits where its first field is).
    enum Member {
        case field(FieldPlan)
        case oneof(OneofPlan)
    }

    static let support = "OvaProtobuf.ProtobufCSupport"
    static let arenaType = "OvaProtobuf.ProtobufCArena"

    // MARK: - Planning

    func plan(_ message: ProtoMessage) throws(CodegenError) -> [Member] {
        var members: [Member] = []
        var oneofPositions: [Int: Int] = [:]  // oneof index -> position in members
        let nestedTypeNames = Set(message.nestedMessages.filter { !$0.isMapEntry }.map(\.name) + message.nestedEnums.map(\.name))
        for field in message.fields {
            let shape = try self.shape(of: field, in: message)
            let plan = FieldPlan(
                field: field,
                swiftName: Naming.memberName(Naming.lowerCamelCase(field.name)),
                cMember: Naming.escaped(Naming.cFieldName(field.name)),
                shape: shape
            )
            if let oneofIndex = field.oneofIndex, !field.isProto3Optional {
                guard oneofIndex >= 0, oneofIndex < message.oneofs.count else {
                    throw CodegenError("\(message.fullName).\(field.name): oneof index \(oneofIndex) out of range")
                }
                if case .singular = shape {} else {
                    throw CodegenError("\(message.fullName).\(field.name): repeated field in a oneof")
                }
                if let position = oneofPositions[oneofIndex], case .oneof(var oneof) = members[position] {
                    oneof.members.append(plan)
                    members[position] = .oneof(oneof)
                } else {
                    let name = message.oneofs[oneofIndex]
                    var enumName = Naming.upperCamelCase(name)
                    if nestedTypeNames.contains(enumName) { enumName += "OneOf" }
                    oneofPositions[oneofIndex] = members.count
                    members.append(.oneof(OneofPlan(
                        name: name,
                        enumName: Naming.memberName(enumName),
                        swiftName: Naming.memberName(Naming.lowerCamelCase(name)),
                        cCaseMember: Naming.escaped(name.lowercased() + "_case"),
                        members: [plan]
                    )))
                }
            } else {
                if field.isProto3Optional {
                    throw CodegenError("\(message.fullName).\(field.name): proto3 optional is not supported (protoc-c rejects it)")
                }
                members.append(.field(plan))
            }
        }
        return members
    }

    func shape(of field: ProtoField, in message: ProtoMessage) throws(CodegenError) -> Shape {
        let kind = try self.symbols.valueKind(of: field, in: message)
        guard field.isRepeated else { return .singular(kind) }
        if case .message(let symbol) = kind, let entry = symbol.message, entry.isMapEntry {
            guard entry.fields.count == 2,
                  let keyField = entry.fields.first(where: { $0.number == 1 }),
                  let valueField = entry.fields.first(where: { $0.number == 2 })
            else {
                throw CodegenError("\(entry.fullName): malformed map entry")
            }
            let key = try self.symbols.valueKind(of: keyField, in: entry)
            let value = try self.symbols.valueKind(of: valueField, in: entry)
            return .map(key: key, value: value, entry: symbol)
        }
        return .repeated(kind)
    }

    // MARK: - Swift declarations

    func propertyType(_ plan: FieldPlan) -> (type: String, defaultValue: String) {
        switch plan.shape {
        case .singular(let kind):
            if case .message = kind { return (kind.swiftType + "?", "nil") }
            return (kind.swiftType, kind.defaultValue)
        case .repeated(let kind):
            return ("[\(kind.swiftType)]", "[]")
        case .map(let key, let value, _):
            return ("[\(key.swiftType): \(value.swiftType)]", "[:]")
        }
    }

    /// A message with everything that can fail already resolved.
    struct MessagePlan {
        let message: ProtoMessage
        let symbol: TypeSymbol
        let members: [Member]
        let nested: [MessagePlan]
    }

    func makePlan(_ message: ProtoMessage) throws(CodegenError) -> MessagePlan {
        var nested: [MessagePlan] = []
        for child in message.nestedMessages where !child.isMapEntry {
            nested.append(try self.makePlan(child))
        }
        return MessagePlan(
            message: message,
            symbol: try self.symbols.symbol(message.fullName, usedBy: message.fullName),
            members: try self.plan(message),
            nested: nested
        )
    }

    func render(_ plan: MessagePlan, into p: inout CodePrinter) {
        let message = plan.message
        let symbol = plan.symbol
        let members = plan.members
        let cType = symbol.cType
        let localName = Naming.escaped(message.name)

        p.print("/// `\(message.fullName)`")
        p.block("public struct \(localName): OvaProtobuf.ProtobufMessage, OvaRPC.RPCMessage, Hashable") { p in
            // Stored properties.
            for member in members {
                switch member {
                case .field(let plan):
                    let (type, defaultValue) = self.propertyType(plan)
                    p.print("public var \(plan.identifier): \(type) = \(defaultValue)")
                case .oneof(let oneof):
                    p.print("public var \(oneof.identifier): \(oneof.enumName)? = nil")
                }
            }

            // Oneof enums and accessors.
            for member in members {
                guard case .oneof(let oneof) = member else { continue }
                p.blankLine()
                p.print("/// The `\(oneof.name)` oneof.")
                p.block("public enum \(oneof.enumName): Hashable, Sendable") { p in
                    for plan in oneof.members {
                        guard case .singular(let kind) = plan.shape else { continue }
                        p.print("case \(plan.identifier)(\(kind.swiftType))")
                    }
                }
                for plan in oneof.members {
                    guard case .singular(let kind) = plan.shape else { continue }
                    p.blankLine()
                    p.print("/// The `\(plan.field.name)` case of `\(oneof.name)`, or nil when another case (or none) is set.")
                    p.block("public var \(plan.identifier): \(kind.swiftType)?") { p in
                        p.block("get") { p in
                            p.print("if case .\(plan.identifier)(let value)? = self.\(oneof.identifier) { return value }")
                            p.print("return nil")
                        }
                        p.print("set { self.\(oneof.identifier) = newValue.map { .\(plan.identifier)($0) } }")
                    }
                }
            }

            // Nested types (map entries have none).
            for nested in message.nestedEnums {
                p.blankLine()
                self.render(nested, into: &p)
            }
            for nested in plan.nested {
                p.blankLine()
                self.render(nested, into: &p)
            }

            // Initializers.
            p.blankLine()
            p.print("public init() {}")
            if !members.isEmpty {
                p.blankLine()
                var parameters: [String] = []
                for member in members {
                    switch member {
                    case .field(let plan):
                        let (type, defaultValue) = self.propertyType(plan)
                        parameters.append("\(plan.identifier): \(type) = \(defaultValue)")
                    case .oneof(let oneof):
                        parameters.append("\(oneof.identifier): \(oneof.enumName)? = nil")
                    }
                }
                p.print("public init(")
                p.indent()
                for (index, parameter) in parameters.enumerated() {
                    p.print(parameter + (index == parameters.count - 1 ? "" : ","))
                }
                p.outdent()
                p.block(")") { p in
                    for member in members {
                        switch member {
                        case .field(let plan): p.print("self.\(plan.identifier) = \(plan.identifier)")
                        case .oneof(let oneof): p.print("self.\(oneof.identifier) = \(oneof.identifier)")
                        }
                    }
                }
            }

            // ProtobufMessage.
            p.blankLine()
            p.print("public static var protoMessageName: String { \(Naming.swiftStringLiteral(message.fullName)) }")
            p.blankLine()
            p.print("public static var protobufCDescriptor: OvaProtobuf.ProtobufCDescriptorReference { Self._cDescriptor }")
            p.blankLine()
            p.print("static let _cDescriptor = \(Self.support).descriptor(of: \(cType).self) { \(symbol.cPrefix)__init($0) }")
            p.blankLine()
            p.block("public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(OvaProtobuf.ProtobufError)") { p in
                p.print("let unpacked = try \(Self.support).unpack(Self._cDescriptor, bytes)")
                p.print("defer { \(Self.support).freeUnpacked(unpacked) }")
                p.print("self.init(_cStruct: unpacked.assumingMemoryBound(to: \(cType).self))")
            }
            p.blankLine()
            p.block("public func serialize(into buffer: inout NIOCore.ByteBuffer)") { p in
                p.closure("\(Self.support).serialize(into: &buffer) { arena in") { p in
                    p.print("UnsafeMutableRawPointer(self._cStruct(in: &arena))")
                }
            }

            // C struct to Swift.
            p.blankLine()
            p.block("init(_cStruct c: UnsafePointer<\(cType)>)") { p in
                for member in members {
                    switch member {
                    case .field(let plan): self.renderDecode(plan, into: &p)
                    case .oneof(let oneof): self.renderDecode(oneof, into: &p)
                    }
                }
            }

            // Swift to C struct.
            p.blankLine()
            p.block("func _cStruct(in arena: inout \(Self.arenaType)) -> UnsafeMutablePointer<\(cType)>") { p in
                p.print("let c = arena.allocate(\(cType).self)")
                p.print("\(symbol.cPrefix)__init(c)")
                for member in members {
                    switch member {
                    case .field(let plan): self.renderEncode(plan, into: &p)
                    case .oneof(let oneof): self.renderEncode(oneof, into: &p)
                    }
                }
                p.print("return c")
            }
        }
    }

    // MARK: - Enums

    static let reservedEnumMembers: Set<String> = ["rawValue", "name", "description", "allKnownValues", "init"]

    func render(_ protoEnum: ProtoEnum, into p: inout CodePrinter) {
        let localName = Naming.escaped(protoEnum.name)
        // First name for each number (aliases share a number).
        var seenNumbers: Set<Int32> = []
        var caseNames: [(value: ProtoEnumValue, swiftName: String, isFirst: Bool)] = []
        var usedNames: Set<String> = []
        for value in protoEnum.values {
            var swiftName = Naming.enumCaseName(value.name, enumName: protoEnum.name)
            if Self.reservedEnumMembers.contains(swiftName) || Naming.reservedMemberNames.contains(swiftName) {
                swiftName += "_"
            }
            while usedNames.contains(swiftName) { swiftName += "_" }
            usedNames.insert(swiftName)
            let isFirst = seenNumbers.insert(value.number).inserted
            caseNames.append((value, swiftName, isFirst))
        }

        p.print("/// `\(protoEnum.fullName)`: an open enum, so values unknown to this schema are kept.")
        p.block("public struct \(localName): RawRepresentable, Hashable, Sendable, CustomStringConvertible") { p in
            p.print("public var rawValue: Int32")
            p.blankLine()
            p.block("public init(rawValue: Int32)") { p in
                p.print("self.rawValue = rawValue")
            }
            p.blankLine()
            for entry in caseNames {
                p.print("/// `\(entry.value.name)`")
                p.print("public static let \(Naming.escaped(entry.swiftName)) = \(localName)(rawValue: \(entry.value.number))")
            }
            p.blankLine()
            p.print("/// Every value the schema names, in schema order.")
            let all = caseNames.map { "." + Naming.escaped($0.swiftName) }.joined(separator: ", ")
            p.print("public static let allKnownValues: [\(localName)] = [\(all)]")
            p.blankLine()
            p.print("/// The schema name of the value (used by the JSON mapping), or nil when unknown.")
            p.block("public var name: String?") { p in
                p.block("switch self.rawValue") { p in
                    p.outdent()
                    for entry in caseNames where entry.isFirst {
                        p.print("case \(entry.value.number): return \(Naming.swiftStringLiteral(entry.value.name))")
                    }
                    p.print("default: return nil")
                    p.indent()
                }
            }
            p.blankLine()
            p.print("/// The value with the schema name `name`.")
            p.block("public init?(name: String)") { p in
                p.block("switch name") { p in
                    p.outdent()
                    for entry in caseNames {
                        p.print("case \(Naming.swiftStringLiteral(entry.value.name)): self = .\(Naming.escaped(entry.swiftName))")
                    }
                    p.print("default: return nil")
                    p.indent()
                }
            }
            p.blankLine()
            p.print("public var description: String { self.name ?? String(self.rawValue) }")
        }
    }

    // MARK: - Decoding (C struct to Swift)

    /// A Swift expression for a non-message value read from the C lvalue `source`.
    func decodeValue(_ kind: ValueKind, _ source: String) -> String {
        switch kind {
        case .numeric: return source
        case .bool: return "\(source) != 0"
        case .string: return "\(Self.support).string(\(source))"
        case .bytes: return "\(Self.support).bytes(\(source))"
        case .enumeration(let symbol): return "\(symbol.swiftName)(rawValue: Int32(truncatingIfNeeded: \(source).rawValue))"
        case .message(let symbol): return "\(source).map { \(symbol.swiftName)(_cStruct: $0) } ?? \(symbol.swiftName)()"
        }
    }

    func renderDecode(_ plan: FieldPlan, into p: inout CodePrinter) {
        let source = "c.pointee.\(plan.cMember)"
        let target = "self.\(plan.identifier)"
        switch plan.shape {
        case .singular(let kind):
            if case .message(let symbol) = kind {
                p.print("if let value = \(source) { \(target) = \(symbol.swiftName)(_cStruct: value) }")
            } else {
                p.print("\(target) = \(self.decodeValue(kind, source))")
            }
        case .repeated(let kind):
            let count = "c.pointee.n_\(Naming.cFieldName(plan.field.name))"
            switch kind {
            case .numeric:
                p.print("\(target) = \(Self.support).array(\(source), count: \(count))")
            case .string:
                p.print("\(target) = \(Self.support).strings(\(source), count: \(count))")
            case .bytes:
                p.print("\(target) = \(Self.support).bytesArray(\(source), count: \(count))")
            case .bool, .enumeration, .message:
                p.print("\(target) = \(Self.support).map(\(source), count: \(count)) { (value: \(kind.cElementType)) -> \(kind.swiftType) in \(self.decodeValue(kind, "value")) }")
            }
        case .map(let key, let value, _):
            let count = "c.pointee.n_\(Naming.cFieldName(plan.field.name))"
            p.block("if \(count) > 0, let entries = \(source)") { p in
                p.print("var map: [\(key.swiftType): \(value.swiftType)] = [:]")
                p.print("map.reserveCapacity(\(count))")
                p.block("for index in 0..<\(count)") { p in
                    p.print("guard let entry = entries[index] else { continue }")
                    p.print("map[\(self.decodeValue(key, "entry.pointee.key"))] = \(self.decodeValue(value, "entry.pointee.value"))")
                }
                p.print("\(target) = map")
            }
        }
    }

    func renderDecode(_ oneof: OneofPlan, into p: inout CodePrinter) {
        p.block("switch c.pointee.\(oneof.cCaseMember).rawValue") { p in
            p.outdent()
            for plan in oneof.members {
                guard case .singular(let kind) = plan.shape else { continue }
                p.print("case \(plan.field.number): self.\(oneof.identifier) = .\(plan.identifier)(\(self.decodeValue(kind, "c.pointee.\(plan.cMember)")))")
            }
            p.print("default: break")
            p.indent()
        }
    }

    // MARK: - Encoding (Swift to C struct)

    /// A C value for the Swift value `value` (arena-allocated where needed).
    func encodeValue(_ kind: ValueKind, _ value: String) -> String {
        switch kind {
        case .numeric: return value
        case .bool: return "\(value) ? 1 : 0"
        case .string: return "arena.cString(\(value))"
        case .bytes: return "arena.binaryData(\(value))"
        case .enumeration(let symbol): return "\(symbol.cType)(rawValue: .init(truncatingIfNeeded: \(value).rawValue))"
        case .message: return "\(value)._cStruct(in: &arena)"
        }
    }

    func renderEncode(_ plan: FieldPlan, into p: inout CodePrinter) {
        let target = "c.pointee.\(plan.cMember)"
        let value = "self.\(plan.identifier)"
        switch plan.shape {
        case .singular(let kind):
            switch kind {
            case .numeric, .bool, .enumeration:
                p.print("\(target) = \(self.encodeValue(kind, value))")
            case .string, .bytes:
                // Empty values are the C defaults, and proto3 does not send them.
                p.print("if !\(value).isEmpty { \(target) = \(self.encodeValue(kind, value)) }")
            case .message:
                p.print("if let value = \(value) { \(target) = \(self.encodeValue(kind, "value")) }")
            }
        case .repeated(let kind):
            let count = "c.pointee.n_\(Naming.cFieldName(plan.field.name))"
            p.block("if !\(value).isEmpty") { p in
                p.print("\(count) = \(value).count")
                if case .numeric = kind {
                    p.print("\(target) = arena.copy(\(value))")
                } else {
                    p.closure("\(target) = \(Self.support).buildArray(\(value), in: &arena) { (value: \(kind.swiftType), arena: inout \(Self.arenaType)) -> \(kind.cElementType) in") { p in
                        p.print(self.encodeValue(kind, "value"))
                    }
                }
            }
        case .map(let key, let mapValue, let entry):
            let count = "c.pointee.n_\(Naming.cFieldName(plan.field.name))"
            p.block("if !\(value).isEmpty") { p in
                p.print("let entries = arena.allocate(UnsafeMutablePointer<\(entry.cType)>?.self, count: \(value).count)")
                p.print("var index = 0")
                p.block("for (key, value) in \(value)") { p in
                    p.print("let entry = arena.allocate(\(entry.cType).self)")
                    p.print("\(entry.cPrefix)__init(entry)")
                    p.print("entry.pointee.key = \(self.encodeValue(key, "key"))")
                    p.print("entry.pointee.value = \(self.encodeValue(mapValue, "value"))")
                    p.print("entries[index] = entry")
                    p.print("index += 1")
                }
                p.print("\(count) = \(value).count")
                p.print("\(target) = entries")
            }
        }
    }

    func renderEncode(_ oneof: OneofPlan, into p: inout CodePrinter) {
        p.block("switch self.\(oneof.identifier)") { p in
            p.outdent()
            for plan in oneof.members {
                guard case .singular(let kind) = plan.shape else { continue }
                p.print("case .\(plan.identifier)(let value)?:")
                p.indent()
                p.print("c.pointee.\(oneof.cCaseMember) = .init(rawValue: \(plan.field.number))")
                // Set even when empty: a oneof case has presence.
                p.print("c.pointee.\(plan.cMember) = \(self.encodeValue(kind, "value"))")
                p.outdent()
            }
            p.print("case nil:")
            p.print("    break")
            p.indent()
        }
    }
}
