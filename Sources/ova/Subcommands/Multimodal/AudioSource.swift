import ArgumentParser
import Foundation
import OvaAudio

/// Audio to stream: a WAV file, or standard input (WAV as `arecord` writes it, or raw 16-bit
/// little-endian PCM at `--rate`), read in chunks of `chunkMilliseconds` and paced in real time
/// when asked, so a file behaves like a microphone.
struct AudioSource: Sendable {
    let handle: FileHandle
    /// What the server must be told (`WAV` streams its header; raw PCM needs the rate).
    let isWAV: Bool
    let format: PCMFormat
    /// Bytes already read while sniffing the header; sent first.
    private var pending: [UInt8]
    let chunkBytes: Int

    init(path: String, rawSampleRate: Int, chunkMilliseconds: Int) throws {
        if path == "-" {
            self.handle = FileHandle.standardInput
        } else {
            try checkInputFile(path, expected: "a WAV file or - for standard input")
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ValidationError("cannot open \(path)")
            }
            self.handle = handle
        }
        var sniffed: [UInt8] = []
        while sniffed.count < 4096, let data = try self.handle.read(upToCount: 4096 - sniffed.count), !data.isEmpty {
            sniffed += data
            if sniffed.count >= 12, sniffed.starts(with: Array("RIFF".utf8)) == false { break }
            if (try? WAV.parse(sniffed)) != nil { break }
        }
        if sniffed.starts(with: Array("RIFF".utf8)) {
            do {
                self.format = try WAV.parse(sniffed).format
            } catch {
                throw ValidationError("\(path): \(error)")
            }
            self.isWAV = true
        } else {
            guard path == "-" else {
                throw ValidationError("\(path) is not a WAV file (16-bit PCM); pipe raw 16-bit PCM through stdin with --rate")
            }
            self.format = PCMFormat(sampleRate: rawSampleRate, channels: 1)
            self.isWAV = false
        }
        self.pending = sniffed
        self.chunkBytes = max(2, self.format.bytesPerSecond * chunkMilliseconds / 1000 / 2 * 2)
    }

    /// The next chunk; nil at the end.
    mutating func next() throws -> [UInt8]? {
        if self.pending.count >= self.chunkBytes {
            let chunk = Array(self.pending.prefix(self.chunkBytes))
            self.pending.removeFirst(self.chunkBytes)
            return chunk
        }
        while self.pending.count < self.chunkBytes, let data = try self.handle.read(upToCount: self.chunkBytes - self.pending.count), !data.isEmpty {
            self.pending += data
        }
        guard !self.pending.isEmpty else { return nil }
        defer { self.pending = [] }
        return self.pending
    }

    /// Sends every chunk to `send`, at real-time pace when asked (a file then behaves like a
    /// microphone; a live source paces itself).
    func stream(realtime: Bool, _ send: ([UInt8]) async throws -> Void) async throws {
        var source = self
        let clock = ContinuousClock()
        var next = clock.now
        while let chunk = try source.next() {
            try await send(chunk)
            if realtime {
                next = next.advanced(by: source.duration(of: chunk.count))
                try await clock.sleep(until: next)
            }
        }
    }

    /// How long `bytes` of audio last, for real-time pacing.
    func duration(of bytes: Int) -> Duration {
        .milliseconds(Int64(bytes) * 1000 / Int64(max(1, self.format.bytesPerSecond)))
    }
}
