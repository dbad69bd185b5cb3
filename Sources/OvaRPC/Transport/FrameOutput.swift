import NIOCore

/// Output coalescing for one connection: frames produced during a read burst or a drain are
/// encoded into one buffer and written with one flush; large MESSAGE payloads are passed on as
/// they are (a slice of the handler's buffer, no copy) after what was coalesced before them.
struct FrameOutput {
    private var buffer: ByteBuffer?
    /// Something was written to the channel since the last flush (a large payload).
    private var needsFlush = false
    /// Bytes handed out or buffered since the last flush.
    private(set) var bufferedBytes = 0

    /// Payloads up to this size are copied into the coalescing buffer; larger ones are written
    /// as they are.
    static let copyLimit = 16 * 1024

    /// A drain flushes once this much is pending, so that the channel's writability (a peer
    /// that does not read) is seen after at most this much, not after a whole drain.
    static let flushThreshold = 256 * 1024

    enum Flush {
        case nothing
        /// Only large payloads were written since the last flush.
        case flushOnly
        case write(ByteBuffer)
    }

    mutating func append(_ frame: Frame, allocator: ByteBufferAllocator) {
        let before = self.buffer?.writerIndex ?? 0
        self.withBuffer(capacity: 1024, allocator: allocator) { FrameEncoder.encode(frame, into: &$0) }
        self.bufferedBytes += (self.buffer?.writerIndex ?? 0) - before
    }

    mutating func appendRaw(_ bytes: [UInt8], allocator: ByteBufferAllocator) {
        self.withBuffer(capacity: bytes.count, allocator: allocator) { $0.writeBytes(bytes) }
        self.bufferedBytes += bytes.count
    }

    /// Appends a MESSAGE frame. Returns the coalesced bytes to write before `payload` when the
    /// payload is too large to copy: the caller writes that batch, then the payload.
    mutating func appendMessage(streamID: UInt32, flags: FrameFlags, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let length = payload.readableBytes
        let copy = length <= Self.copyLimit
        self.withBuffer(capacity: copy ? length + FrameHeader.size : FrameHeader.size, allocator: allocator) { output in
            FrameEncoder.writeHeader(length: length, type: .message, flags: flags, streamID: streamID, into: &output)
            if copy {
                var payload = payload
                output.writeBuffer(&payload)
            }
        }
        self.bufferedBytes += FrameHeader.size + length
        guard !copy, let batch = self.buffer else { return nil }
        self.buffer = nil
        self.needsFlush = true
        return batch
    }

    /// What the next flush must do; resets the batch.
    mutating func takeForFlush() -> Flush {
        self.bufferedBytes = 0
        if let batch = self.buffer, batch.readableBytes > 0 {
            self.buffer = nil
            self.needsFlush = false
            return .write(batch)
        }
        if self.needsFlush {
            self.needsFlush = false
            return .flushOnly
        }
        return .nothing
    }

    /// The connection closed: drop what was not written.
    mutating func discard() {
        self.buffer = nil
        self.needsFlush = false
        self.bufferedBytes = 0
    }

    private mutating func withBuffer(capacity: Int, allocator: ByteBufferAllocator, _ body: (inout ByteBuffer) -> Void) {
        // Taken out while written so that the buffer stays uniquely referenced (no copy).
        var buffer = self.buffer ?? allocator.buffer(capacity: max(1024, capacity))
        self.buffer = nil
        body(&buffer)
        self.buffer = buffer
    }
}
