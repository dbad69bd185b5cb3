import CCurl
import Logging
import Synchronization

/// One request on one curl easy handle, from setup to completion.
///
/// Threading: `init` runs on the caller's thread, before the transfer is handed to the
/// ``CurlMultiLoop``; from then on every mutable property is touched only by the curl thread
/// (in curl's callbacks and in ``finish(_:)``), except ``cancelRequested``, which is atomic.
/// The hand-over goes through the loop's mutex, which orders the two. That is why the class
/// can be `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    /// What happens to the response.
    enum Mode {
        /// Collect the body (at most `maxBodyBytes`) and report it to ``collectCompletion``.
        case collect(maxBodyBytes: Int)
        /// Hand parts to a consumer through a bounded buffer.
        case stream(HTTPStreamBuffer)
    }

    typealias CollectResult = Result<(HTTPResponseHead, [UInt8]), ProviderError>

    /// The easy handle (`CURL *`); freed in `deinit`, after the loop removed it from the multi.
    let easy: UnsafeMutableRawPointer
    /// Set from any thread to abort; checked by the progress callback and the loop.
    let cancelRequested = Atomic<Bool>(false)
    let mode: Mode
    /// For log lines: method, scheme, host and path; never the query (it could carry a
    /// token) and never a header.
    let logLabel: String
    private let logger: Logger
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Set once, before the transfer is submitted (collect mode only).
    var collectCompletion: (@Sendable (CollectResult) -> Void)?

    // Curl thread only, from submission on.
    private var headers: [(String, String)] = []
    private var headerBytes = 0
    private var headDelivered = false
    private var body: [UInt8] = []
    private var tooLarge = false
    private var finished = false

    /// The most header bytes accepted per response; curl bounds single lines, this bounds
    /// their number.
    static let maxHeaderBytes = 256 * 1024

    /// Prepares the easy handle for `request`.
    ///
    /// - Throws: ``ProviderError/invalidRequest(_:)`` for a header with a line break, a URL
    ///   curl refuses, or when curl cannot allocate a handle.
    init(request: HTTPRequest, mode: Mode, logger: Logger) throws(ProviderError) {
        guard let easy = curl_easy_init() else {
            throw .invalidRequest("curl_easy_init failed")
        }
        self.easy = easy
        self.mode = mode
        self.logger = logger
        self.logLabel = "\(request.method) \(Self.withoutQuery(request.url))"
        self.errorBuffer = .allocate(capacity: Int(OVA_CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(OVA_CURL_ERROR_SIZE))
        // From here on `deinit` frees the handle, the list and the buffer if setup throws.
        try self.configure(request)
    }

    deinit {
        curl_easy_cleanup(self.easy)
        curl_slist_free_all(self.headerList)
        self.errorBuffer.deallocate()
    }

    // MARK: - Setup

    private func configure(_ request: HTTPRequest) throws(ProviderError) {
        let easy = self.easy
        func check(_ code: CURLcode, _ what: String) throws(ProviderError) {
            guard code == CURLE_OK else {
                throw .invalidRequest("\(what): \(String(cString: curl_easy_strerror(code)))")
            }
        }
        let userdata = Unmanaged.passUnretained(self).toOpaque()

        try check(ova_curl_setopt_str(easy, CURLOPT_URL, request.url), "URL")
        // Only HTTP(S): a base URL from configuration must not reach file:// or other schemes.
        try check(ova_curl_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        // curl must not use signals (SIGALRM for DNS timeouts) in a multithreaded process.
        try check(ova_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        // No redirects: a provider API has no reason to redirect, and following one could
        // carry the Authorization header to a host we did not choose.
        try check(ova_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0), "FOLLOWLOCATION")
        try check(ova_curl_setopt_str(easy, CURLOPT_USERAGENT, CurlHTTPClient.userAgent), "USERAGENT")
        try check(ova_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout)), "TIMEOUT")
        try check(
            ova_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout)),
            "CONNECTTIMEOUT"
        )
        try check(ova_curl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, self.errorBuffer), "ERRORBUFFER")
        try check(ova_curl_setopt_write_callback(easy, curlWriteCallback, userdata), "WRITEFUNCTION")
        try check(ova_curl_setopt_header_callback(easy, curlHeaderCallback, userdata), "HEADERFUNCTION")
        try check(ova_curl_setopt_xferinfo_callback(easy, curlProgressCallback, userdata), "XFERINFOFUNCTION")

        switch request.method.uppercased() {
        case "GET" where request.body.isEmpty:
            try check(ova_curl_setopt_long(easy, CURLOPT_HTTPGET, 1), "HTTPGET")
        case "HEAD":
            try check(ova_curl_setopt_long(easy, CURLOPT_NOBODY, 1), "NOBODY")
        case "POST":
            try check(ova_curl_setopt_long(easy, CURLOPT_POST, 1), "POST")
            try self.setBody(request.body, check)
        default:
            try check(ova_curl_setopt_str(easy, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
            if !request.body.isEmpty {
                try self.setBody(request.body, check)
            }
        }

        var lines: [String] = []
        var hasContentType = false
        for (name, value) in request.headers {
            // A CR or LF would let a value (say, a model name from a client) add headers.
            guard !Self.hasLineBreak(name), !Self.hasLineBreak(value), !name.isEmpty else {
                throw .invalidRequest("a header name or value contains a line break")
            }
            if name.lowercased() == "content-type" { hasContentType = true }
            // "Name:" would tell curl to remove the header; "Name;" sends it empty.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if !request.body.isEmpty && !hasContentType {
            // curl would otherwise label the body application/x-www-form-urlencoded.
            lines.append("Content-Type: application/octet-stream")
        }
        // curl sends "Expect: 100-continue" for bodies over 1 MiB (audio, images) and waits
        // for an answer some servers never send; an empty Expect turns that off.
        lines.append("Expect:")
        for line in lines {
            guard let list = curl_slist_append(self.headerList, line) else {
                throw .invalidRequest("curl_slist_append failed")
            }
            self.headerList = list
        }
        try check(ova_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, self.headerList), "HTTPHEADER")
    }

    private func setBody(
        _ body: [UInt8],
        _ check: (CURLcode, String) throws(ProviderError) -> Void
    ) throws(ProviderError) {
        // The size goes first: without it COPYPOSTFIELDS would use strlen. curl copies the
        // bytes, so the array need not outlive this call.
        try check(ova_curl_setopt_off(self.easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "POSTFIELDSIZE")
        let code = body.withUnsafeBytes { bytes -> CURLcode in
            guard let base = bytes.baseAddress else {
                return ova_curl_setopt_str(self.easy, CURLOPT_COPYPOSTFIELDS, "")
            }
            return ova_curl_setopt_ptr(self.easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
        }
        try check(code, "COPYPOSTFIELDS")
    }

    // MARK: - Callbacks (curl thread)

    /// A header line, CR LF included. A status line starts a new header block: interim 1xx
    /// responses have their own, and only the last block describes the body.
    fileprivate func receivedHeader(_ line: UnsafeRawBufferPointer) -> Int {
        self.headerBytes += line.count
        guard self.headerBytes <= Self.maxHeaderBytes else {
            self.tooLarge = true
            return 0
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            self.headers = []
            return line.count
        }
        guard let colon = text.firstIndex(of: ":") else {
            return line.count  // the blank line that ends the block
        }
        let name = text[..<colon].trimmingWhitespace().lowercased()
        let value = text[text.index(after: colon)...].trimmingWhitespace()
        if !name.isEmpty {
            self.headers.append((name, value))
        }
        return line.count
    }

    /// Body bytes. Returns `count` to accept them, ``OVA_CURL_WRITEFUNC_PAUSE`` to pause (curl
    /// keeps the bytes and offers them again after `curl_easy_pause`), anything else to abort.
    fileprivate func receivedBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch self.mode {
        case .collect(let maxBodyBytes):
            guard self.body.count + bytes.count <= maxBodyBytes else {
                self.tooLarge = true
                return 0
            }
            self.body.append(contentsOf: bytes)
            return bytes.count
        case .stream(let buffer):
            if !self.headDelivered {
                self.headDelivered = true
                buffer.offerHead(self.makeHead())
            }
            switch buffer.offerBody(bytes) {
            case .accepted: return bytes.count
            case .pause: return OVA_CURL_WRITEFUNC_PAUSE
            case .closed: return 0
            }
        }
    }

    fileprivate func progress() -> Int32 {
        self.cancelRequested.load(ordering: .relaxed) ? 1 : 0
    }

    // MARK: - Completion (curl thread, or the caller's before submission)

    /// Ends the transfer with curl's result `code`.
    func complete(code: CURLcode) {
        if code == CURLE_OK {
            self.finish(.success(()))
        } else {
            self.finish(.failure(self.error(for: code)))
        }
    }

    /// Reports `result` to the waiting caller or stream, once.
    func finish(_ result: Result<Void, ProviderError>) {
        guard !self.finished else { return }
        self.finished = true
        switch result {
        case .success:
            self.logger.debug("provider request done", metadata: ["request": "\(self.logLabel)"])
        case .failure(let error):
            self.logger.debug(
                "provider request failed",
                metadata: ["request": "\(self.logLabel)", "error": "\(error)"]
            )
        }
        switch self.mode {
        case .collect:
            let completion = self.collectCompletion
            self.collectCompletion = nil
            let body = self.body
            self.body = []
            completion?(result.map { (self.makeHead(), body) })
        case .stream(let buffer):
            if case .success = result, !self.headDelivered {
                // No body (204, HEAD, an empty 200): the head still has to reach the consumer.
                self.headDelivered = true
                buffer.offerHead(self.makeHead())
            }
            buffer.finish(result)
        }
    }

    private func makeHead() -> HTTPResponseHead {
        var status = 0
        _ = ova_curl_getinfo_long(self.easy, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponseHead(status: status, headers: self.headers)
    }

    private func error(for code: CURLcode) -> ProviderError {
        if self.cancelRequested.load(ordering: .relaxed) { return .cancelled }
        if self.tooLarge { return .tooLarge }
        let detail = self.errorBuffer.pointee == 0
            ? String(cString: curl_easy_strerror(code))
            : String(cString: self.errorBuffer)
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        case CURLE_WRITE_ERROR:
            // Only our write callback fails writes: the stream's consumer went away.
            return .cancelled
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidRequest(detail)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .malformedResponse(detail)
        default:
            // Refused, DNS, TLS, reset or closed mid-response: all "the network failed".
            return .connect(detail)
        }
    }

    // MARK: - Helpers

    /// curl treats 0 as "no timeout", so the smallest value sent is 1 ms.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 1 }
        let millis = seconds.multipliedReportingOverflow(by: 1000)
        guard !millis.overflow else { return Int.max }
        return max(1, Int(clamping: millis.partialValue + attoseconds / 1_000_000_000_000_000))
    }

    static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }

    private static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x0A || $0 == 0x0D || $0 == 0 }
    }
}

// MARK: - C callbacks

// Each receives the transfer as `userdata`, unretained: the loop holds the transfer for as
// long as its handle is in the multi, and curl calls these only from inside the loop.

private let curlWriteCallback: ova_curl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receivedBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlHeaderCallback: ova_curl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receivedHeader(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlProgressCallback: ova_curl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 1 }
    return Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue().progress()
}
