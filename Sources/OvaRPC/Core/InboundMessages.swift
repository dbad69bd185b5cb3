import NIOCore
import Synchronization

/// Messages received on one stream, handed from the event loop to the task consuming them.
///
/// The event loop appends whole (reassembled) messages; the consumer takes them one at a time.
/// Nothing here is unbounded: the peer can only send what the stream's flow-control window
/// allows, and the window is reopened (through `onConsumed`) only as the consumer takes
/// messages, so a slow consumer stops the sender instead of growing this buffer.
final class InboundMessages: Sendable {
    private struct State: ParkedWaiterState {
        var messages = InboundMessageQueue()
        var end: RPCError?? = nil  // nil: open; .some(nil): finished cleanly; .some(error): failed
        var waiter: CheckedContinuation<ByteBuffer?, any Error>?
        var consumedBytes = 0
        /// The event loop held back the credit of a message under reassembly because messages
        /// were waiting (§9): report as soon as the last of them is taken.
        var reportWhenDrained = false
        /// A client's response HEADERS, which the server may leave out (docs/PROTOCOL.md
        /// §8.3): settled by the headers, or as empty by the first message or the end, since
        /// headers can only come before both.
        var initialMetadata = InitialMetadata.pending([])

        /// Settles the initial metadata (first caller wins) and returns the tasks waiting for it.
        mutating func settleInitialMetadata(_ metadata: Metadata) -> [CheckedContinuation<Metadata, Never>] {
            guard case .pending(let waiters) = self.initialMetadata else { return [] }
            self.initialMetadata = .settled(metadata)
            return waiters
        }

        /// Takes the oldest message; `drained` says it was the last one the event loop was
        /// waiting for (its consumer must report now).
        mutating func popFirst() -> (message: ByteBuffer, drained: Bool)? {
            guard let entry = self.messages.popFirst() else { return nil }
            self.consumedBytes += entry.credit
            guard self.reportWhenDrained, self.messages.isEmpty else { return (entry.message, false) }
            self.reportWhenDrained = false
            return (entry.message, true)
        }
    }

    private enum InitialMetadata {
        case pending([CheckedContinuation<Metadata, Never>])
        case settled(Metadata)
    }

    private let state = Mutex(State())
    /// Bytes consumed since the last report are reported once they reach this many.
    private let reportThreshold: Int
    /// While the connection's window runs low, a consumer about to wait reports what it
    /// consumed once it is at least this much: a waiting consumer must not sit on credit the
    /// sender needs (with many streams sharing the connection window, that credit could be all
    /// of it). The stuck total is then bounded by streams × this, well under the window.
    static let reportWhenWaiting = 4 * 1024
    /// Called (from the consuming task) with a number of consumed payload bytes.
    private let onConsumed: @Sendable (Int) -> Void

    /// Set by the event loop while the connection's receive window runs low.
    private let connectionStarved: ConnectionCreditSignal

    init(reportThreshold: Int, connectionStarved: ConnectionCreditSignal, onConsumed: @escaping @Sendable (Int) -> Void) {
        self.reportThreshold = max(1, reportThreshold)
        self.connectionStarved = connectionStarved
        self.onConsumed = onConsumed
    }

    // MARK: - Producer (event loop)

    /// - Parameter credit: the flow-control bytes to return once it is consumed (less than the
    ///   message's size when earlier fragments were credited on arrival).
    func append(_ message: ByteBuffer, credit: Int) {
        var metadataWaiters: [CheckedContinuation<Metadata, Never>] = []
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.state.withLock { state in
            guard state.end == nil else { return nil }
            metadataWaiters = state.settleInitialMetadata(Metadata())
            if let waiter = state.waiter {
                state.waiter = nil
                state.consumedBytes += credit
                return waiter
            }
            state.messages.append((message, credit))
            return nil
        }
        Self.resume(metadataWaiters, with: Metadata())
        if let waiter {
            waiter.resume(returning: message)
            self.reportIfNeeded()
        }
    }

    /// Called by the event loop for a fragment that would be credited early (docs/PROTOCOL.md
    /// §9): returns true, and arranges for the consumer to report once it has taken every
    /// waiting message, when complete messages are waiting — their credit must not be returned
    /// before they are read, or an unread stream would receive without bound.
    func deferFragmentCredit() -> Bool {
        self.state.withLock { state in
            guard !state.messages.isEmpty else { return false }
            state.reportWhenDrained = true
            return true
        }
    }

