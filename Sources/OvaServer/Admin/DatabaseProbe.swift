import OvaStore
import Synchronization

/// Pings the database with a time bound: the readiness check and the store metrics.
///
/// The bound is a race, not a cancellation: a ping stuck behind a full MariaDB pool keeps its
/// task until the pool's own acquire timeout, but the answer to the load balancer does not wait
/// for it.
struct DatabaseProbe: Sendable {
    enum Outcome: Sendable, Equatable {
        case answered(Duration)
        case failed
        case timedOut
    }

    let database: Database
    let timeout: Duration

    func ping() async -> Outcome {
        let database = self.database
        let timeout = self.timeout
        return await withCheckedContinuation { continuation in
            let once = OnceContinuation(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                once.resume(returning: .timedOut)
            }
            Task {
                do {
                    once.resume(returning: .answered(try await database.ping()))
                } catch {
                    once.resume(returning: .failed)
                }
                timer.cancel()
            }
        }
    }
}

/// A continuation resumed by whichever of several tasks comes first.
private final class OnceContinuation<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ continuation: CheckedContinuation<T, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(returning value: T) {
        self.continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
