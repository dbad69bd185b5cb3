import NIOCore
import Synchronization

/// One stream's state on the event loop. Only the connection handler touches it.
final class StreamState {
    let id: UInt32
    /// Messages received, for the task that consumes them.
    let inbound: InboundMessages
    /// Items the task wants sent.
    let outbound: OutboundQueue
    /// What the peer still lets us send on this stream.
    var sendWindow: Int
    /// What the peer may still send us before we return credit.
    var receiveWindow: Int
    /// MESSAGE bytes received on this stream and not yet credited back to the connection window.
    var uncreditedBytes = 0
    /// Items taken from `outbound`, waiting for flow-control room, in order.
    var sendQueue = OutboundItemQueue()
    /// Payload bytes of the head message already sent (it is being sent in fragments).
    var headSentBytes = 0
    /// Fragments of a message that is still arriving (CONTINUED frames).
    var reassembly: ByteBuffer?
    /// Bytes in `reassembly` whose flow-control credit has not been returned yet.
    var reassemblyUncredited = 0
    /// Their credit is held back until the consumer has read the messages waiting (§9).
    var fragmentCreditDeferred = false
    /// The peer has half-closed (server) or sent trailers (client).
    var remoteClosed = false
    /// Fires DEADLINE_EXCEEDED.
    var deadlineTimer: Scheduled<Void>?
    /// When the call's deadline expires, if it has one.
    var deadline: NIODeadline?
    /// When the stream opened (the event loop's clock), for the access log and the reset rule.
    let openedAt: NIODeadline
    /// The method path, for logs.
    var path = ""

    // MARK: Server side
    /// The handler task, once started.
    var handlerTask: Task<Void, Never>?
    /// Starts the handler once the request is complete (unary and server-streaming calls wait
    /// for the single request, so the handler can run to completion without suspending).
    var pendingStart: (() -> Void)?

    init(id: UInt32, inbound: InboundMessages, outbound: OutboundQueue, sendWindow: Int, receiveWindow: Int, openedAt: NIODeadline) {
        self.id = id
        self.openedAt = openedAt
        self.inbound = inbound
        self.outbound = outbound
        self.sendWindow = sendWindow
        self.receiveWindow = receiveWindow
    }
}

/// A stream's items on their way out, oldest first.
///
/// Most of the time the queue takes a whole batch from ``OutboundQueue/takeAll()`` and sends it
/// at once, so it adopts that array instead of copying it, and allocates nothing of its own: a
/// unary call opens and closes two streams (client and server) per round trip, and a ring
/// buffer per stream cost an allocation and a generic-metadata lookup each (docs/PERFORMANCE.md).
struct OutboundItemQueue {
    private var items: [OutboundItem] = []
    /// Index of the oldest item still queued.
    private var head = 0

    var isEmpty: Bool { self.head == self.items.count }

    var first: OutboundItem? { self.isEmpty ? nil : self.items[self.head] }

    mutating func append(_ item: OutboundItem) {
        self.items.append(item)
    }

    mutating func append(contentsOf batch: [OutboundItem]) {
        if self.isEmpty {
            self.items = batch
            self.head = 0
        } else {
            self.items.append(contentsOf: batch)
        }
    }

    mutating func removeFirst() {
        precondition(!self.isEmpty, "removeFirst on an empty OutboundItemQueue")
        self.head += 1
        if self.head == self.items.count {
            self.removeAll()
        } else if self.head >= Self.compactionThreshold, self.head * 2 >= self.items.count {
            // A stream held back by flow control may never empty its queue: drop the sent
            // prefix (and the buffers it holds) once it is the larger half.
            self.items.removeFirst(self.head)
            self.head = 0
        }
    }

    static let compactionThreshold = 64

    mutating func removeAll() {
        self.items = []
        self.head = 0
    }
}

/// A stream id set once on the event loop and read from any thread.
final class StreamIDCell: Sendable {
    private let storage: Atomic<UInt32>

    init(_ value: UInt32 = 0) {
        self.storage = Atomic(value)
    }

    /// 0 until the stream is opened.
    var value: UInt32 {
        self.storage.load(ordering: .acquiring)
    }

    func set(_ value: UInt32) {
        self.storage.store(value, ordering: .releasing)
    }
}
