/// Why audio bytes were rejected. Audio comes from clients, so every case is a caller error
/// (INVALID_ARGUMENT), and the message says what was wrong in terms a client developer can act on.
public enum AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a WAV header: wrong magic, a malformed or inconsistent chunk.
    case invalidHeader(String)
    /// The header ended before the `data` chunk started. Distinct from ``invalidHeader(_:)`` so
    /// a streaming reader can wait for more bytes and parse again.
    case truncated(String)
    /// A well-formed header for audio this code does not decode (8-bit, float, 96 kHz, 6 channels).
    case unsupportedFormat(String)
    /// The audio ended in the middle of a sample frame.
    case oddByteCount
    /// More audio than the configured limit.
    case tooLong(limitBytes: Int)

    public var description: String {
        switch self {
        case .invalidHeader(let message): return "invalid WAV header: \(message)"
        case .truncated(let message): return "truncated WAV header: \(message)"
        case .unsupportedFormat(let message): return "unsupported audio format: \(message)"
        case .oddByteCount: return "audio ends in the middle of a 16-bit sample frame"
        case .tooLong(let limit): return "audio longer than the limit of \(limit) bytes"
        }
    }
}