    /// Ends the sequence: cleanly (`error == nil`) after the buffered messages, or with an error
    /// that the consumer sees once the buffered messages are gone.
    func finish(error: RPCError? = nil) {
        var metadataWaiters: [CheckedContinuation<Metadata, Never>] = []
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = .some(error)
            metadataWaiters = state.settleInitialMetadata(Metadata())
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        Self.resume(metadataWaiters, with: Metadata())
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    /// Fails at once, dropping buffered messages (cancellation, reset, deadline).
    func fail(_ error: RPCError) {
        var metadataWaiters: [CheckedContinuation<Metadata, Never>] = []
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = self.state.withLock { state in
            state.messages.removeAll()
            metadataWaiters = state.settleInitialMetadata(Metadata())
            if case .some(.some) = state.end { return nil }
            state.end = .some(error)
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        Self.resume(metadataWaiters, with: Metadata())
        waiter?.resume(throwing: error)
    }

    /// The response HEADERS arrived (client streams only). Headers after the first message
    /// or the end are ignored: the metadata was already settled as empty.
    func receivedInitialMetadata(_ metadata: Metadata) {
        let waiters = self.state.withLock { $0.settleInitialMetadata(metadata) }
        Self.resume(waiters, with: metadata)
    }

    private static func resume(_ waiters: [CheckedContinuation<Metadata, Never>], with metadata: Metadata) {
        for waiter in waiters {
            waiter.resume(returning: metadata)
        }
    }

    // MARK: - Consumer (task)

    /// The response's initial metadata: what the server sent in HEADERS, or empty when its
    /// first message or the end of the call came without them. Waits until one of those
    /// arrives; never waits past the end of the call (a cancelled call ends its stream).
    func initialMetadata() async -> Metadata {
        let settled: Metadata? = self.state.withLock { state in
            if case .settled(let metadata) = state.initialMetadata { return metadata }
            return nil
        }
        if let settled { return settled }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Metadata, Never>) in
            let settled: Metadata? = self.state.withLock { state in
                switch state.initialMetadata {
                case .settled(let metadata):
                    return metadata
                case .pending(var waiters):
                    waiters.append(continuation)
                    state.initialMetadata = .pending(waiters)
                    return nil
                }
            }
            if let settled { continuation.resume(returning: settled) }
        }
    }

    /// The sequence has ended (cleanly or not): nothing more will be appended.
    var isFinished: Bool {
        self.state.withLock { $0.end != nil }
    }

    /// The next message, `nil` at a clean end.
    func next() async throws -> ByteBuffer? {
        enum Immediate {
            case message(ByteBuffer)
            case end
            case error(RPCError)
            case wait
        }
        var drained = false
        let immediate: Immediate = self.state.withLock { state in
            if let (message, last) = state.popFirst() {
                drained = last
                return .message(message)
            }
            switch state.end {
            case .none: return .wait
            case .some(.none): return .end
            case .some(.some(let error)): return .error(error)
            }
        }
        switch immediate {
        case .message(let message):
            self.reportIfNeeded(force: drained)
            return message
        case .end:
            return nil
        case .error(let error):
            throw error
        case .wait:
            break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                enum Outcome {
                    case parked
                    case message(ByteBuffer)
                    case end
                    case error(any Error)
                }
                var report = 0
                var drained = false
                let outcome: Outcome = self.state.withLock { state in
                    if Task.isCancelled { return .error(CancellationError()) }
                    if let (message, last) = state.popFirst() {
                        drained = last
                        return .message(message)
                    }
                    switch state.end {
                    case .none:
                        state.waiter = continuation
                        if state.consumedBytes >= Self.reportWhenWaiting && self.connectionStarved.isSet {
                            report = state.consumedBytes
                            state.consumedBytes = 0
                        }
                        return .parked
                    case .some(.none): return .end
                    case .some(.some(let error)): return .error(error)
                    }
                }
                if report > 0 {
                    self.onConsumed(report)
                } else if drained {
                    self.reportIfNeeded(force: true)
                }
                switch outcome {
                case .parked: break
                case .message(let message): continuation.resume(returning: message)
                case .end: continuation.resume(returning: nil)
                case .error(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            self.state.resumeWaiterCancelled()
        }
    }

    /// Reports consumed bytes once they reach the threshold, or whatever there is (even none:
    /// the event loop then credits the fragments it held back) when `force`d.
    private func reportIfNeeded(force: Bool = false) {
        let consumed: Int? = self.state.withLock { state in
            guard force || state.consumedBytes >= self.reportThreshold else { return nil }
            defer { state.consumedBytes = 0 }
            return state.consumedBytes
        }
        if let consumed, consumed > 0 || force {
            self.onConsumed(consumed)
        }
    }
}

/// Received messages waiting for their consumer, oldest first.
///
/// The oldest waits in a slot of its own and only a second one allocates a ring buffer: a
/// unary call receives one message per stream, and a ring buffer per stream cost an allocation
/// and a generic-metadata lookup each (docs/PERFORMANCE.md).
struct InboundMessageQueue {
    typealias Entry = (message: ByteBuffer, credit: Int)

    private var oldest: Entry?
    /// The later messages; empty whenever `oldest` is nil.
    private var later: CircularBuffer<Entry>?

    var isEmpty: Bool { self.oldest == nil }

    mutating func append(_ entry: Entry) {
        guard self.oldest != nil else {
            self.oldest = entry
            return
        }
        if self.later == nil { self.later = CircularBuffer(initialCapacity: 4) }
        self.later?.append(entry)
    }

    mutating func popFirst() -> Entry? {
        guard let entry = self.oldest else { return nil }
        self.oldest = self.later?.popFirst()
        return entry
    }

    mutating func removeAll() {
        self.oldest = nil
        self.later = nil
    }
}

/// A flag the event loop raises while a connection's receive window is low, read by consumers.
final class ConnectionCreditSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    var isSet: Bool { self.flag.load(ordering: .relaxed) }

    func set(_ value: Bool) {
        if self.flag.load(ordering: .relaxed) != value {
            self.flag.store(value, ordering: .relaxed)
        }
    }
}
