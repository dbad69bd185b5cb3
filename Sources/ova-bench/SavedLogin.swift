import Foundation

/// The access token `ova login` saved, read the way `ova` reads it (Sources/ova/Subcommands/
/// SavedToken.swift; keep the two in step): the file `OVA_TOKEN_FILE`, else
/// `$XDG_CONFIG_HOME/ova/token`, else `~/.config/ova/token`, used only for the address it was
/// saved for, and only until it expires.
enum SavedLogin {
    private struct File: Decodable {
        var address: String
        var accessToken: String
        var expiresAtUnixMilliseconds: UInt64

        enum CodingKeys: String, CodingKey {
            case address
            case accessToken = "access_token"
            case expiresAtUnixMilliseconds = "expires_at_unix_ms"
        }
    }

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let file = environment["OVA_TOKEN_FILE"], !file.isEmpty { return file }
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.config")
        return configHome + "/ova/token"
    }

    /// The saved token for `address`.
    ///
    /// - Throws: ``BenchError`` saying what to do when there is none, it is for another server
    ///   or it has expired.
    static func token(for address: String) throws -> String {
        let path = self.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("no --token and no saved login at \(path); run `ova login --addr \(address)` or pass --token")
        }
        guard let saved = try? JSONDecoder().decode(File.self, from: data) else {
            throw BenchError("\(path) is not a token saved by `ova login`; run `ova login --addr \(address)` or pass --token")
        }
        guard saved.address == address else {
            throw BenchError("the login saved at \(path) is for \(saved.address), not \(address); run `ova login --addr \(address)` or pass --token")
        }
        guard saved.expiresAtUnixMilliseconds > UInt64(Date().timeIntervalSince1970 * 1000) else {
            throw BenchError("the login saved at \(path) has expired; run `ova login --addr \(address)` again")
        }
        return saved.accessToken
    }
}
