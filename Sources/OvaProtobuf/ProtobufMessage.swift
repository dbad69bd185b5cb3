import CProtobufC
import NIOCore

/// A protobuf message whose wire format is produced and parsed by protobuf-c.
///
/// Generated types (`Sources/OvaProto/Generated`) are plain Swift value types; they convert to
/// and from the C structs that protoc-c generates, and protobuf-c packs and unpacks those.
public protocol ProtobufMessage: Sendable, Equatable {
    /// The full protobuf name, e.g. `ova.v1.EchoRequest`.
    static var protoMessageName: String { get }

    /// The protobuf-c descriptor of the backing C type (for JSON mapping and reflection).
    static var protobufCDescriptor: ProtobufCDescriptorReference { get }

    /// The default value (every field zero, empty or absent).
    init()

    /// Decodes the protobuf wire format.
    ///
    /// - Throws: ``ProtobufError`` when the bytes are not a valid encoding of this message.
    init(serializedBytes bytes: UnsafeRawBufferPointer) throws(ProtobufError)

    /// Appends the protobuf wire format of this message to `buffer`.
    func serialize(into buffer: inout ByteBuffer)
}

extension ProtobufMessage {
    /// Decodes the readable bytes of `buffer`.
    ///
    /// Inlinable so that it is specialized for the concrete message: unspecialized, every call
    /// instantiated `Result<Self, ProtobufError>` metadata at run time (docs/PERFORMANCE.md).
    @inlinable
    public init(serializedBytes buffer: ByteBuffer) throws(ProtobufError) {
        let result: Result<Self, ProtobufError> = buffer.withUnsafeReadableBytes { raw in
            do throws(ProtobufError) {
                return .success(try Self(serializedBytes: raw))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// Decodes `bytes`.
    @inlinable
    public init(serializedBytes bytes: [UInt8]) throws(ProtobufError) {
        let result: Result<Self, ProtobufError> = bytes.withUnsafeBytes { raw in
            do throws(ProtobufError) {
                return .success(try Self(serializedBytes: raw))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// The protobuf wire format as an array.
    public func serializedBytes() -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        self.serialize(into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// A pointer to a protobuf-c message descriptor: immutable static C data, safe to share.
public struct ProtobufCDescriptorReference: @unchecked Sendable, Hashable {
    public let pointer: UnsafePointer<ProtobufCMessageDescriptor>

    public init(_ pointer: UnsafePointer<ProtobufCMessageDescriptor>) {
        self.pointer = pointer
    }

    /// The full protobuf name from the descriptor, e.g. `ova.v1.EchoRequest`.
    public var name: String {
        String(cString: self.pointer.pointee.name)
    }
}

/// Why a message could not be decoded or encoded.
public struct ProtobufError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// Set when the bytes are a valid encoding but a `string` field holds a NUL byte or invalid
    /// UTF-8 (see ``ProtobufStringCheck``): the field violation a server reports.
    public var invalidField: InvalidField?

    /// A field and what is wrong with it, as `ova.v1.FieldViolation` carries them.
    public struct InvalidField: Hashable, Sendable {
        /// e.g. `text`, `messages[2].content`, `metadata["trace"]`.
        public var path: String
        /// e.g. `contains a NUL byte`, `is not valid UTF-8`.
        public var description: String

        public init(path: String, description: String) {
            self.path = path
            self.description = description
        }
    }

    public init(_ message: String, invalidField: InvalidField? = nil) {
        self.message = message
        self.invalidField = invalidField
    }

    public var description: String { self.message }
}
