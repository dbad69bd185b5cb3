import ArgumentParser
import Foundation
import OvaRPC

/// Connection and call flags shared by every subcommand.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Server address host:port (env OVA_ADDR).", valueName: "host:port"))
    var addr: String = ProcessInfo.processInfo.environment["OVA_ADDR"] ?? "127.0.0.1:7443"

    @Option(name: .long, help: ArgumentHelp("PEM file of certificates to trust, e.g. the server's data/dev-cert.pem (env OVA_CA).", valueName: "file"))
    var ca: String?

    @Flag(name: .long, help: "Do not verify the server's certificate (development only).")
    var insecure = false

    @Option(name: .long, help: ArgumentHelp("Call deadline in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(name: [.customShort("H"), .long], help: ArgumentHelp("Request metadata, repeatable.", valueName: "key=value"))
    var header: [String] = []

    @Option(name: .long, help: ArgumentHelp("Client certificate chain for mutual TLS.", valueName: "file"))
    var cert: String?

    @Option(name: .long, help: ArgumentHelp("Client private key for mutual TLS.", valueName: "file"))
    var key: String?

    func validate() throws {
        _ = try self.hostAndPort()
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
        for entry in self.header where !entry.contains("=") {
            throw ValidationError("--header \(entry): expected key=value")
        }
        if self.insecure && self.ca != nil {
            throw ValidationError("--insecure and --ca are mutually exclusive")
        }
        if (self.cert == nil) != (self.key == nil) {
            throw ValidationError("--cert and --key go together")
        }
    }

    /// --ca, or OVA_CA from the environment.
    var trustedCertificateFile: String? {
        self.ca ?? ProcessInfo.processInfo.environment["OVA_CA"]
    }

    func hostAndPort() throws -> (String, Int) {
        guard let address = RPCChannel.Configuration.parseAddress(self.addr) else {
            throw ValidationError("--addr \(self.addr): expected host:port")
        }
        return address
    }

    func makeChannel() throws -> RPCChannel {
        let (host, port) = try self.hostAndPort()
        let trust: ClientTLSConfiguration.Trust
        if self.insecure {
            trust = .insecureNoVerification
        } else if let ca = self.trustedCertificateFile {
            trust = .certificateFile(ca)
        } else {
            trust = .systemDefault
        }
        let tls = ClientTLSConfiguration(trust: trust, certificateChainPath: self.cert, privateKeyPath: self.key)
        return try RPCChannel(configuration: .init(host: host, port: port, tls: tls))
    }

    /// The deadline and metadata of a call: `--header` entries, a `user-agent`, and the token
    /// `ova login` saved for this server (unless `authenticated` is false or a header sets
    /// `authorization` itself).
    func callOptions(authenticated: Bool = true) -> CallOptions {
        var metadata = Metadata()
        for entry in self.header {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            metadata.addString(String(entry[entry.index(after: equals)...]), forKey: String(entry[..<equals]).lowercased())
        }
        metadata.addString("ova-cli/\(Ova.configuration.version)", forKey: "user-agent")
        if authenticated, metadata.firstString(forKey: "authorization") == nil, let saved = SavedToken.load(for: self.addr) {
            metadata.addString("Bearer \(saved.accessToken)", forKey: "authorization")
        }
        return CallOptions(timeout: .milliseconds(Int64(self.timeout * 1000)), metadata: metadata)
    }
}

/// Runs a client action, printing RPC errors as `ova: CODE: message` and exiting with the code.
func runReportingStatus(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RPCError {
        FileHandle.standardError.write(Data("ova: \(error.code.name): \(error.message)\n".utf8))
        throw ExitCode(Int32(error.code.rawValue))
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("ova: \(error)\n".utf8))
        throw ExitCode(Int32(StatusCode.unknown.rawValue))
    }
}
