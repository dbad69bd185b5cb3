import CProtobufC

/// The proto3 JSON mapping, driven by protobuf-c descriptors so it works for any message (the
/// CLI and logs use it with messages known only by descriptor).
///
/// Output: lowerCamelCase field names; fields with default values omitted (oneof members are
/// always written when set); 64-bit integers as strings; bytes as standard base64; enums by name
/// (by number when the schema does not name the value); NaN and infinities as `"NaN"`,
/// `"Infinity"`, `"-Infinity"`; maps as objects; repeated fields as arrays.
///
/// Input accepts the JSON name or the schema name of each field, numbers or strings for every
/// numeric type, enum names or numbers, and `null` for "default". Unknown fields, wrong JSON
/// types and out-of-range numbers are errors that name the field.
public enum ProtobufJSON {
    /// The JSON form of a serialized message.
    public static func encode(
        serialized bytes: [UInt8],
        descriptor: ProtobufCDescriptorReference,
        pretty: Bool = false
    ) throws(ProtobufError) -> String {
        let unpacked: Result<UnsafeMutableRawPointer, ProtobufError> = bytes.withUnsafeBytes { raw in
            do throws(ProtobufError) {
                return .success(try ProtobufCSupport.unpack(descriptor, raw))
            } catch {
                return .failure(error)
            }
        }
        let message = try unpacked.get()
        defer { ProtobufCSupport.freeUnpacked(message) }
        var writer = JSONWriter(pretty: pretty)
        Self.writeMessage(UnsafeRawPointer(message), descriptor.pointer, into: &writer)
        return writer.output
    }

