import Foundation
import OvaRPC

/// The access token `ova login` saved (``SavedToken``, the file `ova` writes), used only for the
/// address it was saved for and only until it expires; every refusal says what to run instead.
enum SavedLogin {
    /// The saved token for `address`.
    ///
    /// - Throws: ``BenchError`` saying what to do when there is none, it is for another server
    ///   or it has expired.
    static func token(for address: String) throws -> String {
        let path = SavedToken.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("no --token and no saved login at \(path); run `ova login --addr \(address)` or pass --token")
        }
        guard let saved = try? JSONDecoder().decode(SavedToken.self, from: data) else {
            throw BenchError("\(path) is not a token saved by `ova login`; run `ova login --addr \(address)` or pass --token")
        }
        guard saved.address == address else {
            throw BenchError("the login saved at \(path) is for \(saved.address), not \(address); run `ova login --addr \(address)` or pass --token")
        }
        guard !saved.isExpired else {
            throw BenchError("the login saved at \(path) has expired; run `ova login --addr \(address)` again")
        }
        return saved.accessToken
    }
}
