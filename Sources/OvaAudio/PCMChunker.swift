/// Turns a byte stream of 16-bit little-endian PCM, cut anywhere, into whole sample frames.
///
/// Network reads and client messages split audio at arbitrary byte offsets, so a chunk can end
/// in the middle of a sample (or of a stereo frame); the leftover bytes are carried into the next
/// chunk instead of being dropped or misaligning everything after them.
public struct PCMChunker: Sendable {
    /// Bytes per frame: 2 for mono, 4 for stereo.
    public let bytesPerFrame: Int
    /// The most audio bytes accepted in total, or `nil` for no limit.
    public let maxBytes: Int?
    /// Audio bytes accepted so far (including carried ones).
    public private(set) var totalBytes = 0

    private var carry: [UInt8] = []

    /// - Parameters:
    ///   - channels: 1 or 2; the chunker yields whole interleaved frames.
    ///   - maxBytes: a limit on the total audio, enforced by ``append(_:)``.
    public init(channels: Int = 1, maxBytes: Int? = nil) {
        self.bytesPerFrame = 2 * max(1, channels)
        self.maxBytes = maxBytes
        self.carry.reserveCapacity(self.bytesPerFrame)
    }

    /// Returns the samples completed by `bytes` (interleaved if stereo): possibly none when
    /// `bytes` only completes part of a frame.
    ///
    /// - Throws: ``AudioError/tooLong(limitBytes:)`` once the total passes `maxBytes`.
    public mutating func append(_ bytes: some Collection<UInt8>) throws(AudioError) -> [Int16] {
        self.totalBytes += bytes.count
        if let maxBytes, self.totalBytes > maxBytes {
            throw .tooLong(limitBytes: maxBytes)
        }
        let available = self.carry.count + bytes.count
        let usable = available - available % self.bytesPerFrame
        var samples: [Int16] = []
        samples.reserveCapacity(usable / 2)
        var low: UInt8? = nil
        var consumed = 0
        // One pass over carry then the new bytes, pairing bytes into samples.
        func take(_ byte: UInt8) {
            if let first = low {
                samples.append(Int16(bitPattern: UInt16(first) | UInt16(byte) << 8))
                low = nil
            } else {
                low = byte
            }
        }
        for byte in self.carry where consumed < usable {
            take(byte)
            consumed += 1
        }
        var index = bytes.startIndex
        while consumed < usable {
            take(bytes[index])
            index = bytes.index(after: index)
            consumed += 1
        }
        let carriedUsed = min(self.carry.count, usable)
        self.carry.removeFirst(carriedUsed)
        self.carry.append(contentsOf: bytes[index...])
        return samples
    }

    /// Bytes waiting for the rest of their frame.
    public var pendingBytes: Int { self.carry.count }

    /// Ends the stream.
    ///
    /// - Throws: ``AudioError/oddByteCount`` when the audio stopped in the middle of a frame.
    public func finish() throws(AudioError) {
        if !self.carry.isEmpty {
            throw .oddByteCount
        }
    }
}

/// Stereo to mono.
public enum Downmix {
    /// Averages each interleaved left/right pair. A trailing unpaired sample (which
    /// ``PCMChunker`` never yields for stereo) is dropped.
    public static func stereoToMono(_ interleaved: [Int16]) -> [Int16] {
        var mono: [Int16] = []
        mono.reserveCapacity(interleaved.count / 2)
        var index = 0
        while index + 1 < interleaved.count {
            // The sum of two Int16 fits an Int; half of it fits an Int16 again.
            mono.append(Int16((Int(interleaved[index]) + Int(interleaved[index + 1])) >> 1))
            index += 2
        }
        return mono
    }
}
