import Synchronization

/// The hand-off between a streaming transfer (producer, on the curl thread) and its one
/// consumer (an async task), with bounded buffering.
///
/// The producer offers body chunks; once ``highWaterBytes`` are waiting, offers are refused
/// with ``Offer/pause`` and the transfer pauses (curl keeps the refused bytes and offers them
/// again). When the consumer has drained the buffer to half of that, ``next()`` reports that
/// the transfer should resume. A slow consumer therefore holds at most ``highWaterBytes`` plus
/// one curl chunk (16 KiB) in memory, and the TCP window pushes back on the server.
final class HTTPStreamBuffer: Sendable {
    enum Offer {
        case accepted
        /// Over the limit: pause the transfer.
        case pause
        /// The consumer is gone: abort the transfer.
        case closed
    }

    /// The result of one ``next()``: the part (nil at the end) or the error, and whether the
    /// caller must resume the paused transfer.
    struct Next {
        var result: Result<HTTPStreamPart?, ProviderError>
        var resume: Bool
    }

    private struct State {
        var parts: [HTTPStreamPart] = []
        var first = 0
        var bufferedBytes = 0
        var paused = false
        /// Set by the producer: nil while running.
        var outcome: Result<Void, ProviderError>?
        /// The error has been thrown once; afterwards the stream just ends.
        var outcomeReported = false
        /// The consumer cancelled or went away.
        var closed = false
        var waiter: CheckedContinuation<Next, Never>?
    }

    let highWaterBytes: Int
    private let state = Mutex(State())
    private let pauses = Atomic<Int>(0)

    /// How many times the transfer was told to pause (for tests and diagnostics).
    var pauseCount: Int { self.pauses.load(ordering: .relaxed) }

    init(highWaterBytes: Int) {
        self.highWaterBytes = max(1, highWaterBytes)
    }

    // MARK: - Producer (curl thread)

    func offerHead(_ head: HTTPResponseHead) {
        self.deliver(.head(head), bytes: 0)
    }

    /// Copies `bytes` in if there is room, or says to pause or abort.
    func offerBody(_ bytes: UnsafeRawBufferPointer) -> Offer {
        let verdict = self.state.withLock { state -> Offer in
            if state.closed { return .closed }
            // A waiting consumer means the buffer is empty: always room.
            if state.waiter == nil && state.bufferedBytes >= self.highWaterBytes {
                state.paused = true
                return .pause
            }
            return .accepted
        }
        guard case .accepted = verdict else {
            if case .pause = verdict { self.pauses.add(1, ordering: .relaxed) }
            return verdict
        }
        self.deliver(.body(Array(bytes)), bytes: bytes.count)
        return .accepted
    }

    func finish(_ outcome: Result<Void, ProviderError>) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Next, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            guard state.first == state.parts.count else { return nil }
            return state.waiter.take()
        }
        waiter?.resume(returning: Next(result: self.takeOutcome(), resume: false))
    }

    private func deliver(_ part: HTTPStreamPart, bytes: Int) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Next, Never>? in
            if state.closed { return nil }
            if let waiter = state.waiter.take() {
                return waiter
            }
            state.parts.append(part)
            state.bufferedBytes += bytes
            return nil
        }
        waiter?.resume(returning: Next(result: .success(part), resume: false))
    }

    // MARK: - Consumer

    /// The next part, waiting for the producer when none is buffered.
    func next() async -> Next {
        await withCheckedContinuation { (continuation: CheckedContinuation<Next, Never>) in
            let ready = self.state.withLock { state -> Next? in
                if state.closed {
                    return Next(result: .failure(.cancelled), resume: false)
                }
                if state.first < state.parts.count {
                    let part = state.parts[state.first]
                    state.first += 1
                    if case .body(let bytes) = part { state.bufferedBytes -= bytes.count }
                    if state.first == state.parts.count {
                        // Drained: reclaim the array instead of shifting it on every read.
                        state.parts.removeAll(keepingCapacity: true)
                        state.first = 0
                    }
                    var resume = false
                    if state.paused && state.bufferedBytes <= self.highWaterBytes / 2 {
                        state.paused = false
                        resume = true
                    }
                    return Next(result: .success(part), resume: resume)
                }
                if state.outcome != nil {
                    return Next(result: Self.report(&state), resume: false)
                }
                state.waiter = continuation
                return nil
            }
            if let ready {
                continuation.resume(returning: ready)
            }
        }
    }

    /// The consumer is done (cancelled, or dropped the stream): wakes a waiting ``next()``
    /// with ``ProviderError/cancelled`` and makes later offers abort the transfer.
    func close() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Next, Never>? in
            state.closed = true
            state.parts = []
            state.first = 0
            state.bufferedBytes = 0
            return state.waiter.take()
        }
        waiter?.resume(returning: Next(result: .failure(.cancelled), resume: false))
    }

    private func takeOutcome() -> Result<HTTPStreamPart?, ProviderError> {
        self.state.withLock { Self.report(&$0) }
    }

    /// The end of the stream: the error once, then nil.
    private static func report(_ state: inout State) -> Result<HTTPStreamPart?, ProviderError> {
        guard case .failure(let error) = state.outcome, !state.outcomeReported else {
            return .success(nil)
        }
        state.outcomeReported = true
        return .failure(error)
    }
}
