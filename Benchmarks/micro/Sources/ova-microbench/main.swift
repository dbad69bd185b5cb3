import CMallocCounter
import Foundation
import Logging
import NIOCore
import NIOPosix
import OvaProto
import OvaRPC
import OvaServer
import OvaWire

/// One measured loop: wall time and allocations per iteration.
struct Measurement {
    let name: String
    let iterations: Int
    let nanosPerOp: Double
    let allocationsPerOp: Double

    var line: String {
        String(format: "| %@ | %d | %.1f | %.2f |", self.name, self.iterations, self.nanosPerOp, self.allocationsPerOp)
    }
}

@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

func measure(_ name: String, iterations: Int, _ body: () throws -> Void) rethrows -> Measurement {
    for _ in 0..<min(1_000, iterations) { try body() }  // warm-up
    let allocationsBefore = ova_allocation_count()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { try body() }
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    let allocations = ova_allocation_count() - allocationsBefore
    return Measurement(name: name, iterations: iterations, nanosPerOp: Double(elapsed) / Double(iterations), allocationsPerOp: Double(allocations) / Double(iterations))
}

func measureAsync(_ name: String, iterations: Int, _ body: () async throws -> Void) async rethrows -> Measurement {
    for _ in 0..<min(1_000, iterations) { try await body() }
    let allocationsBefore = ova_allocation_count()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { try await body() }
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    let allocations = ova_allocation_count() - allocationsBefore
    return Measurement(name: name, iterations: iterations, nanosPerOp: Double(elapsed) / Double(iterations), allocationsPerOp: Double(allocations) / Double(iterations))
}

let scale = Int(ProcessInfo.processInfo.environment["SCALE"] ?? "1") ?? 1
var results: [Measurement] = []

// MARK: - Frames

let payload = ByteBuffer(bytes: [UInt8](repeating: 0x61, count: 64))
var output = ByteBufferAllocator().buffer(capacity: 1 << 20)
results.append(measure("encode MESSAGE frame (64 B payload)", iterations: 1_000_000 * scale) {
    output.clear()
    FrameEncoder.encode(.message(streamID: 1, payload: payload, flags: .endStream), into: &output)
})

var headersMetadata = Metadata()
headersMetadata.addString("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", forKey: "authorization")
results.append(measure("encode HEADERS frame (1 metadata entry)", iterations: 500_000 * scale) {
    output.clear()
    FrameEncoder.encode(.requestHeaders(streamID: 1, RequestHeaders(path: "ova.v1.Echo/Unary", timeoutMicroseconds: 5_000_000, metadata: headersMetadata), endStream: false), into: &output)
})

var stream = ByteBufferAllocator().buffer(capacity: 1 << 20)
for _ in 0..<1_000 {
    FrameEncoder.encode(.message(streamID: 1, payload: payload, flags: []), into: &stream)
}
results.append(try measure("decode MESSAGE frame (64 B payload)", iterations: 1_000 * scale) {
    var decoder = FrameDecoder(role: .client)
    var input = stream
    while let frame = try decoder.decode(buffer: &input) { blackHole(frame) }
})
// That loop decodes 1,000 frames per iteration: normalize.
if let last = results.popLast() {
    results.append(Measurement(name: last.name, iterations: last.iterations * 1_000, nanosPerOp: last.nanosPerOp / 1_000, allocationsPerOp: last.allocationsPerOp / 1_000))
}

// MARK: - protobuf-c through the generated types

var request = EchoRequest()
request.text = "hello"
request.payload = [UInt8](repeating: 0x61, count: 64)
results.append(measure("EchoRequest serialize (64 B payload)", iterations: 1_000_000 * scale) {
    output.clear()
    request.serialize(into: &output)
})
output.clear()
request.serialize(into: &output)
let encoded = output
results.append(try measure("EchoRequest deserialize (64 B payload)", iterations: 1_000_000 * scale) {
    blackHole(try EchoRequest(serializedBytes: encoded))
})
// The string check alone (NUL bytes, UTF-8), part of every deserialize above.
results.append(measure("EchoRequest string check (part of deserialize)", iterations: 1_000_000 * scale) {
    encoded.withUnsafeReadableBytes { raw in
        blackHole(ProtobufStringCheck.firstViolation(in: raw, of: EchoRequest.protobufCDescriptor))
    }
})

// MARK: - A whole unary call over TLS on 127.0.0.1 (client + server in this process)

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ova-micro-\(getpid())")
let configuration = try ServerConfiguration.load(environment: ["OVA_LISTEN": "127.0.0.1:0", "OVA_DATA_DIR": directory.path, "OVA_LOG_LEVEL": "warning"])
let running = try await OvaServerApp.start(configuration: configuration, logger: Logger(label: "micro"))
let channel = try RPCChannel(configuration: .init(host: "127.0.0.1", port: running.address.port ?? 0, tls: ClientTLSConfiguration(trust: .insecureNoVerification)))
let client = EchoClient(channel: channel)
var small = EchoRequest()
small.payload = [UInt8](repeating: 0x61, count: 64)
results.append(try await measureAsync("unary call, client + server (64 B, sequential)", iterations: 20_000 * scale) {
    blackHole(try await client.unary(small))
})
await channel.close()
await running.server.shutdownGracefully()
try? FileManager.default.removeItem(at: directory)

print("| benchmark | iterations | ns/op | allocations/op |")
print("|---|---:|---:|---:|")
for result in results { print(result.line) }
