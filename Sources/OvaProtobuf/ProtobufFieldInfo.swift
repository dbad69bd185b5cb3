import CProtobufC

/// A message field as the protobuf-c descriptor describes it (for reflection and tools).
public struct ProtobufFieldInfo: Sendable, Hashable {
    public var name: String
    public var number: UInt32
    /// `int32`, `string`, ..., or `message` / `enum`.
    public var type: String
    /// For message and enum fields: the full type name.
    public var typeName: String
    public var isRepeated: Bool
    /// Fields of one oneof share this key (protobuf-c keeps no oneof names); nil outside oneofs.
    public var oneofKey: Int?

    /// The fields of the message `descriptor` describes, in declaration order.
    public static func fields(of descriptor: ProtobufCDescriptorReference) -> [ProtobufFieldInfo] {
        let message = descriptor.pointer.pointee
        guard let fields = message.fields else { return [] }
        return (0..<Int(message.n_fields)).map { index in
            let field = fields[index]
            var typeName = ""
            let type: String
            switch field.type {
            case PROTOBUF_C_TYPE_MESSAGE:
                type = "message"
                if let sub = field.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self) {
                    typeName = String(cString: sub.pointee.name)
                }
            case PROTOBUF_C_TYPE_ENUM:
                type = "enum"
                if let sub = field.descriptor?.assumingMemoryBound(to: ProtobufCEnumDescriptor.self) {
                    typeName = String(cString: sub.pointee.name)
                }
            default:
                type = Self.scalarName(field.type)
            }
            let isOneof = field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0
            return ProtobufFieldInfo(
                name: String(cString: field.name),
                number: field.id,
                type: type,
                typeName: typeName,
                isRepeated: field.label == PROTOBUF_C_LABEL_REPEATED,
                oneofKey: isOneof ? Int(field.quantifier_offset) : nil
            )
        }
    }

    static func scalarName(_ type: ProtobufCType) -> String {
        switch type {
        case PROTOBUF_C_TYPE_INT32: return "int32"
        case PROTOBUF_C_TYPE_SINT32: return "sint32"
        case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32"
        case PROTOBUF_C_TYPE_INT64: return "int64"
        case PROTOBUF_C_TYPE_SINT64: return "sint64"
        case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64"
        case PROTOBUF_C_TYPE_UINT32: return "uint32"
        case PROTOBUF_C_TYPE_FIXED32: return "fixed32"
        case PROTOBUF_C_TYPE_UINT64: return "uint64"
        case PROTOBUF_C_TYPE_FIXED64: return "fixed64"
        case PROTOBUF_C_TYPE_FLOAT: return "float"
        case PROTOBUF_C_TYPE_DOUBLE: return "double"
        case PROTOBUF_C_TYPE_BOOL: return "bool"
        case PROTOBUF_C_TYPE_STRING: return "string"
        case PROTOBUF_C_TYPE_BYTES: return "bytes"
        default: return "unknown"
        }
    }
}
