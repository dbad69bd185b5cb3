import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The access token `ova login` saved: one per user, bound to the server address it came from
/// so it is never sent to another server. In OvaRPC so that every client tool (`ova`,
/// `ova-bench`) reads the same file the same way.
public struct SavedToken: Codable, Equatable, Sendable {
    public var address: String
    public var accessToken: String
    public var email: String
    public var expiresAtUnixMilliseconds: UInt64

    public init(address: String, accessToken: String, email: String, expiresAtUnixMilliseconds: UInt64) {
        self.address = address
        self.accessToken = accessToken
        self.email = email
        self.expiresAtUnixMilliseconds = expiresAtUnixMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case address
        case accessToken = "access_token"
        case email
        case expiresAtUnixMilliseconds = "expires_at_unix_ms"
    }

    /// `OVA_TOKEN_FILE`, else `$XDG_CONFIG_HOME/ova/token`, else `~/.config/ova/token`.
    public static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let file = environment["OVA_TOKEN_FILE"], !file.isEmpty { return file }
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.config")
        return configHome + "/ova/token"
    }

    /// The saved token for `address`, if there is one and it has not expired (or, with
    /// `includingExpired`, even if it has: to tell the user their login expired).
    public static func load(for address: String, includingExpired: Bool = false) -> SavedToken? {
        guard let data = FileManager.default.contents(atPath: self.path),
              let token = try? JSONDecoder().decode(SavedToken.self, from: data),
              token.address == address
        else { return nil }
        return includingExpired || !token.isExpired ? token : nil
    }

    public var isExpired: Bool {
        self.expiresAtUnixMilliseconds <= UInt64(Date().timeIntervalSince1970 * 1000)
    }

    public var expiry: Date {
        Date(timeIntervalSince1970: Double(self.expiresAtUnixMilliseconds) / 1000)
    }

    /// Writes the token with mode 0600 (its directory 0700): it is a credential.
    public func save() throws {
        let path = Self.path
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(self)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// Removes the saved token; true if there was one.
    @discardableResult
    public static func remove() -> Bool {
        unlink(self.path) == 0
    }
}
