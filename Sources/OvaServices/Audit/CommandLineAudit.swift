import Logging
import OvaRPC
import OvaStore

/// Audit records for `ova-server admin` and `ova-server import` commands, which change the
/// database without an RPC: they appear in the same log, under the same ``AuditAction`` names, with
/// ``AuditActor/commandLine`` as the actor and `local` as the peer.
public struct CommandLineAudit: Sendable {
    let repository: AuditRepository
    let logger: Logger

    public init(repository: AuditRepository, logger: Logger) {
        self.repository = repository
        self.logger = logger
    }

    /// Runs `body` and records how it ended: on success with the target `target` derives from
    /// its result (e.g. `admin:7`) and the detail `detail` derives from it (e.g. an import's
    /// counts), on failure with `failedTarget` (e.g. `email:ana@example.com`) and the error's
    /// status and message. The error is rethrown.
    public func run<T: Sendable>(
        _ action: AuditAction,
        failedTarget: String,
        target: (T) -> String,
        detail: (T) -> String = { _ in "" },
        _ body: () async throws -> T
    ) async throws -> T {
        do {
            let result = try await body()
            await self.record(action, target: target(result), outcome: .ok, detail: detail(result))
            return result
        } catch {
            let rpcError = RPCError.from(error)
            await self.record(action, target: failedTarget, outcome: rpcError.code, detail: rpcError.message)
            throw error
        }
    }

    private func record(_ action: AuditAction, target: String, outcome: StatusCode, detail: String) async {
        let event = AuditEventRecord(
            timeMilliseconds: StoreClock.nowMilliseconds(),
            actor: AuditActor.commandLine,
            actorAdminID: nil,
            action: action.rawValue,
            target: target,
            peerAddress: "local",
            requestID: "",
            outcome: outcome.name,
            detail: detail
        )
        await self.repository.append(event, orLogTo: self.logger)
    }
}
