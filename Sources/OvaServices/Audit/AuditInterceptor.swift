import Logging
import OvaProto
import OvaRPC
import OvaStore
import Synchronization

/// What a handler adds to its call's audit record: the target it touched, and for a successful
/// Login the account that logged in (the caller was not authenticated when the call began).
public final class AuditNote: Sendable {
    private struct Fields {
        var actor: String?
        var actorAdminID: Int64?
        var target = ""
    }

    private let fields = Mutex(Fields())

    public var actor: String? {
        get { self.fields.withLock { $0.actor } }
        set { self.fields.withLock { $0.actor = newValue } }
    }

    public var actorAdminID: Int64? {
        get { self.fields.withLock { $0.actorAdminID } }
        set { self.fields.withLock { $0.actorAdminID = newValue } }
    }

    /// e.g. `admin:7`, `session:12`, `message:3`.
    public var target: String {
        get { self.fields.withLock { $0.target } }
        set { self.fields.withLock { $0.target = newValue } }
    }
}

/// Where ``AuditNote`` lives in ``ServerContext/attributes``.
public enum AuditNoteKey: ContextAttributeKey {
    public typealias Value = AuditNote
}

extension ServerContext {
    /// The audit note of an audited call; nil for calls that are not audited.
    public var auditNote: AuditNote? {
        self.attributes[AuditNoteKey.self]
    }
}

/// Writes one audit record per audited call once it has ended: who (the authenticated admin,
/// the account a successful login was for, or ``AuditActor/anonymous``), what (the call's
/// ``AuditAction``), on what (the handler's note), from where, the request id, and the outcome
/// (the status code).
///
/// Audited: every method that changes state or reveals bulk data (exports), every login
/// attempt, and any call refused with PERMISSION_DENIED. Plain reads are not, so the log
/// stays a record of actions. Runs outside the ``AuthorizationInterceptor`` so refusals are seen.
public struct AuditInterceptor: ServerInterceptor {
    let repository: AuditRepository
    let auditedMethods: Set<String>
    /// Services never audited: diagnostics, open to anyone, that change nothing.
    let unauditedServices: Set<String>
    let logger: Logger

    public init(
        repository: AuditRepository,
        auditedMethods: Set<String> = AuditAction.recordedMethodPaths,
        unauditedServices: Set<String> = [EchoService.descriptor.name, HealthService.descriptor.name, ReflectionService.descriptor.name],
        logger: Logger
    ) {
        self.repository = repository
        self.auditedMethods = auditedMethods
        self.unauditedServices = unauditedServices
        self.logger = logger
    }

    public func applies(to method: MethodDescriptor) -> Bool {
        !self.unauditedServices.contains(method.service)
    }

    public func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
        guard self.auditedMethods.contains(context.method.path) else {
            // Reads and diagnostics (Echo under load) pay for nothing but a set lookup.
            do {
                try await next()
            } catch {
                let rpcError = RPCError.from(error)
                if rpcError.code == .permissionDenied {
                    await self.record(context: context, note: AuditNote(), outcome: rpcError.code, detail: rpcError.message)
                }
                throw error
            }
            return
        }
        let note = AuditNote()
        context.attributes[AuditNoteKey.self] = note
        do {
            try await next()
            await self.record(context: context, note: note, outcome: .ok, detail: "")
        } catch {
            let rpcError = RPCError.from(error)
            await self.record(context: context, note: note, outcome: rpcError.code, detail: rpcError.message)
            throw error
        }
    }

    private func record(context: ServerContext, note: AuditNote, outcome: StatusCode, detail: String) async {
        let caller = context.authenticatedAdmin
        let event = AuditEventRecord(
            timeMilliseconds: StoreClock.nowMilliseconds(),
            actor: caller?.admin.email ?? note.actor ?? AuditActor.anonymous,
            actorAdminID: caller?.admin.id ?? note.actorAdminID,
            action: AuditAction.name(for: context.method),
            target: note.target,
            peerAddress: context.peerAddress,
            requestID: context.requestID,
            outcome: outcome.name,
            detail: detail
        )
        await self.repository.append(event, orLogTo: self.logger)
    }
}
