#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CProtobufC

/// Scratch memory for building the protobuf-c C structs of one message before packing it.
///
/// Every C struct, string, byte buffer and array that an encoding needs is bump-allocated here,
/// so a whole message tree costs a handful of allocations (none at all when it fits in the
/// caller-provided first block, see ``ProtobufCSupport/serialize(into:_:)``). Everything is
/// freed at once when the arena goes away; pointers into it must not outlive it.
///
/// The memory handed out is uninitialized: callers initialize C structs with the generated
/// `*__init` function and plain values by assignment (all of them are trivial C types).
public struct ProtobufCArena: ~Copyable {
    /// Each heap block starts with a header holding the previous heap block (or nil).
    @usableFromInline static let headerSize = 16
    @usableFromInline static let minimumBlockSize = 1024

    /// The block being filled.
    @usableFromInline var block: UnsafeMutableRawPointer?
    @usableFromInline var offset: Int
    @usableFromInline var capacity: Int
    /// The most recent heap block (the first block may be borrowed and is never freed).
    @usableFromInline var lastHeapBlock: UnsafeMutableRawPointer?
    @usableFromInline var heapBytes: Int

    /// An arena that allocates from the heap as needed.
    @inlinable
    public init() {
        self.block = nil
        self.offset = 0
        self.capacity = 0
        self.lastHeapBlock = nil
        self.heapBytes = 0
    }

    /// An arena that first fills `initialBlock` (owned by the caller, e.g. stack memory that
    /// outlives the arena), then falls back to the heap.
    @inlinable
    public init(initialBlock: UnsafeMutableRawBufferPointer) {
        self.block = initialBlock.baseAddress
        self.offset = 0
        self.capacity = initialBlock.baseAddress == nil ? 0 : initialBlock.count
        self.lastHeapBlock = nil
        self.heapBytes = 0
    }

    deinit {
        var next = self.lastHeapBlock
        while let block = next {
            next = block.load(as: UnsafeMutableRawPointer?.self)
            free(block)
        }
    }

    /// `size` bytes aligned to `alignment` (a power of two, at most 16).
    @inlinable
    public mutating func allocateBytes(_ size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let block = self.block {
            let base = Int(bitPattern: block)
            let start = ((base + self.offset + alignment - 1) & ~(alignment - 1)) - base
            if start + size <= self.capacity {
                self.offset = start + size
                return block + start
            }
        }
        return self.allocateSlow(size, alignment: alignment)
    }

    @usableFromInline
    mutating func allocateSlow(_ size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let wanted = Self.headerSize + size + alignment
        let blockSize = max(wanted, max(Self.minimumBlockSize, self.heapBytes))
        guard let block = malloc(blockSize) else {
            fatalError("ProtobufCArena: out of memory allocating \(blockSize) bytes")
        }
        block.storeBytes(of: self.lastHeapBlock, as: UnsafeMutableRawPointer?.self)
        self.lastHeapBlock = block
        self.heapBytes += blockSize
        self.block = block
        self.capacity = blockSize
        let start = (Self.headerSize + alignment - 1) & ~(alignment - 1)
        self.offset = start + size
        return block + start
    }

    /// Uninitialized memory for `count` values of the trivial C type `T`.
    @inlinable
    public mutating func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let raw = self.allocateBytes(MemoryLayout<T>.stride * max(count, 1), alignment: min(MemoryLayout<T>.alignment, 16))
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// A NUL-terminated copy of `string`.
    ///
    /// protobuf-c treats strings as C strings: a string with an embedded NUL is packed only up
    /// to the NUL.
    @inlinable
    public mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let count = utf8.count
            let raw = self.allocateBytes(count + 1, alignment: 1)
            if let base = utf8.baseAddress, count > 0 {
                raw.copyMemory(from: base, byteCount: count)
            }
            raw.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
            return raw.bindMemory(to: CChar.self, capacity: count + 1)
        }
    }

    /// A copy of `bytes` as protobuf-c binary data.
    @inlinable
    public mutating func binaryData(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        let count = bytes.count
        guard count > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
        let raw = self.allocateBytes(count, alignment: 1)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { raw.copyMemory(from: base, byteCount: count) }
        }
        return ProtobufCBinaryData(len: count, data: raw.assumingMemoryBound(to: UInt8.self))
    }

    /// A copy of an array of trivial values (repeated numeric fields).
    @inlinable
    public mutating func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let pointer = self.allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress {
                pointer.initialize(from: base, count: source.count)
            }
        }
        return pointer
    }
}
