import OvaProto
import OvaRPC
import OvaStore

/// `ova.v1.Contacts`: the inbox grouped by sender (the original's `/agrupados`, reachable here).
public struct ContactsServiceHandler: ContactsHandler {
    let repository: ContactMessageRepository

    public init(repository: ContactMessageRepository) {
        self.repository = repository
    }

    /// Messages returned with one contact.
    static let messagesPerContact = 100

    public func listContacts(request: ListContactsRequest, context: ServerContext) async throws -> ListContactsResponse {
        _ = try context.requireAdmin()
        let page = try PageQuery(request.page)
        let senders = try await withStore("contacts") { () throws(StoreError) in
            try await self.repository.senders(page: page)
        }
        var response = ListContactsResponse()
        response.contacts = senders.items.map { Contact($0) }
        response.page = PageResponse(senders)
        return response
    }

    /// One sender with their latest messages (up to 100; `ListMessages` with `email` pages
    /// through all of them).
    public func getContact(request: GetContactRequest, context: ServerContext) async throws -> Contact {
        _ = try context.requireAdmin()
        var validator = RequestValidator()
        let email = validator.email(request.email, field: "email")
        try validator.check()
        let (summary, messages) = try await withStore("contact \(email)") { () throws(StoreError) in
            (
                try await self.repository.sender(email: email),
                try await self.repository.list(
                    ContactMessageFilter(email: email),
                    page: PageQuery(pageSize: Self.messagesPerContact, pageToken: "")
                )
            )
        }
        guard let summary else {
            throw RPCError(code: .notFound, message: "contact \(email) not found")
        }
        var contact = Contact(summary)
        contact.messages = messages.items.map(ContactMessage.init)
        return contact
    }

    /// Deletes every message of one sender (e.g. a data-erasure request).
    public func deleteContact(request: DeleteContactRequest, context: ServerContext) async throws -> DeleteContactResponse {
        _ = try context.requireAdmin()
        var validator = RequestValidator()
        let email = validator.email(request.email, field: "email")
        try validator.check()
        context.auditNote?.target = "contact:\(email)"
        let count = try await withStore("contact \(email)") { () throws(StoreError) in
            try await self.repository.deleteAll(email: email)
        }
        guard count > 0 else {
            throw RPCError(code: .notFound, message: "contact \(email) not found")
        }
        var response = DeleteContactResponse()
        response.deletedCount = UInt32(clamping: count)
        return response
    }
}

extension Contact {
    init(_ summary: ContactSummary) {
        self.init()
        self.email = summary.email
        self.name = summary.name
        self.messageCount = UInt32(clamping: summary.messageCount)
        self.unreadCount = UInt32(clamping: summary.unreadCount)
        self.lastMessageAtUnixMs = UInt64(max(0, summary.lastMessageAtMilliseconds))
    }
}
