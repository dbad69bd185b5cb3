/// The outcome of a call: gRPC's 17 status codes with the same numbers and meanings.
///
/// Unknown values from the wire are rejected by ``init(rawValue:)``; the frame decoder maps
/// them to ``unknown`` so a newer peer's code never crashes an older one.
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init?(rawValue: UInt8) {
        guard rawValue <= 16 else { return nil }
        self.rawValue = rawValue
    }

    private init(_ rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Not an error; returned on success.
    public static let ok = StatusCode(0)
    /// The operation was cancelled, typically by the caller.
    public static let cancelled = StatusCode(1)
    /// Unknown error, including errors that carry no status of their own.
    public static let unknown = StatusCode(2)
    /// The client specified an invalid argument, independent of system state.
    public static let invalidArgument = StatusCode(3)
    /// The deadline expired before the operation could complete.
    public static let deadlineExceeded = StatusCode(4)
    /// Some requested entity was not found.
    public static let notFound = StatusCode(5)
    /// The entity a client attempted to create already exists.
    public static let alreadyExists = StatusCode(6)
    /// The caller is authenticated but lacks permission.
    public static let permissionDenied = StatusCode(7)
    /// Some resource has been exhausted: a quota, a size limit, a rate limit.
    public static let resourceExhausted = StatusCode(8)
    /// The system is not in a state required for the operation (e.g. a provider is not configured).
    public static let failedPrecondition = StatusCode(9)
    /// The operation was aborted, typically due to a concurrency issue.
    public static let aborted = StatusCode(10)
    /// The operation was attempted past the valid range.
    public static let outOfRange = StatusCode(11)
    /// The operation is not implemented or not supported.
    public static let unimplemented = StatusCode(12)
    /// An invariant expected by the system was broken.
    public static let internalError = StatusCode(13)
    /// The service is currently unavailable; retrying may succeed.
    public static let unavailable = StatusCode(14)
    /// Unrecoverable data loss or corruption.
    public static let dataLoss = StatusCode(15)
    /// The request does not have valid authentication credentials.
    public static let unauthenticated = StatusCode(16)

    /// Every code, in numeric order.
    public static let all: [StatusCode] = (0...16).map { StatusCode(UInt8($0)) }

    /// The canonical upper-case name, e.g. `DEADLINE_EXCEEDED`.
    public var name: String {
        Self.names[Int(self.rawValue)]
    }

    /// Looks a code up by its canonical name (`"NOT_FOUND"`), case-insensitively.
    public init?(name: String) {
        let upper = name.uppercased()
        guard let index = Self.names.firstIndex(of: upper) else { return nil }
        self.rawValue = UInt8(index)
    }

    public var description: String { self.name }

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]
}
