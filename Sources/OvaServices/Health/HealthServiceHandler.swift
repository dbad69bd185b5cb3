import OvaProto
import OvaRPC
import Synchronization

/// The serving status of the server and of each service, with watchers.
///
/// The server marks everything NOT_SERVING when it starts draining, so load balancers and
/// `Watch` clients move away before connections close.
public final class HealthStatusBoard: Sendable {
    private struct State {
        var statuses: [String: HealthCheckResponse.ServingStatus] = [:]
        var watchers: [Int: (service: String, continuation: AsyncStream<HealthCheckResponse.ServingStatus>.Continuation)] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    /// - Parameter services: full names of the services that are served; "" (the server) is
    ///   always included.
    public init(services: [String]) {
        self.state.withLock { state in
            state.statuses[""] = .serving
            for service in services { state.statuses[service] = .serving }
        }
    }

    /// The status of `service`, or nil for a service this server does not know.
    public func status(of service: String) -> HealthCheckResponse.ServingStatus? {
        self.state.withLock { $0.statuses[service] }
    }

    /// Sets every known service (and the server) to `status`.
    public func setAll(_ status: HealthCheckResponse.ServingStatus) {
        let notify = self.state.withLock { state in
            for key in state.statuses.keys { state.statuses[key] = status }
            return state.watchers.values.map(\.continuation)
        }
        for continuation in notify { continuation.yield(status) }
    }

    /// Status changes of `service`, starting with the current one.
    func watch(_ service: String) -> AsyncStream<HealthCheckResponse.ServingStatus> {
        let (stream, continuation) = AsyncStream<HealthCheckResponse.ServingStatus>.makeStream(bufferingPolicy: .bufferingNewest(4))
        let id: Int = self.state.withLock { state in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = (service, continuation)
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}

/// ova.v1.Health, shaped like grpc.health.v1.
public struct HealthServiceHandler: HealthHandler {
    let board: HealthStatusBoard

    public init(board: HealthStatusBoard) {
        self.board = board
    }

    public func check(request: HealthCheckRequest, context: OvaRPC.ServerContext) async throws -> HealthCheckResponse {
        guard let status = self.board.status(of: request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        var response = HealthCheckResponse()
        response.status = status
        return response
    }

    public func watch(
        request: HealthCheckRequest,
        responses: RPCResponseWriter<HealthCheckResponse>,
        context: OvaRPC.ServerContext
    ) async throws {
        var last: HealthCheckResponse.ServingStatus?
        for await status in self.board.watch(request.service) {
            try Task.checkCancellation()
            guard status != last else { continue }
            last = status
            var response = HealthCheckResponse()
            response.status = status
            try await responses.write(response)
        }
    }
}
