import NIOCore
import OvaTestSupport
import OvaWire

/// How bytes are handed to the decoder.
enum Feeding: CustomStringConvertible, Sendable {
    case allAtOnce
    case byteByByte
    case randomSplits(seed: UInt64)

    /// All at once, one byte at a time, and a few seeded random splits.
    static let all: [Feeding] = [.allAtOnce, .byteByByte] + (1...8).map { .randomSplits(seed: $0) }

    func chunkSizes(total: Int) -> [Int] {
        switch self {
        case .allAtOnce:
            return [total]
        case .byteByByte:
            return Array(repeating: 1, count: total)
        case .randomSplits(let seed):
            var rng = SplitMix64(seed: seed)
            var sizes: [Int] = []
            var remaining = total
            while remaining > 0 {
                // Mostly small chunks, sometimes empty ones, sometimes large ones.
                let size = min(remaining, Int.random(in: 0...(Bool.random(using: &rng) ? 7 : 64), using: &rng))
                sizes.append(size)
                remaining -= size
            }
            return sizes
        }
    }

    var description: String {
        switch self {
        case .allAtOnce: return "all at once"
        case .byteByByte: return "byte by byte"
        case .randomSplits(let seed): return "random splits (seed \(seed))"
        }
    }
}

struct DecodeResult {
    var frames: [Frame]
    /// Bytes left in the accumulation buffer at the end (a partial frame).
    var leftover: Int
}

/// Feeds `bytes` to `decoder` in chunks the way NIO's `ByteToMessageHandler` does: append each
/// chunk to an accumulation buffer, decode until `nil`, and at the end call `decodeLast`.
func decodeFrames(
    _ bytes: [UInt8],
    decoder: FrameDecoder,
    feeding: Feeding = .allAtOnce
) throws(WireError) -> DecodeResult {
    var decoder = decoder
    var accumulated = ByteBufferAllocator().buffer(capacity: bytes.count)
    var frames: [Frame] = []
    var offset = 0
    for size in feeding.chunkSizes(total: bytes.count) {
        accumulated.writeBytes(bytes[offset..<(offset + size)])
        offset += size
        while let frame = try decoder.decode(buffer: &accumulated) {
            frames.append(frame)
        }
    }
    while let frame = try decoder.decodeLast(buffer: &accumulated, seenEOF: true) {
        frames.append(frame)
    }
    return DecodeResult(frames: frames, leftover: accumulated.readableBytes)
}

/// Encodes frames back to back.
func encodeFrames(_ frames: [Frame]) -> [UInt8] {
    var buffer = ByteBufferAllocator().buffer(capacity: 256)
    for frame in frames {
        FrameEncoder.encode(frame, into: &buffer)
    }
    return Array(buffer.readableBytesView)
}

func byteBuffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

func byteBuffer(_ string: String) -> ByteBuffer {
    ByteBuffer(string: string)
}

/// A 9-byte frame header, built by hand (independently of the encoder).
func rawHeader(length: Int, type: UInt8, flags: UInt8 = 0, streamID: UInt32) -> [UInt8] {
    [
        UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
        type, flags,
        UInt8(truncatingIfNeeded: streamID >> 24), UInt8(truncatingIfNeeded: streamID >> 16),
        UInt8(truncatingIfNeeded: streamID >> 8), UInt8(truncatingIfNeeded: streamID),
    ]
}

func bigEndian<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let hex = String(byte, radix: 16)
        return hex.count == 1 ? "0" + hex : hex
    }.joined(separator: " ")
}

extension WireError.Kind {
    /// The case name, as used in docs/test-vectors/frames.hex.
    var caseName: String {
        switch self {
        case .badPreface: return "badPreface"
        case .frameTooLarge: return "frameTooLarge"
        case .metadataTooLarge: return "metadataTooLarge"
        case .malformedFrame: return "malformedFrame"
        case .invalidStreamID: return "invalidStreamID"
        case .invalidMetadataKey: return "invalidMetadataKey"
        case .invalidUTF8: return "invalidUTF8"
        case .invalidSetting: return "invalidSetting"
        }
    }
}

/// Runs `body` and returns the `WireError` it throws, or `nil` if it throws nothing.
func wireError<T>(_ body: () throws(WireError) -> T) -> WireError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
