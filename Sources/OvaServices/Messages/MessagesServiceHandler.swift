import Logging
import OvaAuth
import OvaProto
import OvaRPC
import OvaStore

#if canImport(Glibc)
import Glibc
#endif

/// `ova.v1.Messages`: the public contact form and the back office's inbox.
public struct MessagesServiceHandler: MessagesHandler {
    let repository: ContactMessageRepository
    let broadcaster: MessageBroadcaster
    let tail: MessageTail
    let sendLimiter: KeyedRateLimiter

    public init(repository: ContactMessageRepository, broadcaster: MessageBroadcaster, tail: MessageTail, sendLimiter: KeyedRateLimiter) {
        self.repository = repository
        self.broadcaster = broadcaster
        self.tail = tail
        self.sendLimiter = sendLimiter
    }

    /// The original's rules (`ContactoCreate`: trimmed; name 2–200, subject 3–200, message at
    /// least 10) plus an upper bound on the message.
    static let nameLength = 2...200
    static let subjectLength = 3...200
    static let messageLength = 10...5000
    /// Rows per database read and bytes per chunk of an export.
    static let exportBatchRows = 200
    static let exportChunkBytes = 32 * 1024

    public func sendMessage(request: SendMessageRequest, context: ServerContext) async throws -> ContactMessage {
        try self.sendLimiter.check(peerAddress: context.peerAddress, what: "messages")
        var validator = RequestValidator()
        let name = validator.text(request.name, field: "name", length: Self.nameLength)
        let email = validator.email(request.email, field: "email")
        let subject = validator.text(request.subject, field: "subject", length: Self.subjectLength)
        let message = validator.text(request.message, field: "message", length: Self.messageLength)
        try validator.check("invalid contact message")
        let record = try await withStore("message") { () throws(StoreError) in
            try await self.repository.create(name: name, email: email, subject: subject, message: message)
        }
        // The actor stays anonymous: the sender's email is unverified, and recording it as the
        // actor would let a visitor write records in an administrator's name.
        context.auditNote?.target = "message:\(record.id)"
        self.tail.deliver(record)
        return ContactMessage(record)
    }

    public func getMessage(request: GetMessageRequest, context: ServerContext) async throws -> ContactMessage {
        _ = try context.requireAdmin()
        try RequestValidator.checkID(request.id)
        return ContactMessage(try await withStore("message \(request.id)") { () throws(StoreError) in
            try await self.repository.get(id: request.id)
        })
    }

    public func listMessages(request: ListMessagesRequest, context: ServerContext) async throws -> ListMessagesResponse {
        _ = try context.requireAdmin()
        var validator = RequestValidator()
        let email = request.email.isEmpty ? "" : validator.email(request.email, field: "email")
        try validator.check()
        let page = try PageQuery(request.page)
        let messages = try await withStore("messages") { () throws(StoreError) in
            try await self.repository.list(ContactMessageFilter(unreadOnly: request.unreadOnly, email: email), page: page)
        }
        var response = ListMessagesResponse()
        response.messages = messages.items.map(ContactMessage.init)
        response.page = PageResponse(messages)
        return response
    }

    /// Sets `read` and/or `answered`: those named in `update_mask`, or both when it is empty.
    public func markMessage(request: MarkMessageRequest, context: ServerContext) async throws -> ContactMessage {
        _ = try context.requireAdmin()
        context.auditNote?.target = "message:\(request.id)"
        try RequestValidator.checkID(request.id)
        let mask = request.updateMask ?? FieldMask()
        let paths = mask.paths.isEmpty ? ["read", "answered"] : try mask.validatedPaths(allowed: ["read", "answered"])
        return ContactMessage(try await withStore("message \(request.id)") { () throws(StoreError) in
            try await self.repository.mark(
                id: request.id,
                read: paths.contains("read") ? request.read : nil,
                answered: paths.contains("answered") ? request.answered : nil
            )
        })
    }