    /// The serialized form of a message given as JSON.
    public static func decode(json: String, descriptor: ProtobufCDescriptorReference) throws(ProtobufError) -> [UInt8] {
        let value = try JSONParser.parse(json)
        guard case .object(let members) = value else {
            throw ProtobufError("expected a JSON object for \(descriptor.name)")
        }
        var arena = ProtobufCArena()
        let message = try Self.buildMessage(members, descriptor.pointer, path: "", arena: &arena)
        let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = buffer.baseAddress.map { protobuf_c_message_pack(base, $0) } ?? 0
        }
        _ = consume arena
        return bytes
    }

    // MARK: - Descriptor helpers

    typealias Field = ProtobufCFieldDescriptor

    static func fields(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> UnsafeBufferPointer<Field> {
        UnsafeBufferPointer(start: descriptor.pointee.fields, count: Int(descriptor.pointee.n_fields))
    }

    static func name(_ field: Field) -> String {
        field.name.map { String(cString: $0) } ?? ""
    }

    /// protoc's JSON name: `fail_with` → `failWith`.
    static func jsonName(_ name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func isOneofMember(_ field: Field) -> Bool {
        field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0
    }

    static func messageDescriptor(_ field: Field) -> UnsafePointer<ProtobufCMessageDescriptor>? {
        field.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
    }

    static func enumDescriptor(_ field: Field) -> UnsafePointer<ProtobufCEnumDescriptor>? {
        field.descriptor?.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)
    }

    /// The key and value fields when `field` is a `map<K, V>` (a repeated field of protoc's
    /// synthesized `<Field>Entry` message with `key = 1` and `value = 2`).
    static func mapEntry(_ field: Field) -> (entry: UnsafePointer<ProtobufCMessageDescriptor>, key: Field, value: Field)? {
        guard field.label == PROTOBUF_C_LABEL_REPEATED, field.type == PROTOBUF_C_TYPE_MESSAGE,
              let entry = Self.messageDescriptor(field), entry.pointee.n_fields == 2
        else { return nil }
        let entryFields = Self.fields(entry)
        let key = entryFields[0]
        let value = entryFields[1]
        guard key.id == 1, value.id == 2, Self.name(key) == "key", Self.name(value) == "value",
              let shortName = entry.pointee.short_name
        else { return nil }
        var expected = Self.jsonName(Self.name(field))
        if let first = expected.first { expected = first.uppercased() + expected.dropFirst() }
        guard String(cString: shortName) == expected + "Entry" else { return nil }
        return (entry, key, value)
    }

    /// Bytes one value of `type` takes in a C struct or array.
    static func valueSize(_ type: ProtobufCType) -> Int {
        switch type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32,
             PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_FLOAT,
             PROTOBUF_C_TYPE_ENUM:
            return 4
        case PROTOBUF_C_TYPE_BOOL:
            return MemoryLayout<protobuf_c_boolean>.size
        case PROTOBUF_C_TYPE_BYTES:
            return MemoryLayout<ProtobufCBinaryData>.size
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_MESSAGE:
            return MemoryLayout<UnsafeRawPointer?>.size
        default:
            return 8
        }
    }

    // MARK: - Encoding

    /// Whether a field of the C message at `base` is set (proto3: not the default value).
    static func isPresent(_ field: Field, in base: UnsafeRawPointer) -> Bool {
        let member = base + Int(field.offset)
        if Self.isOneofMember(field) {
            return base.load(fromByteOffset: Int(field.quantifier_offset), as: UInt32.self) == field.id
        }
        switch field.label {
        case PROTOBUF_C_LABEL_REPEATED:
            return base.load(fromByteOffset: Int(field.quantifier_offset), as: Int.self) > 0
        case PROTOBUF_C_LABEL_OPTIONAL where field.type != PROTOBUF_C_TYPE_STRING && field.type != PROTOBUF_C_TYPE_MESSAGE:
            return base.load(fromByteOffset: Int(field.quantifier_offset), as: protobuf_c_boolean.self) != 0
        case PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_LABEL_REQUIRED:
            if field.type == PROTOBUF_C_TYPE_STRING || field.type == PROTOBUF_C_TYPE_MESSAGE {
                return member.load(as: UnsafeRawPointer?.self) != nil
            }
            return true
        default:
            break
        }
        // proto3 implicit presence: anything but the zero value.
        switch field.type {
        case PROTOBUF_C_TYPE_STRING:
            guard let string = member.load(as: UnsafePointer<CChar>?.self) else { return false }
            return string.pointee != 0
        case PROTOBUF_C_TYPE_MESSAGE:
            return member.load(as: UnsafeRawPointer?.self) != nil
        case PROTOBUF_C_TYPE_BYTES:
            return member.load(as: ProtobufCBinaryData.self).len > 0
        default:
            switch Self.valueSize(field.type) {
            case 4: return member.load(as: UInt32.self) != 0
            default: return member.load(as: UInt64.self) != 0
            }
        }
    }

    static func writeMessage(_ base: UnsafeRawPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, into writer: inout JSONWriter) {
        writer.beginObject()
        for field in Self.fields(descriptor) where Self.isPresent(field, in: base) {
            writer.key(Self.jsonName(Self.name(field)))
            let member = base + Int(field.offset)
            if field.label == PROTOBUF_C_LABEL_REPEATED && !Self.isOneofMember(field) {
                let count = base.load(fromByteOffset: Int(field.quantifier_offset), as: Int.self)
                guard let elements = member.load(as: UnsafeRawPointer?.self) else {
                    writer.beginArray()
                    writer.endArray()
                    continue
                }
                if let map = Self.mapEntry(field) {
                    writer.beginObject()
                    for index in 0..<count {
                        guard let entry = elements.load(fromByteOffset: index * MemoryLayout<UnsafeRawPointer?>.size, as: UnsafeRawPointer?.self) else { continue }
                        writer.key(Self.mapKeyString(map.key, entry + Int(map.key.offset)))
                        Self.writeValue(map.value, entry + Int(map.value.offset), into: &writer)
                    }
                    writer.endObject()
                } else {
                    let size = Self.valueSize(field.type)
                    writer.beginArray()
                    for index in 0..<count {
                        Self.writeValue(field, elements + index * size, into: &writer)
                    }
                    writer.endArray()
                }
            } else {
                Self.writeValue(field, member, into: &writer)
            }
        }
        writer.endObject()
    }

    static func mapKeyString(_ field: Field, _ pointer: UnsafeRawPointer) -> String {
        switch field.type {
        case PROTOBUF_C_TYPE_STRING:
            return pointer.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? ""
        case PROTOBUF_C_TYPE_BOOL:
            return pointer.load(as: protobuf_c_boolean.self) != 0 ? "true" : "false"
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            return String(pointer.load(as: Int32.self))
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            return String(pointer.load(as: UInt32.self))
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            return String(pointer.load(as: Int64.self))
        default:
            return String(pointer.load(as: UInt64.self))
        }
    }

    static func floatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value < 0 ? "\"-Infinity\"" : "\"Infinity\"" }
        return value.description
    }

    /// Writes one value of `field`'s type stored at `pointer`.
    static func writeValue(_ field: Field, _ pointer: UnsafeRawPointer, into writer: inout JSONWriter) {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            writer.raw(String(pointer.load(as: Int32.self)))
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            writer.raw(String(pointer.load(as: UInt32.self)))
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            writer.string(String(pointer.load(as: Int64.self)))
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            writer.string(String(pointer.load(as: UInt64.self)))
        case PROTOBUF_C_TYPE_FLOAT:
            writer.raw(Self.floatingPoint(pointer.load(as: Float.self)))
        case PROTOBUF_C_TYPE_DOUBLE:
            writer.raw(Self.floatingPoint(pointer.load(as: Double.self)))
        case PROTOBUF_C_TYPE_BOOL:
            writer.raw(pointer.load(as: protobuf_c_boolean.self) != 0 ? "true" : "false")
        case PROTOBUF_C_TYPE_ENUM:
            let number = pointer.load(as: Int32.self)
            if let descriptor = Self.enumDescriptor(field),
               let value = protobuf_c_enum_descriptor_get_value(descriptor, CInt(number)),
               let name = value.pointee.name {
                writer.string(String(cString: name))
            } else {
                writer.raw(String(number))
            }
        case PROTOBUF_C_TYPE_STRING:
            writer.string(pointer.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? "")
        case PROTOBUF_C_TYPE_BYTES:
            let data = pointer.load(as: ProtobufCBinaryData.self)
            if let base = data.data, data.len > 0 {
                writer.string(Base64.encode(UnsafeBufferPointer(start: base, count: data.len)))
            } else {
                writer.string("")
            }
        case PROTOBUF_C_TYPE_MESSAGE:
            if let message = pointer.load(as: UnsafeRawPointer?.self), let descriptor = Self.messageDescriptor(field) {
                Self.writeMessage(message, descriptor, into: &writer)
            } else {
                writer.beginObject()
                writer.endObject()
            }
        default:
            writer.raw("null")
        }
    }

    // MARK: - Decoding

    static func fieldError(_ path: String, _ message: String) -> ProtobufError {
        ProtobufError("field \"\(path)\": \(message)")
    }

    /// Builds the C message of `descriptor` in `arena` from JSON object members.
    static func buildMessage(
        _ members: [JSONMember],
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        path: String,
        arena: inout ProtobufCArena
    ) throws(ProtobufError) -> UnsafeMutableRawPointer {
        let memory = arena.allocateBytes(descriptor.pointee.sizeof_message, alignment: 16)
        protobuf_c_message_init(descriptor, memory)
        let fields = Self.fields(descriptor)
        var seen: Set<UInt32> = []
        var oneofs: [UInt32: String] = [:]  // quantifier offset -> member set
        for member in members {
            let key = member.key
            let value = member.value
            guard let field = fields.first(where: { let name = Self.name($0); return name == key || Self.jsonName(name) == key }) else {
                let messageName = descriptor.pointee.name.map { String(cString: $0) } ?? "message"
                throw ProtobufError(path.isEmpty
                    ? "unknown field \"\(key)\" in \(messageName)"
                    : "field \"\(path)\": unknown field \"\(key)\" in \(messageName)")
            }
            let fieldPath = path.isEmpty ? Self.jsonName(Self.name(field)) : path + "." + Self.jsonName(Self.name(field))
            guard seen.insert(field.id).inserted else {
                throw Self.fieldError(fieldPath, "given more than once")
            }
            if case .null = value { continue }
            if Self.isOneofMember(field) {
                if let other = oneofs[field.quantifier_offset] {
                    throw Self.fieldError(fieldPath, "\"\(other)\" of the same oneof is already set")
                }
                oneofs[field.quantifier_offset] = Self.jsonName(Self.name(field))
                memory.storeBytes(of: field.id, toByteOffset: Int(field.quantifier_offset), as: UInt32.self)
                try Self.storeValue(value, field, at: memory + Int(field.offset), path: fieldPath, arena: &arena)
                continue
            }
            if field.label == PROTOBUF_C_LABEL_REPEATED {
                try Self.storeRepeated(value, field, in: memory, path: fieldPath, arena: &arena)
                continue
            }
            try Self.storeValue(value, field, at: memory + Int(field.offset), path: fieldPath, arena: &arena)
            if field.label == PROTOBUF_C_LABEL_OPTIONAL && field.type != PROTOBUF_C_TYPE_STRING && field.type != PROTOBUF_C_TYPE_MESSAGE {
                memory.storeBytes(of: 1, toByteOffset: Int(field.quantifier_offset), as: protobuf_c_boolean.self)
            }
        }
        return memory
    }

    static func storeRepeated(
        _ value: JSONValue,
        _ field: Field,
        in memory: UnsafeMutableRawPointer,
        path: String,
        arena: inout ProtobufCArena
    ) throws(ProtobufError) {
        if let map = Self.mapEntry(field) {
            guard case .object(let members) = value else {
                throw Self.fieldError(path, "expected an object")
            }
            let entries = arena.allocateBytes(max(members.count, 1) * MemoryLayout<UnsafeRawPointer?>.size, alignment: 8)
            for (index, member) in members.enumerated() {
                let entryPath = path + "[\"" + member.key + "\"]"
                let entry = arena.allocateBytes(map.entry.pointee.sizeof_message, alignment: 16)
                protobuf_c_message_init(map.entry, entry)
                try Self.storeMapKey(member.key, map.key, at: entry + Int(map.key.offset), path: entryPath, arena: &arena)
                if case .null = member.value {} else {
                    try Self.storeValue(member.value, map.value, at: entry + Int(map.value.offset), path: entryPath, arena: &arena)
                }
                entries.storeBytes(of: UnsafeRawPointer(entry), toByteOffset: index * MemoryLayout<UnsafeRawPointer?>.size, as: UnsafeRawPointer?.self)
            }
            memory.storeBytes(of: members.count, toByteOffset: Int(field.quantifier_offset), as: Int.self)
            memory.storeBytes(of: UnsafeRawPointer(entries), toByteOffset: Int(field.offset), as: UnsafeRawPointer?.self)
            return
        }
        guard case .array(let elements) = value else {
            throw Self.fieldError(path, "expected an array")
        }
        let size = Self.valueSize(field.type)
        let storage = arena.allocateBytes(max(elements.count, 1) * size, alignment: 8)
        for (index, element) in elements.enumerated() {
            let elementPath = path + "[\(index)]"
            if case .null = element {
                throw Self.fieldError(elementPath, "null is not allowed in a repeated field")
            }
            // Zero first, so a message element is never left uninitialized.
            (storage + index * size).initializeMemory(as: UInt8.self, repeating: 0, count: size)
            try Self.storeValue(element, field, at: storage + index * size, path: elementPath, arena: &arena)
        }
        memory.storeBytes(of: elements.count, toByteOffset: Int(field.quantifier_offset), as: Int.self)
        memory.storeBytes(of: UnsafeRawPointer(storage), toByteOffset: Int(field.offset), as: UnsafeRawPointer?.self)
    }

    static func storeMapKey(
        _ key: String,
        _ field: Field,
        at pointer: UnsafeMutableRawPointer,
        path: String,
        arena: inout ProtobufCArena
    ) throws(ProtobufError) {
        switch field.type {
        case PROTOBUF_C_TYPE_STRING:
            pointer.storeBytes(of: UnsafePointer(arena.cString(key)), as: UnsafePointer<CChar>?.self)
        case PROTOBUF_C_TYPE_BOOL:
            switch key {
            case "true": pointer.storeBytes(of: 1, as: protobuf_c_boolean.self)
            case "false": pointer.storeBytes(of: 0, as: protobuf_c_boolean.self)
            default: throw Self.fieldError(path, "map key must be \"true\" or \"false\"")
            }
        default:
            try Self.storeValue(.string(key), field, at: pointer, path: path, arena: &arena)
        }
    }

    static func integer<T: FixedWidthInteger>(_ value: JSONValue, _ type: T.Type, typeName: String, path: String) throws(ProtobufError) -> T {
        let text: String
        switch value {
        case .number(let number): text = number
        case .string(let string): text = string
        default: throw Self.fieldError(path, "expected a number")
        }
        if let exact = T(text) { return exact }
        // Exponent or fraction forms ("1e3", "5.0") are accepted when they are whole numbers.
        if let double = Double(text), double.isFinite, double.rounded() == double {
            if let exact = T(exactly: double) { return exact }
            throw Self.fieldError(path, "\(text) is out of range for \(typeName)")
        }
        if case .string = value, Double(text) == nil {
            throw Self.fieldError(path, "expected a number")
        }
        throw Self.fieldError(path, "\(text) is not a valid \(typeName)")
    }

    static func floatingPoint(_ value: JSONValue, path: String) throws(ProtobufError) -> Double {
        switch value {
        case .number(let text):
            guard let double = Double(text) else { throw Self.fieldError(path, "\(text) is not a valid number") }
            return double
        case .string(let text):
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let double = Double(text), text.first != " ", !text.lowercased().contains("n") else {
                    throw Self.fieldError(path, "expected a number")
                }
                return double
            }
        default:
            throw Self.fieldError(path, "expected a number")
        }
    }

    /// Stores one value of `field`'s type at `pointer`.
    static func storeValue(
        _ value: JSONValue,
        _ field: Field,
        at pointer: UnsafeMutableRawPointer,
        path: String,
        arena: inout ProtobufCArena
    ) throws(ProtobufError) {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            pointer.storeBytes(of: try Self.integer(value, Int32.self, typeName: "int32", path: path), as: Int32.self)
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            pointer.storeBytes(of: try Self.integer(value, UInt32.self, typeName: "uint32", path: path), as: UInt32.self)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            pointer.storeBytes(of: try Self.integer(value, Int64.self, typeName: "int64", path: path), as: Int64.self)
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            pointer.storeBytes(of: try Self.integer(value, UInt64.self, typeName: "uint64", path: path), as: UInt64.self)
        case PROTOBUF_C_TYPE_FLOAT:
            let double = try Self.floatingPoint(value, path: path)
            if double.isFinite && abs(double) > Double(Float.greatestFiniteMagnitude) {
                throw Self.fieldError(path, "\(double) is out of range for float")
            }
            pointer.storeBytes(of: Float(double), as: Float.self)
        case PROTOBUF_C_TYPE_DOUBLE:
            pointer.storeBytes(of: try Self.floatingPoint(value, path: path), as: Double.self)
        case PROTOBUF_C_TYPE_BOOL:
            guard case .bool(let bool) = value else {
                throw Self.fieldError(path, "expected true or false")
            }
            pointer.storeBytes(of: bool ? 1 : 0, as: protobuf_c_boolean.self)
        case PROTOBUF_C_TYPE_ENUM:
            let number: Int32
            switch value {
            case .string(let name):
                guard let descriptor = Self.enumDescriptor(field),
                      let known = protobuf_c_enum_descriptor_get_value_by_name(descriptor, name)
                else {
                    let enumName = Self.enumDescriptor(field)?.pointee.name.map { String(cString: $0) } ?? "enum"
                    throw Self.fieldError(path, "unknown \(enumName) value \"\(name)\"")
                }
                number = Int32(known.pointee.value)
            case .number:
                number = try Self.integer(value, Int32.self, typeName: "enum", path: path)
            default:
                throw Self.fieldError(path, "expected an enum name or number")
            }
            pointer.storeBytes(of: number, as: Int32.self)
        case PROTOBUF_C_TYPE_STRING:
            guard case .string(let string) = value else {
                throw Self.fieldError(path, "expected a string")
            }
            pointer.storeBytes(of: UnsafePointer(arena.cString(string)), as: UnsafePointer<CChar>?.self)
        case PROTOBUF_C_TYPE_BYTES:
            guard case .string(let string) = value else {
                throw Self.fieldError(path, "expected a base64 string")
            }
            guard let bytes = Base64.decode(string) else {
                throw Self.fieldError(path, "invalid base64")
            }
            pointer.storeBytes(of: arena.binaryData(bytes), as: ProtobufCBinaryData.self)
        case PROTOBUF_C_TYPE_MESSAGE:
            guard case .object(let members) = value else {
                throw Self.fieldError(path, "expected an object")
            }
            guard let descriptor = Self.messageDescriptor(field) else {
                throw Self.fieldError(path, "no descriptor for the message type")
            }
            let message = try Self.buildMessage(members, descriptor, path: path, arena: &arena)
            pointer.storeBytes(of: UnsafeRawPointer(message), as: UnsafeRawPointer?.self)
        default:
            throw Self.fieldError(path, "unsupported field type")
        }
    }
}

extension ProtobufMessage {
    /// The proto3 JSON form of this message (see ``ProtobufJSON``).
    public func jsonString(pretty: Bool = false) throws(ProtobufError) -> String {
        try ProtobufJSON.encode(serialized: self.serializedBytes(), descriptor: Self.protobufCDescriptor, pretty: pretty)
    }

    /// Decodes the proto3 JSON form of this message (see ``ProtobufJSON``).
    public init(jsonString: String) throws(ProtobufError) {
        let bytes = try ProtobufJSON.decode(json: jsonString, descriptor: Self.protobufCDescriptor)
        try self.init(serializedBytes: bytes)
    }
}
