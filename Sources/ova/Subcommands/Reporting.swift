import ArgumentParser
import Foundation
import OvaRPC
import Synchronization

/// Runs a client action, printing its failure as one line on standard error and exiting with
/// the call's status code (64 for a mistake found before any call, such as an unreadable file).
///
/// Only `validate()` errors, which ArgumentParser reports before `run()`, get the usage text:
/// an error found here is about a value, not about how the command is written.
///
/// - Parameter client: the options the action calls with, to explain an UNAUTHENTICATED answer
///   by the credential sent; nil for a call that sends none on purpose (`ova login`).
func runReportingStatus(_ client: ClientOptions? = nil, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RPCError {
        Output.finishLine()
        reportError(describe(error, credential: client?.credential))
        throw ExitCode(Int32(error.code.rawValue))
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        Output.finishLine()
        reportError(error.message)
        throw ExitCode.validationFailure
    } catch {
        Output.finishLine()
        reportError("\(error)")
        throw ExitCode(Int32(StatusCode.unknown.rawValue))
    }
}

func reportError(_ message: String) {
    FileHandle.standardError.write(Data("ova: \(message)\n".utf8))
}

/// The one line an RPC failure is reported as: connection failures and missing logins say what
/// to do about them, everything else is `CODE: the server's message`.
func describe(_ error: RPCError, credential: ClientOptions.Credential?) -> String {
    if error.code == .unavailable, let failure = error.cause as? ConnectFailure {
        return describe(failure)
    }
    if error.code == .unauthenticated, let credential {
        let server = error.message.isEmpty ? "" : " (the server said: \(error.message))"
        switch credential {
        case .saved(let saved):
            return "UNAUTHENTICATED: your login expired or was ended; run `ova login --email \(saved.email)`\(server)"
        case .expired(let saved):
            return "UNAUTHENTICATED: your login as \(saved.email) expired at \(saved.expiry); run `ova login --email \(saved.email)`"
        case .none:
            return "UNAUTHENTICATED: this call needs an administrator's login: run `ova login --email <your email>` first"
        case .header:
            break
        }
    }
    return error.description
}

/// What a failed connection means for someone at the command line, naming the flag that fixes
/// it (the one place the CLI words connection failures).
func describe(_ failure: ConnectFailure) -> String {
    switch failure {
    case .untrustedCertificate:
        return "the server's certificate is not trusted: pass `--ca data/dev-cert.pem` (the development server's certificate) "
            + "or `--insecure` for a development server"
    case .nameMismatch(let address, let name):
        return "the certificate of \(address) is not issued for \(name): connect by a name the certificate lists "
            + "(the development certificate: localhost, 127.0.0.1, ::1) or pass `--server-name <a name it lists>`"
    case .refused(let address):
        return "nothing is listening on \(address): is ova-server running? `make run`"
    case .timedOut(let address, let seconds):
        return "\(address) did not answer within \(seconds.formatted()) s (firewall? wrong address?)"
    case .notAnOVAServer, .other:
        return failure.description
    }
}

/// Standard output of the commands that stream: written through at once, so that a pipe
/// (`ova call .../WatchMessages | jq`) gets each response as it comes instead of when a 4 KiB
/// buffer fills; and remembering an unfinished line (a streamed answer) so that an error is
/// not printed in the middle of it.
enum Output {
    private static let lineIsOpen = Mutex(false)

    /// Writes `text` and a newline.
    static func line(_ text: String = "") {
        self.write(text + "\n")
    }

    /// Writes `text` as it is (streamed tokens).
    static func write(_ text: String) {
        guard !text.isEmpty else { return }
        self.lineIsOpen.withLock { open in
            // Unbuffered: each write is one write(2). A closed pipe ends the process with
            // SIGPIPE, as for any filter.
            try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
            open = !text.hasSuffix("\n")
        }
    }

    /// Ends an unfinished line.
    static func finishLine() {
        self.lineIsOpen.withLock { open in
            guard open else { return }
            try? FileHandle.standardOutput.write(contentsOf: Data("\n".utf8))
            open = false
        }
    }
}

extension Double {
    /// `10` for whole numbers, `2.5` otherwise.
    fileprivate func formatted() -> String {
        self == self.rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
