import OvaProto
import OvaStore

extension Admin {
    init(_ record: AdminRecord) {
        self.init()
        self.id = record.id
        self.name = record.name
        self.email = record.email
        self.superadmin = record.superadmin
        self.active = record.active
        self.createdAtUnixMs = UInt64(max(0, record.createdAtMilliseconds))
        self.updatedAtUnixMs = UInt64(max(0, record.updatedAtMilliseconds))
    }
}

extension Session {
    init(_ record: SessionRecord, currentSessionID: Int64?) {
        self.init()
        self.id = record.id
        self.adminId = record.adminID
        self.adminEmail = record.admin.email
        self.adminName = record.admin.name
        self.ipAddress = record.ipAddress
        self.userAgent = record.userAgent
        self.startedAtUnixMs = UInt64(max(0, record.startedAtMilliseconds))
        self.expiresAtUnixMs = UInt64(max(0, record.expiresAtMilliseconds))
        self.active = record.active
        self.current = record.id == currentSessionID
    }
}

extension User {
    init(_ record: UserRecord) {
        self.init()
        self.id = record.id
        self.email = record.email
        self.name = record.name
        self.active = record.active
        self.registeredAtUnixMs = UInt64(max(0, record.registeredAtMilliseconds))
    }
}

extension ContactMessage {
    init(_ record: ContactMessageRecord) {
        self.init()
        self.id = record.id
        self.name = record.name
        self.email = record.email
        self.subject = record.subject
        self.message = record.message
        self.sentAtUnixMs = UInt64(max(0, record.sentAtMilliseconds))
        self.read = record.read
        self.answered = record.answered
    }
}

extension AuditEvent {
    init(_ record: AuditEventRecord) {
        self.init()
        self.id = record.id
        self.timeUnixMs = UInt64(max(0, record.timeMilliseconds))
        self.actor = record.actor
        self.actorAdminId = record.actorAdminID ?? 0
        self.action = record.action
        self.target = record.target
        self.peerAddress = record.peerAddress
        self.requestId = record.requestID
        self.outcome = record.outcome
        self.detail = record.detail
    }
}

extension PageQuery {
    /// The page a request asks for. - Throws: INVALID_ARGUMENT for a bad page token.
    init(_ request: PageRequest?) throws {
        do {
            try self.init(pageSize: Int(request?.pageSize ?? 0), pageToken: request?.pageToken ?? "")
        } catch {
            throw error.rpcError
        }
    }
}

extension PageResponse {
    init<Item>(_ page: Page<Item>) {
        self.init()
        self.nextPageToken = page.nextPageToken
        self.totalSize = UInt64(max(0, page.totalSize))
    }
}

extension FieldMask {
    /// The paths, validated against the fields an update may change.
    ///
    /// - Throws: INVALID_ARGUMENT for an empty mask or an unknown path.
    func validatedPaths(allowed: Set<String>, field: String = "update_mask") throws -> Set<String> {
        var validator = RequestValidator()
        if self.paths.isEmpty {
            validator.fail("\(field).paths", "list the fields to change: \(allowed.sorted().joined(separator: ", "))")
        }
        for path in self.paths where !allowed.contains(path) {
            validator.fail("\(field).paths", "'\(path)' cannot be updated; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
        try validator.check()
        return Set(self.paths)
    }
}
