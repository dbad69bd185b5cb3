import ArgumentParser
import BenchKit
import Foundation
import NIOCore
import NIOPosix
import OvaRPC

/// `ova-bench`: load generator for OVA servers over the binary protocol.
@main
struct OvaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ova-bench",
        abstract: "Load-test an OVA server: the Echo service's four call kinds, and the contact inbox's write and read paths.",
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
              audio          like bidi, with 100 ms chunks of 16 kHz 16-bit mono PCM (3200 B) at
                             real-time pace (--realtime) or full speed, from --wav or generated
              idle           open --connections connections, hold them for --duration
              send-message   Messages/SendMessage (public): one realistic contact message per call, a
                             row and an audit record written; the server must be started with
                             OVA_PUBLIC_RATE_PER_MINUTE above the rate reached (default 10 a minute)
              list-messages  Messages/ListMessages (authenticated): the first page of 50 of an inbox
                             holding at least 50 messages (fill it with send-message first); the
                             token is --token or the one `ova login` saved for --addr

            --payload does not apply to send-message and list-messages.
            """,
        version: "0.1.0"
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable {
        case unary
        case serverStream = "server-stream"
        case clientStream = "client-stream"
        case bidi
        case audio
        case idle
        case sendMessage = "send-message"
        case listMessages = "list-messages"

        /// One request, one response per call: `--requests` and `--rate` count calls.
        var isUnary: Bool {
            switch self {
            case .unary, .sendMessage, .listMessages: true
            case .serverStream, .clientStream, .bidi, .audio, .idle: false
            }
        }
    }

    @Option(help: ArgumentHelp("Server address.", valueName: "host:port"))
    var addr = "127.0.0.1:7443"

    @Option(help: ArgumentHelp("PEM file of certificates to trust (the server's data/dev-cert.pem).", valueName: "file"))
    var ca: String?

    @Flag(help: "Skip certificate verification (development certificate).")
    var insecure = false

    @Option(help: "Call kind to drive: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: Mode = .unary

    @OptionGroup(title: "Load")
    var load: LoadOptions

    @Option(help: "Open loop: unary calls started per second in total (0 = closed loop).")
    var rate: Double = 0

    @Option(help: ArgumentHelp("Audio mode: a 16-bit mono PCM WAV file to stream (default: a generated tone).", valueName: "file"))
    var wav: String?

    @Flag(help: "Audio mode: send chunks at real-time pace (100 ms apart) instead of full speed.")
    var realtime = false

    @Option(help: ArgumentHelp("list-messages: the access token to send (default: the one `ova login` saved for --addr).", valueName: "token"))
    var token: String?

    @Flag(help: "Run the load tasks on Swift's default executor instead of the event loops (the server's OVA_TASKS_ON_EVENT_LOOPS=false).")
    var defaultExecutor = false

    func validate() throws {
        guard self.rate >= 0 else { throw ValidationError("--rate must be >= 0") }
        if self.rate > 0 && !self.mode.isUnary { throw ValidationError("--rate applies to the unary modes (unary, send-message, list-messages)") }
        if self.insecure && self.ca != nil { throw ValidationError("--insecure and --ca are mutually exclusive") }
        _ = try self.hostAndPort()
    }

    func hostAndPort() throws -> (String, Int) {
        guard let address = RPCChannel.Configuration.parseAddress(self.addr) else {
            throw ValidationError("--addr \(self.addr): expected host:port")
        }
        return address
    }

    func run() async throws {
        if !self.defaultExecutor {
            // The same setting as the server's: no thread hop between a call's I/O and its task.
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        let (host, port) = try self.hostAndPort()
        let trust: ClientTLSConfiguration.Trust = self.insecure ? .insecureNoVerification : self.ca.map { .certificateFile($0) } ?? .systemDefault
        let channels = try (0..<self.load.connections).map { _ in
            try RPCChannel(configuration: .init(host: host, port: port, tls: ClientTLSConfiguration(trust: trust)))
        }
        let audio = self.mode == .audio ? try AudioSource.load(wavPath: self.wav) : nil
        var accessToken: String?
        if self.mode == .listMessages {
            accessToken = try self.token ?? SavedLogin.token(for: self.addr)
        }
        let plan = LoadPlan(
            mode: self.mode,
            concurrency: self.load.concurrency,
            duration: self.load.duration,
            warmup: self.mode == .idle ? 0 : self.load.warmup,
            requestLimit: self.load.requests,
            payload: self.load.payload,
            rate: self.rate,
            audio: audio,
            realtime: self.realtime,
            token: accessToken,
            addr: self.addr
        )
        let runner = LoadRunner(plan: plan, channels: channels)
        let showProgress = !self.load.json && isatty(STDERR_FILENO) != 0
        let result = try await runner.run(progress: showProgress)
        for channel in channels { await channel.close() }
        try self.load.printReport(tool: "ova-bench", mode: plan.mode.rawValue, isIdle: plan.mode == .idle, rate: plan.rate, result: result)
        if plan.mode == .sendMessage, let refused = result.errors["RESOURCE_EXHAUSTED"] {
            FileHandle.standardError.write(Data(
                "ova-bench: \(refused) call(s) refused by the server's rate limit; start it with OVA_PUBLIC_RATE_PER_MINUTE raised (see Benchmarks/README.md)\n".utf8
            ))
        }
    }
}
