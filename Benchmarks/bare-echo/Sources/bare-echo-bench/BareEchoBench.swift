import ArgumentParser
import BenchKit
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// `bare-echo-bench`: drives bare-echo-server with ova-bench's flags (where they apply) and
/// prints the same report and JSON, with "tool":"bare-echo-bench".
@main
struct BareEchoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-echo-bench",
        abstract: "Load-test bare-echo-server (the ceiling for ova-bench's unary and bidi numbers).",
        discussion: """
            Closed loop: --concurrency worker tasks, spread round-robin over --connections TLS \
            connections, each sending one --payload B frame and awaiting its echo (matched by \
            call id) before sending the next. Latency is per round trip, in µs, after --warmup. \
            Every run is bounded by --duration and/or --requests; traffic goes only where --addr \
            points.

            Modes (the same bytes on this wire):
              unary  each round trip counts as a call and a message
              bidi   each worker is one ping-pong stream; round trips count as messages
            """,
        version: "0.1.0"
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable {
        case unary
        case bidi
    }

    @Option(help: ArgumentHelp("Server address.", valueName: "host:port"))
    var addr = "127.0.0.1:7445"

    @Flag(help: "Skip certificate verification (required: the server's certificate is generated at each start).")
    var insecure = false

    @Option(help: "Call kind to drive: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: Mode = .unary

    @OptionGroup(title: "Load")
    var load: LoadOptions

    @Flag(
        inversion: .prefixedNo,
        help: """
            Run Swift concurrency on NIO's event loops (NIOSingletons global executor) and start each \
            worker with its connection's event loop as task executor preference; \
            --no-tasks-on-event-loops keeps Swift's default executor.
            """
    )
    var tasksOnEventLoops = true

    @Flag(
        inversion: .prefixedNo,
        help: "Coalesce the flush after each call into one per event-loop turn (workers resumed together send in one TLS write)."
    )
    var flushCoalescing = true

    func validate() throws {
        guard self.insecure else { throw ValidationError("--insecure is required (bare-echo-server's certificate is self-signed and generated at start)") }
        _ = try parseLoadTarget(self.addr)
    }

    func run() async throws {
        if self.tasksOnEventLoops, !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
            throw ValidationError("could not install NIO as the global executor")
        }
        let (host, port) = try parseLoadTarget(self.addr)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.certificateVerification = .none
        let sslContext = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup.singleton

        let plan = LoadPlan(
            mode: self.mode,
            concurrency: self.load.concurrency,
            duration: self.load.duration,
            warmup: self.load.warmup,
            requestLimit: self.load.requests,
            payload: self.load.payload,
            tasksOnEventLoops: self.tasksOnEventLoops
        )
        // Connect (TCP + TLS handshake) before the clock starts.
        var connections: [Connection] = []
        var startError: String?
        for _ in 0..<self.load.connections {
            do {
                connections.append(try await Connection.connect(group: group, host: host, port: port, sslContext: sslContext, flushCoalescing: self.flushCoalescing))
            } catch {
                startError = "\(error)"
            }
        }
        var result: LoadResult
        if connections.isEmpty {
            result = LoadResult()
            result.failedToStart = true
        } else {
            let showProgress = !self.load.json && isatty(STDERR_FILENO) != 0
            result = await LoadRunner(plan: plan, connections: connections).run(progress: showProgress)
        }
        result.startError = startError
        for connection in connections { await connection.close() }
        try self.load.printReport(tool: "bare-echo-bench", mode: plan.mode.rawValue, result: result)
    }
}