    public func deleteMessage(request: DeleteMessageRequest, context: ServerContext) async throws -> Empty {
        _ = try context.requireAdmin()
        context.auditNote?.target = "message:\(request.id)"
        try RequestValidator.checkID(request.id)
        try await withStore("message \(request.id)") { () throws(StoreError) in
            try await self.repository.delete(id: request.id)
        }
        return Empty()
    }

    /// Pushes every message with an id above `after_id` (stored ones first, oldest first), or
    /// sent from now on when it is 0, through whichever instance it was sent, until the client
    /// cancels, its deadline passes or the server shuts down. Each message once.
    public func watchMessages(
        request: WatchMessagesRequest,
        responses: RPCResponseWriter<ContactMessage>,
        context: ServerContext
    ) async throws {
        _ = try context.requireAdmin()
        guard request.afterId >= 0 else {
            throw RPCError.invalidArgument("invalid watch", fieldViolations: [("after_id", "must be 0 (from now on) or a message id")])
        }
        var from = request.afterId
        if from == 0 {
            from = try await withStore("messages") { () throws(StoreError) in try await self.repository.maxID() }
        }
        // Subscribed after `from` was fixed and before the stored messages are read: a message
        // sent in between is read below, or arrives live, or both (and is sent once).
        let live = self.broadcaster.subscribe()
        self.tail.begin(from: from)
        // Headers now, so the client knows the watch is established before the first message.
        try await responses.writeMetadata(Metadata())
        var sent = Set<Int64>()
        var cursor = from
        while true {
            try Task.checkCancellation()
            let batch = try await withStore("messages") { () throws(StoreError) in
                try await self.repository.batch(afterID: cursor, unreadOnly: false, limit: Self.exportBatchRows)
            }
            for message in batch {
                try await responses.write(ContactMessage(message))
                sent.insert(message.id)
            }
            cursor = batch.last?.id ?? cursor
            if batch.count < Self.exportBatchRows { break }
        }
        // Only ids the tail could still hand over matter for deduplication.
        sent = sent.filter { $0 > cursor - self.tail.lookbackIDs }
        for await message in live {
            try Task.checkCancellation()
            guard message.id > from, sent.insert(message.id).inserted else { continue }
            try await responses.write(ContactMessage(message))
        }
    }

    /// The inbox as CSV (header row first), in chunks of about 32 KiB, oldest first, read from
    /// the database in bounded batches so any size exports in constant memory.
    public func exportMessages(
        request: ExportMessagesRequest,
        responses: RPCResponseWriter<ExportChunk>,
        context: ServerContext
    ) async throws {
        _ = try context.requireAdmin()
        context.auditNote?.target = request.unreadOnly ? "messages:unread" : "messages:all"
        var buffer = CSVEncoder.record(["id", "sent_at_utc", "name", "email", "subject", "message", "read", "answered"])
        var afterID: Int64 = 0
        while true {
            try Task.checkCancellation()
            let batch = try await withStore("messages") { () throws(StoreError) in
                try await self.repository.batch(afterID: afterID, unreadOnly: request.unreadOnly, limit: Self.exportBatchRows)
            }
            for message in batch {
                buffer += CSVEncoder.record([
                    String(message.id), Self.utcTimestamp(message.sentAtMilliseconds), message.name, message.email,
                    message.subject, message.message, String(message.read), String(message.answered),
                ])
                if buffer.utf8.count >= Self.exportChunkBytes {
                    try await Self.flush(&buffer, to: responses)
                }
            }
            guard let last = batch.last, batch.count == Self.exportBatchRows else { break }
            afterID = last.id
        }
        try await Self.flush(&buffer, to: responses)
    }

    private static func flush(_ buffer: inout String, to responses: RPCResponseWriter<ExportChunk>) async throws {
        guard !buffer.isEmpty else { return }
        var chunk = ExportChunk()
        chunk.csv = Array(buffer.utf8)
        buffer = ""
        try await responses.write(chunk)
    }

    /// ISO 8601 in UTC with milliseconds, e.g. `2026-11-27T21:05:03.042Z`.
    static func utcTimestamp(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }
}
