/// One server-sent event: the `data` lines joined with `\n`, and the optional `event` type
/// and `id`.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }

    /// The OpenAI-style end-of-stream marker `data: [DONE]`.
    public var isDone: Bool {
        self.data == "[DONE]"
    }
}

/// An incremental parser for `text/event-stream` (WHATWG HTML, "Server-sent events",
/// §9.2.6), fed bytes as they arrive, in chunks split anywhere.
///
/// Lines end with CR LF, LF or CR (a CR at the end of one chunk and an LF at the start of the
/// next are one line end). A blank line dispatches the event being built, if it has data.
/// `field: value` lines set `data` (appended, one line each), `event` and `id`; a single space
/// after the colon is dropped; lines starting with `:` are comments (keep-alives); unknown
/// fields and `retry` are ignored. An event not closed by a blank line when the stream ends
/// is discarded, as the specification says. A leading UTF-8 byte order mark is skipped.
///
/// Memory is bounded: a line or an event longer than ``maxEventBytes`` makes ``feed(_:)``
/// throw ``ProviderError/tooLarge`` rather than buffer an endless line from a broken server.
public struct ServerSentEventParser: Sendable {
    /// The largest line, and the largest event's data, accepted.
    public let maxEventBytes: Int

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var event: String?
    private var id: String?
    /// The last byte fed was a CR: an LF right after it ends no second line.
    private var afterCR = false
    /// Bytes of the stream start still to compare with the byte order mark.
    private var bomState = 0

    public init(maxEventBytes: Int = 1024 * 1024) {
        self.maxEventBytes = maxEventBytes
    }

    /// Consumes `bytes` and returns the events they complete, in order.
    ///
    /// - Throws: ``ProviderError/tooLarge`` for a line or event over ``maxEventBytes``.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ProviderError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if self.bomState < 3 {
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if byte == bom[self.bomState] && self.line.count == self.bomState {
                    self.bomState += 1
                    if self.bomState == 3 { self.line.removeAll() } else { self.line.append(byte) }
                    continue
                }
                self.bomState = 3  // not a BOM: the bytes held back are ordinary line bytes
            }
            switch byte {
            case 0x0D:
                self.afterCR = true
                try self.endLine(into: &events)
            case 0x0A:
                if self.afterCR {
                    self.afterCR = false
                } else {
                    try self.endLine(into: &events)
                }
            default:
                self.afterCR = false
                guard self.line.count < self.maxEventBytes else { throw .tooLarge }
                self.line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine(into events: inout [ServerSentEvent]) throws(ProviderError) {
        defer { self.line.removeAll(keepingCapacity: true) }
        if self.line.isEmpty {
            self.dispatch(into: &events)
            return
        }
        if self.line.first == UInt8(ascii: ":") {
            return  // a comment
        }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = self.line.firstIndex(of: UInt8(ascii: ":")) {
            name = self.line[..<colon]
            value = self.line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = self.line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if self.hasData { self.data.append(0x0A) }
            self.data.append(contentsOf: value)
            self.hasData = true
            guard self.data.count <= self.maxEventBytes else { throw .tooLarge }
        case "event":
            self.event = String(decoding: value, as: UTF8.self)
        case "id":
            // The specification ignores ids containing NUL.
            if !value.contains(0) { self.id = String(decoding: value, as: UTF8.self) }
        default:
            break
        }
    }

    private mutating func dispatch(into events: inout [ServerSentEvent]) {
        defer {
            self.data.removeAll(keepingCapacity: true)
            self.hasData = false
            self.event = nil
        }
        // An event with no data lines is not dispatched (only its id would be kept).
        guard self.hasData else { return }
        events.append(ServerSentEvent(event: self.event, data: String(decoding: self.data, as: UTF8.self), id: self.id))
    }
}
