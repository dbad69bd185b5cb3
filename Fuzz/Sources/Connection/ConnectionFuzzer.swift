import CLibFuzzer
import Glibc
import Logging
import NIOCore
import NIOEmbedded
import OvaProto
import OvaRPC
import OvaWire

// Property: a server connection fed the client preface and then any bytes, in any split
// into reads, never traps or crashes, and holds no more than a bounded amount of outbound
// data; after its timers run out it is closed and every stream is gone (checked by ASan's
// leak detection at the end of each input: the channel and its handler must be freed).
//
// The connection runs the real server pipeline (what RPCServer adds after TLS) over an
// EmbeddedChannel. Its router has only unary methods whose handlers never suspend, so every
// call completes on the embedded event loop while the input is processed:
//   ova.v1.Echo/Unary       echoes at most 64 bytes of the request's text
//   ova.v1.Echo/Fail        always fails with INVALID_ARGUMENT and a details message
//
// Input: byte 0 picks the read size (0 = everything at once, else n*7 bytes); the rest is
// what the client sends after its preface.

private let router: RPCRouter = {
    var router = RPCRouter()
    router.registerUnary(
        MethodDescriptor(service: "ova.v1.Echo", name: "Unary", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    ) { (request: EchoRequest, _) in
        EchoResponse(text: String(request.text.prefix(64)))
    }
    router.registerUnary(
        MethodDescriptor(service: "ova.v1.Echo", name: "Fail", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
    ) { (_: EchoRequest, _) -> EchoResponse in
        throw RPCError(code: .invalidArgument, message: "fuzz", details: Array("fuzz details".utf8))
    }
    return router
}()

private let logger: Logger = {
    var logger = Logger(label: "ova.fuzz")
    logger.logLevel = .critical
    return logger
}()

/// More outbound bytes than this for one input means the connection answers without bound.
private let outboundLimit = 64 << 20

@main
enum ConnectionFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzConnection))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let readSize = Int(input[0]) * 7
    let body = input.dropFirst()

    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(loop: loop)
    do {
        try RPCServer.addServerConnectionHandlerForTesting(to: channel, router: router, logger: logger)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    } catch {
        fatalError("could not set up the embedded connection: \(error)")
    }

    var outbound = 0
    func drain() {
        loop.run()
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            outbound += buffer.readableBytes
            if outbound > outboundLimit {
                fatalError("more than \(outboundLimit) outbound bytes for a \(size)-byte input")
            }
        }
    }

    var stream = channel.allocator.buffer(capacity: body.count + ConnectionPreface.bytes.count)
    stream.writeBytes(ConnectionPreface.bytes)
    stream.writeBytes(body)
    while stream.readableBytes > 0, channel.isActive {
        let take = readSize == 0 ? stream.readableBytes : min(readSize, stream.readableBytes)
        guard let piece = stream.readSlice(length: take) else { break }
        do {
            try channel.writeInbound(piece)
        } catch {
            // The handler reports connection errors by closing; an error here is the pipeline's.
            break
        }
        drain()
    }

    // Let every timer fire (handshake, idle, deadlines): the connection must close itself.
    loop.advanceTime(by: .hours(1))
    drain()
    if channel.isActive {
        _ = try? channel.close().wait()
        drain()
    }
    _ = try? channel.finish()
    return 0
}
