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

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
