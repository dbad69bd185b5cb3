import ArgumentParser
import Foundation
import OvaProto
import OvaRPC

#if canImport(Glibc)
import Glibc
#endif

/// `ova login`: exchanges an administrator's email and password for an access token and saves
/// it, so later commands against the same server are authenticated.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in as an administrator and save the access token for later commands.",
        discussion: """
            The password is read from a prompt (not echoed), or from standard input with \
            --password-stdin. The token is saved with mode 0600 in OVA_TOKEN_FILE, or \
            $XDG_CONFIG_HOME/ova/token (default ~/.config/ova/token), and is sent only to the \
            server it came from, until it expires or `ova logout`.
            """
    )

    @Option(help: "The administrator's email address.")
    var email: String

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input instead of a prompt.")
    var passwordFromStandardInput = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus {
            let password = try self.readPassword()
            let channel = try self.client.makeChannel()
            var request = LoginRequest()
            request.email = self.email
            request.password = password
            let response = try await AuthClient(channel: channel).login(request, options: self.client.callOptions(authenticated: false))
            let saved = try saveLogin(response, address: self.client.addr, email: self.email)
            let role = response.admin?.superadmin == true ? "superadmin" : "administrator"
            print("logged in as \(saved.email) (\(role)) until \(saved.expiry); token saved to \(SavedToken.path)")
            await channel.close()
        }
    }

    private func readPassword() throws -> String {
        if self.passwordFromStandardInput || isatty(STDIN_FILENO) == 0 {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("no password on standard input")
            }
            return line
        }
        FileHandle.standardError.write(Data("Password for \(self.email): ".utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("no password entered")
        }
        return line
    }
}

/// Saves the token of a login or refresh answer for `address`.
@discardableResult
func saveLogin(_ response: LoginResponse, address: String, email: String) throws -> SavedToken {
    let saved = SavedToken(
        address: address, accessToken: response.accessToken,
        email: response.admin?.email ?? email, expiresAtUnixMilliseconds: response.expiresAtUnixMs
    )
    do {
        try saved.save()
    } catch {
        throw ValidationError("logged in, but could not save the token to \(SavedToken.path): \(error)")
    }
    return saved
}

/// `ova refresh`: exchanges the saved token for a fresh one (the old session ends) and saves it.
struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Renew the saved login: a fresh token replaces the saved one, whose session ends."
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            let channel = try self.client.makeChannel()
            let response = try await AuthClient(channel: channel).refresh(RefreshRequest(), options: self.client.callOptions())
            let previous = SavedToken.load(for: self.client.addr, includingExpired: true)
            let saved = try saveLogin(response, address: self.client.addr, email: previous?.email ?? "")
            print("login of \(saved.email) renewed until \(saved.expiry); token saved to \(SavedToken.path)")
            await channel.close()
        }
    }
}

/// `ova logout`: ends the saved token's session on the server and deletes the token.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End the saved session on the server and delete the saved token.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        guard SavedToken.load(for: self.client.addr) != nil else {
            SavedToken.remove()
            print("not logged in to \(self.client.addr)")
            return
        }
        try await runReportingStatus(self.client) {
            let channel = try self.client.makeChannel()
            defer { SavedToken.remove() }
            do {
                _ = try await AuthClient(channel: channel).logout(LogoutRequest(), options: self.client.callOptions())
                print("logged out; session ended")
            } catch let error as RPCError where error.code == .unauthenticated {
                // Already revoked or expired on the server: removing the local copy is all that is left.
                print("the session had already ended; token removed")
            }
            await channel.close()
        }
    }
}
