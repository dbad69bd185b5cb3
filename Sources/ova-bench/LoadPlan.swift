import Foundation

/// What one ova-bench run does.
struct LoadPlan: Sendable {
    let mode: OvaBench.Mode
    let concurrency: Int
    let duration: Double
    let warmup: Double
    let requestLimit: Int
    let payload: Int
    let rate: Double
    let audio: AudioSource?
    let realtime: Bool
    /// list-messages: the access token sent with every call.
    let token: String?
    /// The server address as given, for messages that tell what to run against it.
    let addr: String
}

/// 16-bit mono PCM cut into 100 ms chunks.
struct AudioSource: Sendable {
    let chunks: [[UInt8]]
    let sampleRate: Int

    /// Reads a PCM WAV (16-bit mono) or generates 10 s of a 440 Hz tone at 16 kHz.
    static func load(wavPath: String?) throws -> AudioSource {
        guard let wavPath else {
            let sampleRate = 16_000
            var pcm: [UInt8] = []
            pcm.reserveCapacity(sampleRate * 2 * 10)
            for index in 0..<(sampleRate * 10) {
                let sample = Int16(8_000 * sin(2 * Double.pi * 440 * Double(index) / Double(sampleRate)))
                pcm.append(UInt8(truncatingIfNeeded: sample))
                pcm.append(UInt8(truncatingIfNeeded: sample >> 8))
            }
            return AudioSource(chunks: Self.chunk(pcm, sampleRate: sampleRate), sampleRate: sampleRate)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: wavPath))
        let bytes = [UInt8](data)
        func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        guard bytes.count >= 44, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw BenchError("\(wavPath): not a RIFF/WAVE file")
        }
        var offset = 12
        var sampleRate = 0
        var pcm: [UInt8]?
        while offset + 8 <= bytes.count {
            let size = u32(offset + 4)
            let body = offset + 8
            guard body + size <= bytes.count || bytes[offset..<offset + 4].elementsEqual("data".utf8) else { break }
            if bytes[offset..<offset + 4].elementsEqual("fmt ".utf8), size >= 16 {
                guard u16(body) == 1, u16(body + 2) == 1, u16(body + 14) == 16 else {
                    throw BenchError("\(wavPath): only 16-bit mono PCM is supported")
                }
                sampleRate = u32(body + 4)
            } else if bytes[offset..<offset + 4].elementsEqual("data".utf8) {
                pcm = Array(bytes[body..<min(bytes.count, body + size)])
                break
            }
            offset = body + size + (size & 1)
        }
        guard sampleRate > 0, let pcm, !pcm.isEmpty else { throw BenchError("\(wavPath): no fmt or data chunk") }
        return AudioSource(chunks: Self.chunk(pcm, sampleRate: sampleRate), sampleRate: sampleRate)
    }

    private static func chunk(_ pcm: [UInt8], sampleRate: Int) -> [[UInt8]] {
        let size = max(2, sampleRate / 10 * 2)
        return stride(from: 0, to: pcm.count, by: size).map { Array(pcm[$0..<min(pcm.count, $0 + size)]) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
