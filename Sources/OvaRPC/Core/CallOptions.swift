/// Per-call settings on the client.
public struct CallOptions: Sendable {
    /// The call fails with DEADLINE_EXCEEDED after this long; sent to the server, which cancels
    /// the handler at the same moment.
    public var timeout: Duration?
    /// Request metadata, e.g. `authorization: Bearer ...`.
    public var metadata: Metadata

    public init(timeout: Duration? = nil, metadata: Metadata = Metadata()) {
        self.timeout = timeout
        self.metadata = metadata
    }

    public static var defaults: CallOptions { CallOptions() }
}
