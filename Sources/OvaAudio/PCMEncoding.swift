/// Samples back to bytes: the inverse of ``PCMChunker``, for audio sent to clients or written
/// into WAV files (16-bit signed little-endian).
public enum PCMEncoding {
    public static func littleEndianBytes(_ samples: [Int16]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples {
            let value = UInt16(bitPattern: sample)
            bytes.append(UInt8(value & 0xFF))
            bytes.append(UInt8(value >> 8))
        }
        return bytes
    }
}
