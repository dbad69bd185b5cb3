import CProtobufC
import NIOCore

/// The helpers generated messages call to move between Swift values and protobuf-c C structs.
///
/// Decoding: ``unpack(_:_:)`` runs `protobuf_c_message_unpack`, the generated code copies the C
/// struct into Swift values, then ``freeUnpacked(_:)`` releases it. Encoding: the generated code
/// builds the C struct in a ``ProtobufCArena`` and ``pack(_:into:)`` writes it straight into the
/// buffer's writable memory.
///
/// Known limits of protobuf-c's wire handling, and what these messages do about them:
/// - unpacking does not check that `string` fields are valid UTF-8, and strings are C strings
///   (an embedded NUL cuts them): ``unpack(_:_:)`` therefore rejects any string field with a
///   NUL byte or invalid UTF-8 (``ProtobufStringCheck``) instead of letting the text change;
/// - packing cuts a Swift string at an embedded NUL (a sender-side limit);
/// - unknown fields are kept by protobuf-c but dropped by the Swift types.
public enum ProtobufCSupport {
    /// Unpacks `bytes` as a message of `descriptor`; the result must be passed to
    /// ``freeUnpacked(_:)``.
    ///
    /// - Throws: ``ProtobufError`` when protobuf-c rejects the bytes, or with
    ///   ``ProtobufError/invalidField`` set when a string field holds a NUL byte or invalid UTF-8
    ///   (checked after protobuf-c accepted the bytes, so malformed input gets its verdict).
    @inlinable
    public static func unpack(
        _ descriptor: ProtobufCDescriptorReference,
        _ bytes: UnsafeRawBufferPointer
    ) throws(ProtobufError) -> UnsafeMutableRawPointer {
        let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let message = protobuf_c_message_unpack(descriptor.pointer, nil, bytes.count, data) else {
            throw ProtobufError("invalid \(descriptor.name) message (\(bytes.count) bytes)")
        }
        if let violation = ProtobufStringCheck.firstViolation(in: bytes, of: descriptor) {
            protobuf_c_message_free_unpacked(message, nil)
            throw violation
        }
        return UnsafeMutableRawPointer(message)
    }

    /// Frees a message returned by ``unpack(_:_:)``.
    @inlinable
    public static func freeUnpacked(_ message: UnsafeMutableRawPointer) {
        protobuf_c_message_free_unpacked(message.assumingMemoryBound(to: ProtobufCMessage.self), nil)
    }

    /// Packs a fully built C message (its first member is the `ProtobufCMessage` base) at the end
    /// of `buffer`.
    @inlinable
    public static func pack(_ message: UnsafeRawPointer, into buffer: inout ByteBuffer) {
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
            guard let address = out.baseAddress else { return 0 }
            return protobuf_c_message_pack(base, address.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Builds a message in a fresh arena (whose first block is on the stack) and packs it into
    /// `buffer`; the arena is freed before returning.
    @inlinable
    public static func serialize(
        into buffer: inout ByteBuffer,
        _ build: (inout ProtobufCArena) -> UnsafeMutableRawPointer
    ) {
        withUnsafeTemporaryAllocation(byteCount: 512, alignment: 16) { stack in
            var arena = ProtobufCArena(initialBlock: stack)
            let message = build(&arena)
            Self.pack(UnsafeRawPointer(message), into: &buffer)
            _ = consume arena
        }
    }

    /// A C string field as a Swift string ("" for NULL).
    @inlinable
    public static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    /// A bytes field as an array.
    @inlinable
    public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A repeated numeric field as an array.
    @inlinable
    public static func array<T>(_ pointer: UnsafePointer<T>?, count: Int) -> [T] {
        guard count > 0, let pointer else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// A repeated string field as an array.
    @inlinable
    public static func strings(_ pointer: UnsafePointer<UnsafeMutablePointer<CChar>?>?, count: Int) -> [String] {
        guard count > 0, let pointer else { return [] }
        var result: [String] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(Self.string(pointer[index]))
        }
        return result
    }

    /// A repeated bytes field as an array.
    @inlinable
    public static func bytesArray(_ pointer: UnsafePointer<ProtobufCBinaryData>?, count: Int) -> [[UInt8]] {
        guard count > 0, let pointer else { return [] }
        var result: [[UInt8]] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(Self.bytes(pointer[index]))
        }
        return result
    }

    /// A repeated field of C values converted one by one (messages, enums, bools).
    @inlinable
    public static func map<C, T>(_ pointer: UnsafePointer<C>?, count: Int, _ transform: (C) -> T) -> [T] {
        guard count > 0, let pointer else { return [] }
        var result: [T] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(transform(pointer[index]))
        }
        return result
    }

    /// An array of `values.count` C values in `arena`, each produced by `transform`.
    @inlinable
    public static func buildArray<T, C>(
        _ values: [T],
        in arena: inout ProtobufCArena,
        _ transform: (T, inout ProtobufCArena) -> C
    ) -> UnsafeMutablePointer<C> {
        let pointer = arena.allocate(C.self, count: values.count)
        for index in values.indices {
            (pointer + index).initialize(to: transform(values[index], &arena))
        }
        return pointer
    }

    /// The protobuf-c descriptor of a message whose C struct `CType` is initialized by `initialize`
    /// (the generated `*__init` function).
    ///
    /// Reading the descriptor from an initialized struct avoids taking the address of the C
    /// `const` descriptor global, which Swift does not guarantee to be addressable.
    @inlinable
    public static func descriptor<CType>(
        of type: CType.Type,
        _ initialize: (UnsafeMutablePointer<CType>) -> Void
    ) -> ProtobufCDescriptorReference {
        let storage = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<CType>.size,
            alignment: MemoryLayout<CType>.alignment
        )
        defer { storage.deallocate() }
        let typed = storage.bindMemory(to: CType.self, capacity: 1)
        initialize(typed)
        let base = storage.assumingMemoryBound(to: ProtobufCMessage.self)
        guard let descriptor = base.pointee.descriptor else {
            fatalError("protobuf-c message initializer set no descriptor for \(CType.self)")
        }
        return ProtobufCDescriptorReference(descriptor)
    }
}
