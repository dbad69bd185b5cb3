import Dispatch
import Synchronization

/// Carries audio chunks from a blocking producer thread (the synthesis thread, inside a C
/// callback) to an async consumer, holding at most `capacity` chunks.
///
/// The producer blocks in ``push(_:)`` while the buffer is full: that is the backpressure that
/// keeps a slow consumer from making synthesis buffer the whole text. The wait is bounded by
/// `stallTimeout` so that a consumer that neither reads nor cancels cannot hold the (shared)
/// synthesis thread forever. The consumer side is ``next()``; cancelling the consuming task or
/// calling ``cancel()`` makes the next ``push(_:)`` return `false`, which tells the producer to
/// abort.
final class ChunkHandoff: Sendable {
    /// Why ``push(_:)`` refused a chunk.
    enum Refusal: Error {
        case cancelled
        case stalled
    }

    private struct State {
        var chunks: [[Int16]] = []
        var consumer: CheckedContinuation<[Int16]?, any Error>?
        var cancelled = false
        /// Set once by ``finish(throwing:)``; `.success` is a normal end.
        var end: Result<Void, any Error>?
    }

    private let state = Mutex(State())
    /// Counts free slots. Created at 0 and raised to `capacity` so that libdispatch never sees
    /// it released below its initial value (which it treats as a crash-worthy misuse).
    private let slots = DispatchSemaphore(value: 0)
    private let stallTimeout: Duration

    init(capacity: Int, stallTimeout: Duration) {
        self.stallTimeout = stallTimeout
        for _ in 0..<max(1, capacity) {
            self.slots.signal()
        }
    }

    /// Producer: waits for a free slot, then hands `chunk` over. Call from a thread that may
    /// block, never from a task.
    func push(_ chunk: [Int16]) -> Result<Void, Refusal> {
        if self.state.withLock({ $0.cancelled }) { return .failure(.cancelled) }
        let nanoseconds = self.stallTimeout.components.seconds * 1_000_000_000
            + self.stallTimeout.components.attoseconds / 1_000_000_000
        if self.slots.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .timedOut {
            return .failure(.stalled)
        }
        let consumer: CheckedContinuation<[Int16]?, any Error>? = self.state.withLock { state in
            if state.cancelled { return nil }
            if let consumer = state.consumer {
                state.consumer = nil
                return consumer
            }
            state.chunks.append(chunk)
            return nil
        }
        if let consumer {
            // Handed straight to a waiting consumer: the slot is free again at once.
            self.slots.signal()
            consumer.resume(returning: chunk)
        }
        return self.state.withLock { $0.cancelled } ? .failure(.cancelled) : .success(())
    }

    /// Producer: no more chunks. A waiting consumer gets `nil` (or the error).
    func finish(throwing error: (any Error)? = nil) {
        let consumer = self.state.withLock { state -> CheckedContinuation<[Int16]?, any Error>? in
            guard state.end == nil else { return nil }
            state.end = error.map { .failure($0) } ?? .success(())
            defer { state.consumer = nil }
            return state.consumer
        }
        if let error {
            consumer?.resume(throwing: error)
        } else {
            consumer?.resume(returning: nil)
        }
    }

    /// The stall timeout, for error messages.
    var stallTimeoutDescription: String { "\(self.stallTimeout)" }

    /// Whether the consumer has gone away; lets the producer skip work not yet started.
    var isCancelled: Bool { self.state.withLock { $0.cancelled } }

    /// Consumer: stops the producer at its next chunk and ends the stream.
    func cancel() {
        let consumer = self.state.withLock { state -> CheckedContinuation<[Int16]?, any Error>? in
            state.cancelled = true
            state.chunks.removeAll()
            defer { state.consumer = nil }
            return state.consumer
        }
        // Wake a producer blocked on a full buffer so that it sees the cancellation now rather
        // than at the stall timeout.
        self.slots.signal()
        // Ends the stream the way AsyncStream does on cancellation (which is also what the
        // AsyncThrowingStream wrapping this returns when the task is cancelled between chunks).
        consumer?.resume(returning: nil)
    }

    /// Consumer: the next chunk, `nil` at the end or after cancellation, or the producer's error.
    /// One consumer at a time.
    func next() async throws -> [Int16]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Int16]?, any Error>) in
                enum Action {
                    case chunk([Int16])
                    case end(Result<Void, any Error>)
                    case cancelled
                    case wait
                }
                let action: Action = self.state.withLock { state in
                    if state.cancelled { return .cancelled }
                    if !state.chunks.isEmpty { return .chunk(state.chunks.removeFirst()) }
                    if let end = state.end { return .end(end) }
                    state.consumer = continuation
                    return .wait
                }
                switch action {
                case .chunk(let chunk):
                    self.slots.signal()
                    continuation.resume(returning: chunk)
                case .end(.success):
                    continuation.resume(returning: nil)
                case .end(.failure(let error)):
                    continuation.resume(throwing: error)
                case .cancelled:
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            self.cancel()
        }
    }
}
