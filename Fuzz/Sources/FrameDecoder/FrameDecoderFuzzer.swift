import CLibFuzzer
import Glibc
import NIOCore
import OvaWire

// Property: for any bytes, FrameDecoder (either role) returns frames, asks for more bytes, or
// throws a WireError; it never traps, and it never consumes part of a frame. Every decoded
// frame re-encodes without trapping, and the re-encoding decodes to the same frame.
//
// Input: byte 0 picks the role (bit 0 clear: server, set: client), how the rest is split into
// reads (bits 1–4: chunk size, 0 = everything at once), to exercise partial frames, and for the
// server whether the harness prepends the client preface (bit 5 clear) or the input must
// carry its own (bit 5 set).

private let allocator = ByteBufferAllocator()

@main
enum FrameDecoderFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzFrameDecoder))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let control = input[0]
    let role: ConnectionRole = control & 1 == 0 ? .server : .client
    let chunk = Int((control >> 1) & 0x0F)
    let body = input.dropFirst()

    var stream = allocator.buffer(capacity: size + ConnectionPreface.bytes.count)
    if role == .server, control & 0x20 == 0 {
        stream.writeBytes(ConnectionPreface.bytes)
    }
    stream.writeBytes(body)

    // Small limits so that the limit checks are reachable with short inputs.
    var decoder = FrameDecoder(role: role, maxFrameSize: 4096, maxMetadataSize: 1024)
    var buffer = allocator.buffer(capacity: stream.readableBytes)
    var frames: [Frame] = []
    do {
        while stream.readableBytes > 0 {
            let take = chunk == 0 ? stream.readableBytes : min(chunk, stream.readableBytes)
            guard var piece = stream.readSlice(length: take) else { break }
            buffer.writeBuffer(&piece)
            while true {
                let before = buffer.readerIndex
                guard let frame = try decoder.decode(buffer: &buffer) else {
                    // Nothing of a partial frame is consumed (the preface aside).
                    if decoder.hasReceivedPreface, buffer.readerIndex != before {
                        if let header = FrameDecoder.peekHeader(buffer), buffer.readableBytes >= FrameHeader.size + header.length {
                            fatalError("decode returned nil with a whole frame buffered")
                        }
                    }
                    break
                }
                frames.append(frame)
            }
        }
    } catch {
        // A WireError: the connection would end here. Frames decoded so far stay valid.
    }

    for frame in frames {
        checkRoundTrip(frame, role: role)
    }
    return 0
}

/// Encodes `frame` and decodes it again with the same role; the result must be equal.
private func checkRoundTrip(_ frame: Frame, role: ConnectionRole) {
    var bytes = allocator.buffer(capacity: 64)
    if role == .server { FrameEncoder.writePreface(into: &bytes) }
    FrameEncoder.encode(frame, into: &bytes)
    var decoder = FrameDecoder(role: role, maxFrameSize: 1 << 24, maxMetadataSize: 1 << 24)
    do {
        guard let decoded = try decoder.decode(buffer: &bytes) else {
            fatalError("re-encoded frame \(frame) does not decode as a whole frame")
        }
        guard decoded == frame else {
            fatalError("frame \(frame) round-trips to \(decoded)")
        }
    } catch {
        fatalError("re-encoded frame \(frame) fails to decode: \(error)")
    }
}
