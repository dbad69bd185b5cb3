import ArgumentParser

/// The options every load tool of this repository takes with the same names, defaults and
/// bounds, so `Benchmarks/compare.sh` drives ova-bench, grpc-bench and bare-echo-bench alike.
/// A tool adds its own (`--addr`, `--mode`, TLS, executor) around `@OptionGroup var load`.
public struct LoadOptions: ParsableArguments {
    @Option(help: "Number of TLS connections; calls are spread over them round-robin.")
    public var connections = 1

    @Option(help: "Calls (or streams) in flight in total.")
    public var concurrency = 1

    @Option(help: "Seconds to measure (after the warm-up).")
    public var duration: Double = 10

    @Option(help: "Stop after this many calls (unary) or messages (streams); 0 = no limit.")
    public var requests = 0

    @Option(help: "Payload bytes per message.")
    public var payload = 64

    @Option(help: "Seconds of load before measuring starts.")
    public var warmup: Double = 1

    @Flag(help: "Print one JSON object instead of a report.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard self.connections >= 1, self.connections <= 100_000 else { throw ValidationError("--connections must be 1-100000") }
        guard self.concurrency >= 1, self.concurrency <= 100_000 else { throw ValidationError("--concurrency must be 1-100000") }
        guard self.duration > 0, self.duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] seconds") }
        guard self.warmup >= 0, self.warmup <= 600 else { throw ValidationError("--warmup must be 0-600 seconds") }
        guard self.payload >= 0, self.payload <= 4 << 20 else { throw ValidationError("--payload must be 0-4194304 bytes") }
        guard self.requests >= 0 else { throw ValidationError("--requests must be >= 0") }
    }

    /// Prints a run's report: the text, or with `--json` the one JSON line `compare.sh` reads.
    ///
    /// - Throws: `ExitCode(14)` (UNAVAILABLE's code, for every tool alike) when the run could
    ///   not connect at all.
    public func printReport(tool: String, mode: String, isIdle: Bool = false, rate: Double = 0, result: LoadResult) throws {
        let report = LoadReport(
            tool: tool,
            mode: mode,
            isIdle: isIdle,
            connections: self.connections,
            concurrency: self.concurrency,
            payload: self.payload,
            rate: rate,
            result: result
        )
        print(self.json ? report.json() : report.text())
        if result.failedToStart {
            throw ExitCode(14)
        }
    }
}

/// Splits a `--addr` value: `host:port`, `[ipv6]:port`, or `:port` (127.0.0.1). The benchmark
/// packages' tools use it; ova-bench has the same rules from `RPCChannel.Configuration`.
public func parseLoadTarget(_ addr: String) throws -> (host: String, port: Int) {
    guard let colon = addr.lastIndex(of: ":"), let port = Int(addr[addr.index(after: colon)...]),
          (1...65535).contains(port)
    else {
        throw ValidationError("--addr \(addr): expected host:port")
    }
    var host = String(addr[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "127.0.0.1" : host, port)
}
