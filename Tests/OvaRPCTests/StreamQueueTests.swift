import NIOCore
import Testing

@testable import OvaRPC

/// The per-stream queues that replaced ring buffers: order, adoption of a batch, compaction.
@Suite("Stream queues")
struct StreamQueueTests {
    private func message(_ byte: UInt8) -> OutboundItem {
        .message(ByteBuffer(bytes: [byte]), endStream: false)
    }

    private func byte(_ item: OutboundItem?) -> UInt8? {
        guard case .message(let buffer, _) = item else { return nil }
        return buffer.getInteger(at: buffer.readerIndex)
    }

    @Test func outboundItemsLeaveInOrderAcrossBatches() {
        var queue = OutboundItemQueue()
        #expect(queue.isEmpty)
        #expect(queue.first == nil)
        queue.append(contentsOf: [self.message(1), self.message(2)])
        queue.append(self.message(3))
        queue.append(contentsOf: [self.message(4)])
        var seen: [UInt8] = []
        while let item = queue.first {
            seen.append(self.byte(item) ?? 0)
            queue.removeFirst()
        }
        #expect(seen == [1, 2, 3, 4])
        #expect(queue.isEmpty)
    }

    @Test func outboundQueueHeldBackByFlowControlKeepsOrderThroughCompaction() {
        // A producer that stays ahead of the sender: the queue never empties, so the sent
        // prefix must be dropped on the way without losing or reordering anything.
        var queue = OutboundItemQueue()
        var next: UInt8 = 0
        var expected: UInt8 = 0
        for _ in 0..<100 {
            queue.append(contentsOf: (0..<5).map { _ in defer { next &+= 1 }; return self.message(next) })
            for _ in 0..<4 {
                #expect(self.byte(queue.first) == expected)
                queue.removeFirst()
                expected &+= 1
            }
        }
        var rest = 0
        while let item = queue.first {
            #expect(self.byte(item) == expected)
            queue.removeFirst()
            expected &+= 1
            rest += 1
        }
        #expect(rest == 100)
    }

    @Test func inboundMessagesLeaveInOrder() {
        var queue = InboundMessageQueue()
        #expect(queue.popFirst() == nil)
        queue.append((ByteBuffer(bytes: [1]), 10))
        #expect(queue.popFirst()?.credit == 10)
        #expect(queue.popFirst() == nil)
        for index in 1...6 {
            queue.append((ByteBuffer(bytes: [UInt8(index)]), index))
        }
        #expect(queue.popFirst()?.credit == 1)
        queue.append((ByteBuffer(bytes: [7]), 7))
        var credits: [Int] = []
        while let entry = queue.popFirst() {
            credits.append(entry.credit)
        }
        #expect(credits == [2, 3, 4, 5, 6, 7])
        queue.append((ByteBuffer(bytes: [8]), 8))
        queue.removeAll()
        #expect(queue.popFirst() == nil)
    }
}
