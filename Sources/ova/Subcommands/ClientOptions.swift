import ArgumentParser
import Foundation
import NIOSSL
import OvaRPC

/// Connection and call flags shared by every subcommand.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Server address host:port, or several separated by commas (instances of one service; new connections go to them in turn, skipping dead ones) (env OVA_ADDR).",
        valueName: "host:port[,host:port...]"
    ))
    var addr: String = ProcessInfo.processInfo.environment["OVA_ADDR"] ?? "127.0.0.1:7443"

    @Option(name: .long, help: ArgumentHelp("PEM file of certificates to trust, e.g. the server's data/dev-cert.pem (env OVA_CA).", valueName: "file"))
    var ca: String?

    @Flag(name: .long, help: "Do not verify the server's certificate (development only).")
    var insecure = false

    @Option(name: .customLong("server-name"), help: ArgumentHelp("The name the server's certificate must be issued for (default: the host of --addr).", valueName: "name"))
    var serverName: String?

    @Option(name: .long, help: ArgumentHelp("Call deadline in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(name: [.customShort("H"), .long], help: ArgumentHelp("Request metadata, repeatable.", valueName: "key=value"))
    var header: [String] = []

    @Option(name: .long, help: ArgumentHelp("Client certificate chain for mutual TLS.", valueName: "file"))
    var cert: String?

    @Option(name: .long, help: ArgumentHelp("Client private key for mutual TLS.", valueName: "file"))
    var key: String?

    func validate() throws {
        _ = try self.endpoints()
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

    func endpoints() throws -> [RPCChannel.Configuration.Endpoint] {
        guard let endpoints = RPCChannel.Configuration.parseAddresses(self.addr) else {
            throw ValidationError("--addr \(self.addr): expected host:port, or host:port,host:port,...")
        }
        return endpoints
    }

    func makeChannel() throws -> RPCChannel {
        let endpoints = try self.endpoints()
        let trust: ClientTLSConfiguration.Trust
        if self.insecure {
            trust = .insecureNoVerification
        } else if let ca = self.trustedCertificateFile {
            try checkInputFile(ca, expected: "a PEM file of certificates to trust, e.g. data/dev-cert.pem (--ca or OVA_CA)")
            trust = .certificateFile(ca)
        } else {
            trust = .systemDefault
        }
        for file in [self.cert, self.key].compactMap({ $0 }) {
            try checkInputFile(file, expected: "a PEM file for mutual TLS (--cert, --key)")
        }
        let tls = ClientTLSConfiguration(trust: trust, serverHostname: self.serverName, certificateChainPath: self.cert, privateKeyPath: self.key)
        do {
            return try RPCChannel(configuration: .init(endpoints: endpoints, tls: tls))
        } catch is NIOSSLError, is BoringSSLError {
            // The files exist but are not what TLS needs (no PEM certificate, a key that does not
            // parse); BoringSSL's error stack would not say which file.
            let files = [self.insecure ? nil : self.trustedCertificateFile, self.cert, self.key].compactMap { $0 }
            throw ValidationError("\(files.joined(separator: ", ")): no usable PEM certificate or key; pass PEM files (e.g. --ca data/dev-cert.pem)")
        }
    }

    /// The deadline and metadata of a call: `--header` entries, a `user-agent`, and the token
    /// `ova login` saved for this server (unless `authenticated` is false or a header sets
    /// `authorization` itself).
    func callOptions(authenticated: Bool = true) -> CallOptions {
        var metadata = self.headerMetadata()
        metadata.addString("ova-cli/\(Ova.configuration.version)", forKey: "user-agent")
        if authenticated, case .saved(let saved) = self.credential {
            metadata.addString("Bearer \(saved.accessToken)", forKey: "authorization")
        }
        return CallOptions(timeout: .milliseconds(Int64(self.timeout * 1000)), metadata: metadata)
    }

    private func headerMetadata() -> Metadata {
        var metadata = Metadata()
        for entry in self.header {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            metadata.addString(String(entry[entry.index(after: equals)...]), forKey: String(entry[..<equals]).lowercased())
        }
        return metadata
    }

    /// Which credential an authenticated call carries: what an UNAUTHENTICATED answer is blamed on.
    enum Credential {
        /// `-H authorization=...` on the command line.
        case header
        /// The token `ova login` saved for this server.
        case saved(SavedToken)
        /// A token was saved for this server but has expired, so none is sent.
        case expired(SavedToken)
        case none
    }

    var credential: Credential {
        if self.headerMetadata().firstString(forKey: "authorization") != nil { return .header }
        if let saved = SavedToken.load(for: self.addr) { return .saved(saved) }
        if let stale = SavedToken.load(for: self.addr, includingExpired: true) { return .expired(stale) }
        return .none
    }
}
