import OvaProto
import OvaRPC
import OvaStore

/// `ova.v1.Audit`: reading the audit log (superadmins; the access policy enforces it).
public struct AuditServiceHandler: AuditHandler {
    let repository: AuditRepository

    public init(repository: AuditRepository) {
        self.repository = repository
    }

    public func listAuditEvents(request: ListAuditEventsRequest, context: ServerContext) async throws -> ListAuditEventsResponse {
        _ = try context.requireSuperadmin(for: "reading the audit log")
        var validator = RequestValidator()
        if request.actor.count > 254 { validator.fail("actor", "must be at most 254 characters") }
        if request.action.count > 128 { validator.fail("action", "must be at most 128 characters") }
        if request.fromUnixMs > 0, request.toUnixMs > 0, request.toUnixMs <= request.fromUnixMs {
            validator.fail("to_unix_ms", "must be after from_unix_ms")
        }
        if request.fromUnixMs > UInt64(Int64.max) { validator.fail("from_unix_ms", "is out of range") }
        if request.toUnixMs > UInt64(Int64.max) { validator.fail("to_unix_ms", "is out of range") }
        try validator.check()
        let filter = AuditFilter(
            actor: request.actor.trimmingWhitespace(),
            action: request.action.trimmingWhitespace(),
            fromMilliseconds: request.fromUnixMs > 0 ? Int64(request.fromUnixMs) : nil,
            toMilliseconds: request.toUnixMs > 0 ? Int64(request.toUnixMs) : nil
        )
        let page = try PageQuery(request.page)
        let events = try await withStore("audit events") { () throws(StoreError) in
            try await self.repository.list(filter, page: page)
        }
        var response = ListAuditEventsResponse()
        response.events = events.items.map(AuditEvent.init)
        response.page = PageResponse(events)
        return response
    }
}
