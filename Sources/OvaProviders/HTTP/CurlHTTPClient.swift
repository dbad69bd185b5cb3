import Logging
import Synchronization

/// An HTTP client over libcurl for calls to model providers.
///
/// All transfers run on one dedicated thread driving a curl multi handle (see
/// ``CurlMultiLoop`` for why); callers only await. Create one client per process and share it:
/// connections are reused between calls. Releasing the last reference stops the thread and
/// aborts transfers still running.
///
/// Policy, the same for every request: http and https only, no redirects followed (a 3xx is
/// returned as is), no signals, `User-Agent: ova/0.1`. Headers are never logged, since they
/// carry API keys; log lines name the method, host and path only.
public final class CurlHTTPClient: Sendable {
    /// The `User-Agent` of every request.
    public static let userAgent = "ova/0.1"
    /// Default cap on a collected response body.
    public static let defaultMaxBodyBytes = 32 * 1024 * 1024

    /// Body bytes a stream buffers for a slow consumer before pausing the transfer.
    public let streamBufferBytes: Int
    let loop: CurlMultiLoop
    let logger: Logger

    /// - Parameters:
    ///   - streamBufferBytes: how much of a streamed body may wait for a slow consumer
    ///     before the transfer pauses.
    ///   - logger: receives one debug line per request (method, host, path, outcome).
    public init(streamBufferBytes: Int = 256 * 1024, logger: Logger = Logger(label: "ova.providers.http")) {
        self.streamBufferBytes = streamBufferBytes
        self.logger = logger
        self.loop = CurlMultiLoop(logger: logger)
    }

    deinit {
        self.loop.shutdown()
    }

    /// Sends `request` and collects the whole response.
    ///
    /// Any status is a response here (a 404 is not an error at this layer); the provider
    /// clients map statuses to ``ProviderError/http(status:message:retryAfter:)``.
    /// Cancelling the calling task aborts the transfer and closes its connection.
    ///
    /// - Parameter maxBodyBytes: the largest body accepted; beyond it the transfer is aborted.
    /// - Throws: ``ProviderError/connect(_:)``, ``ProviderError/timeout``,
    ///   ``ProviderError/tooLarge``, ``ProviderError/cancelled``,
    ///   ``ProviderError/invalidRequest(_:)``, ``ProviderError/malformedResponse(_:)``.
    public func send(
        _ request: HTTPRequest,
        maxBodyBytes: Int = CurlHTTPClient.defaultMaxBodyBytes
    ) async throws(ProviderError) -> (HTTPResponseHead, [UInt8]) {
        let transfer = try CurlTransfer(request: request, mode: .collect(maxBodyBytes: maxBodyBytes), logger: self.logger)
        let loop = self.loop
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CurlTransfer.CollectResult, Never>) in
                // Set before submission, so the curl thread always finds it.
                transfer.collectCompletion = { continuation.resume(returning: $0) }
                if !loop.submit(transfer) {
                    transfer.finish(.failure(.cancelled))
                }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        return try result.get()
    }

    /// Sends `request` and streams the response: ``HTTPStreamPart/head(_:)`` first, then the
    /// body in chunks as they arrive.
    ///
    /// The transfer starts when the stream is first iterated. Buffering is bounded by
    /// ``streamBufferBytes``: a slow consumer pauses the transfer, which resumes when the
    /// consumer catches up. Cancelling the consuming task, or dropping the stream, aborts
    /// the transfer and closes its connection. The stream throws ``ProviderError``s.
    public func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let reader = self.makeReader(request)
        return AsyncThrowingStream(unfolding: { () async throws -> HTTPStreamPart? in
            try await reader.next()
        })
    }

    func makeReader(_ request: HTTPRequest) -> HTTPBodyReader {
        HTTPBodyReader(client: self, request: request)
    }
}

/// The consumer side of one streamed transfer; ``CurlHTTPClient/stream(_:)`` wraps it.
///
/// Its `deinit` aborts the transfer: `AsyncThrowingStream(unfolding:)` releases the closure
/// holding the reader when the consumer is cancelled or the stream is dropped, which is the
/// only notice the producer gets of a consumer that simply stopped iterating.
final class HTTPBodyReader: Sendable {
    private enum Phase {
        case notStarted
        case running(CurlTransfer)
        case failed
    }

    /// Keeps the curl thread alive for as long as the stream is.
    private let client: CurlHTTPClient
    private let request: HTTPRequest
    let buffer: HTTPStreamBuffer
    private let phase = Mutex(Phase.notStarted)

    init(client: CurlHTTPClient, request: HTTPRequest) {
        self.client = client
        self.request = request
        self.buffer = HTTPStreamBuffer(highWaterBytes: client.streamBufferBytes)
    }

    deinit {
        self.cancel()
    }

    /// The next part, nil at the end.
    func next() async throws(ProviderError) -> HTTPStreamPart? {
        let transfer: CurlTransfer
        switch self.start() {
        case .success(let started?): transfer = started
        case .success(nil): return nil
        case .failure(let error): throw error
        }
        let next = await withTaskCancellationHandler {
            await self.buffer.next()
        } onCancel: {
            self.cancel()
        }
        if next.resume {
            self.client.loop.resume(transfer)
        }
        return try next.result.get()
    }

    /// Aborts the transfer, and wakes a waiting ``next()`` with ``ProviderError/cancelled``.
    func cancel() {
        self.buffer.close()
        let running = self.phase.withLock { phase -> CurlTransfer? in
            if case .running(let transfer) = phase { return transfer }
            phase = .failed
            return nil
        }
        if let running {
            self.client.loop.cancel(running)
        }
    }

    /// The running transfer, created and submitted on first use; nil once failed to start.
    private func start() -> Result<CurlTransfer?, ProviderError> {
        self.phase.withLock { phase -> Result<CurlTransfer?, ProviderError> in
            switch phase {
            case .running(let transfer):
                return .success(transfer)
            case .failed:
                return .success(nil)
            case .notStarted:
                do throws(ProviderError) {
                    let transfer = try CurlTransfer(
                        request: self.request,
                        mode: .stream(self.buffer),
                        logger: self.client.logger
                    )
                    guard self.client.loop.submit(transfer) else {
                        phase = .failed
                        return .failure(.cancelled)
                    }
                    phase = .running(transfer)
                    return .success(transfer)
                } catch {
                    phase = .failed
                    return .failure(error)
                }
            }
        }
    }
}
