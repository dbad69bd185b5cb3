/// One outbound HTTP request for ``CurlHTTPClient``.
///
/// Headers are sent as given, in order. `Content-Type` should be set when there is a body;
/// without one the client sends `application/octet-stream` rather than curl's form default.
/// Header values may hold secrets (`Authorization`), so nothing in this module logs them.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH` or `HEAD` (any other token is sent as a custom method).
    public var method: String
    /// An absolute `http://` or `https://` URL; other schemes are refused.
    public var url: String
    /// Header names and values; names are case-insensitive.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Limit for the whole exchange, from connecting to the last body byte (streams included).
    public var timeout: Duration
    /// Limit for establishing the connection, TLS handshake included.
    public var connectTimeout: Duration

    public init(
        method: String = "GET",
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

/// The status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    /// Header names lowercased, values with surrounding whitespace removed, in arrival order.
    public var headers: [(String, String)]

    public init(status: Int, headers: [(String, String)]) {
        self.status = status
        self.headers = headers.map { ($0.0.lowercased(), $0.1) }
    }

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let name = name.lowercased()
        return self.headers.first { $0.0 == name }?.1
    }

    /// The media type of `Content-Type`, lowercased and without parameters (`audio/flac`).
    public var mediaType: String? {
        guard let value = self.header("content-type") else { return nil }
        let type = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return type.trimmingWhitespace().lowercased()
    }
}

/// What ``CurlHTTPClient/stream(_:)`` yields: one ``head(_:)``, then the body in ``body(_:)``
/// chunks as they arrive; the stream then ends, or throws a ``ProviderError``.
public enum HTTPStreamPart: Sendable {
    case head(HTTPResponseHead)
    case body([UInt8])
}

extension StringProtocol {
    /// Drops leading and trailing whitespace: HTTP's optional whitespace and the CR LF that
    /// ends a header line (one `Character` in Swift, which `isWhitespace` covers).
    func trimmingWhitespace() -> String {
        guard let first = self.firstIndex(where: { !$0.isWhitespace }),
            let last = self.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
