/// Why a speech engine could not do what was asked, in terms a service can map to a status code.
///
/// - ``unavailable(_:)``: the engine or its data is not installed (the message names the Debian
///   package to install) or the engine was shut down; maps to UNAVAILABLE / FAILED_PRECONDITION.
/// - ``invalidInput(_:)``: the request itself is wrong (text too long, unknown voice, a grammar
///   word missing from the dictionary, a finished session); maps to INVALID_ARGUMENT.
/// - ``engineFailure(_:)``: the C engine reported an error it should not have; maps to INTERNAL.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    case unavailable(String)
    case invalidInput(String)
    case engineFailure(String)

    public var description: String {
        switch self {
        case .unavailable(let message): return "engine unavailable: \(message)"
        case .invalidInput(let message): return "invalid input: \(message)"
        case .engineFailure(let message): return "engine failure: \(message)"
        }
    }
}
