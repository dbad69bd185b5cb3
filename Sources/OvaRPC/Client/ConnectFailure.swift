import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a connection to an OVA server could not be set up, told apart from the socket and TLS
/// errors underneath (a BoringSSL error stack says nothing to a person who forgot a flag).
///
/// ``RPCChannel`` fails a call that could not connect with UNAVAILABLE, this value's
/// `description` as the message and the value itself as the `RPCError.cause`, so that a tool
/// can name its own fix (the `ova` CLI names its flags).
public enum ConnectFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing accepts connections at the address (ECONNREFUSED).
    case refused(address: String)
    /// The TCP connection was not established within the connect timeout.
    case timedOut(address: String, seconds: Double)
    /// The certificate chain does not end at a certificate the client trusts
    /// (BoringSSL's CERTIFICATE_VERIFY_FAILED: unknown issuer, self-signed, expired).
    case untrustedCertificate(address: String)
    /// The certificate is trusted but not issued for `name` (the host, or the name the client
    /// was told to check).
    case nameMismatch(address: String, name: String)
    /// The peer answered, but not as an OVA/1 server over TLS; `evidence` says what showed it.
    case notAnOVAServer(address: String, evidence: String)
    /// Anything else (no route, a name that does not resolve), with the underlying error's text.
    case other(address: String, detail: String)

    public var address: String {
        switch self {
        case .refused(let address), .timedOut(let address, _), .untrustedCertificate(let address),
             .nameMismatch(let address, _), .notAnOVAServer(let address, _), .other(let address, _):
            return address
        }
    }

    public var description: String {
        switch self {
        case .refused(let address):
            return "nothing is listening on \(address) (connection refused)"
        case .timedOut(let address, let seconds):
            return "\(address) did not answer within \(Self.format(seconds)) s"
        case .untrustedCertificate(let address):
            return "the certificate of \(address) is not trusted (CERTIFICATE_VERIFY_FAILED)"
        case .nameMismatch(let address, let name):
            return "the certificate of \(address) is not issued for \(name)"
        case .notAnOVAServer(let address, let evidence):
            return "\(address) is not an OVA server (\(evidence))"
        case .other(let address, let detail):
            return "could not connect to \(address): \(detail)"
        }
    }

    /// Classifies the error a connection attempt failed with.
    ///
    /// - Parameters:
    ///   - host, port: where the client connected (named in every message).
    ///   - checkedName: the name the certificate was checked against; nil means the host.
    ///   - connectTimeout: the timeout a `connectTimeout` error refers to.
    public static func classify(
        _ error: any Error, host: String, port: Int, checkedName: String? = nil, connectTimeout: TimeAmount
    ) -> ConnectFailure {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let error = error as? RPCError, let cause = error.cause {
            return Self.classify(cause, host: host, port: port, checkedName: checkedName, connectTimeout: connectTimeout)
        }
        switch error {
        case let failure as ConnectFailure:
            return failure
        case ChannelError.connectTimeout(let amount):
            return .timedOut(address: address, seconds: Double(amount.nanoseconds) / 1e9)
        case let error as NIOConnectionError:
            // One error per address tried (IPv4 and IPv6 for a name); any refusal means the
            // host is there and nothing listens.
            let causes = error.connectionErrors.map(\.error)
            if causes.contains(where: { ($0 as? IOError)?.errnoCode == ECONNREFUSED }) {
                return .refused(address: address)
            }
            if causes.contains(where: { ($0 as? IOError)?.errnoCode == ETIMEDOUT }) {
                return .timedOut(address: address, seconds: Double(connectTimeout.nanoseconds) / 1e9)
            }
            if let dns = error.dnsAError ?? error.dnsAAAAError, causes.isEmpty {
                return .other(address: address, detail: "\(host) does not resolve (\(dns))")
            }
            return .other(address: address, detail: causes.first.map { "\($0)" } ?? "\(error)")
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return .refused(address: address)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return .nameMismatch(address: address, name: checkedName ?? host)
        case NIOSSLError.handshakeFailed(let boringSSL):
            let text = "\(boringSSL)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return .untrustedCertificate(address: address)
            }
            for reason in ["WRONG_VERSION_NUMBER", "NO_APPLICATION_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "RECORD_TOO_LARGE"]
            where text.contains(reason) {
                return .notAnOVAServer(address: address, evidence: "TLS said \(reason)")
            }
            if case .sslError(let stack) = boringSSL, stack.contains(.eofDuringHandshake) {
                return .notAnOVAServer(address: address, evidence: "it closed the connection during the TLS handshake")
            }
            return .other(address: address, detail: "TLS handshake failed: \(text)")
        case NIOSSLError.uncleanShutdown:
            return .notAnOVAServer(address: address, evidence: "it closed the connection before the OVA SETTINGS")
        case let error as ClosedBeforeSettings:
            return .notAnOVAServer(address: address, evidence: error.evidence)
        default:
            return .other(address: address, detail: "\(error)")
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// The connection ended before the server's SETTINGS: what a TLS peer that is not an OVA/1
/// server does (docs/PROTOCOL.md §2), or said something else first.
struct ClosedBeforeSettings: Error, Sendable {
    let evidence: String
}
