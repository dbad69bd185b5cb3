import ArgumentParser
import BenchKit
import EchoProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix

/// `grpc-bench`: the gRPC twin of OVA's `ova-bench`: same flags, same workloads, same JSON,
/// driving grpc-echo-server (grpc-swift-2, HTTP/2 + TLS) instead of an OVA server.
@main
struct GRPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-bench",
        abstract: "Load-test a gRPC server implementing ova.v1.Echo (the baseline for ova-bench).",
        discussion: """
            Closed loop by default: --concurrency calls (or streams) in flight, each issuing the \
            next as soon as the previous completes. With --rate, unary calls start on a fixed \
            schedule and latency is measured from each call's intended start, so a stalled server \
            shows up in the percentiles instead of silently lowering the offered load \
            (coordinated omission). Every run is bounded by --duration and/or --requests; \
            traffic goes only where --addr points.

            Modes:
              unary          one 64 B (--payload) request, one response; latency per call
              server-stream  each stream asks for an endless stream of --payload B messages
              client-stream  each stream sends --payload B chunks as fast as flow control allows
              bidi           ping-pong: write one, read one; latency per round trip
              idle           open --connections connections, hold them for --duration
            """,
        version: "0.1.0"
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable {
        case unary
        case serverStream = "server-stream"
        case clientStream = "client-stream"
        case bidi
        case idle
    }

    @Option(help: ArgumentHelp("Server address.", valueName: "host:port"))
    var addr = "127.0.0.1:7444"

    @Option(help: ArgumentHelp("PEM file of certificates to trust (hostname not checked).", valueName: "file"))
    var ca: String?

    @Flag(help: "Skip certificate verification (self-signed certificate).")
    var insecure = false

    @Option(help: "Call kind to drive: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: Mode = .unary

    @OptionGroup(title: "Load")
    var load: LoadOptions

    @Option(help: "Open loop: unary calls started per second in total (0 = closed loop).")
    var rate: Double = 0

    enum Executor: String, ExpressibleByArgument, CaseIterable, Sendable {
        case auto, nio, `default`
    }

    @Option(help: """
        Where the workers' tasks run: nio (on NIO's event loops, NIOSingletons global executor), \
        default (Swift's global executor), or auto: nio for client-stream and server-stream, \
        default otherwise. With the default executor grpc-swift's writers hand messages to the \
        event loop without waiting for it, so client-stream would count bytes that are only \
        queued in memory; for unary and bidi it is the faster choice.
        """)
    var executor: Executor = .auto

    func validate() throws {
        guard self.rate >= 0 else { throw ValidationError("--rate must be >= 0") }
        if self.rate > 0 && self.mode != .unary { throw ValidationError("--rate applies to --mode unary") }
        if self.insecure && self.ca != nil { throw ValidationError("--insecure and --ca are mutually exclusive") }
        _ = try parseLoadTarget(self.addr)
    }

    func run() async throws {
        // On NIO's event loops the workers' writes happen on the channel's loop and see its
        // writability, so flow control pushes back on the streaming modes.
        let useNIO = self.executor == .nio || (self.executor == .auto && (self.mode == .clientStream || self.mode == .serverStream))
        if useNIO, !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
            throw ValidationError("could not install NIO as the global executor")
        }
        let (host, port) = try parseLoadTarget(self.addr)
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if self.insecure {
            security = .tls { $0.serverCertificateVerification = .noVerification }
        } else if let ca = self.ca {
            security = .tls {
                $0.trustRoots = .certificates([.file(path: ca, format: .pem)])
                $0.serverCertificateVerification = .noHostnameVerification
            }
        } else {
            security = .tls
        }
        let isIPv4 = host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        let target: any ResolvableTarget = isIPv4
            ? ResolvableTargets.IPv4.ipv4(address: host, port: port)
            : ResolvableTargets.DNS.dns(host: host, port: port)

        // One GRPCClient (and so one HTTP/2 connection) per --connections.
        let clients = try (0..<self.load.connections).map { _ in
            GRPCClient(transport: try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: .defaults))
        }
        let plan = LoadPlan(
            mode: self.mode,
            concurrency: self.load.concurrency,
            duration: self.load.duration,
            warmup: self.mode == .idle ? 0 : self.load.warmup,
            requestLimit: self.load.requests,
            payload: self.load.payload,
            rate: self.rate
        )
        let showProgress = !self.load.json && isatty(STDERR_FILENO) != 0
        let result = await withTaskGroup(of: Void.self, returning: LoadResult.self) { group in
            for client in clients {
                group.addTask { try? await client.runConnections() }
            }
            let runner = LoadRunner(plan: plan, clients: clients.map { Ova_V1_Echo.Client(wrapping: $0) })
            let result = await runner.run(progress: showProgress)
            for client in clients { client.beginGracefulShutdown() }
            return result
        }
        try self.load.printReport(tool: "grpc-bench", mode: plan.mode.rawValue, isIdle: plan.mode == .idle, rate: plan.rate, result: result)
    }
}
