/// RIFF/WAVE headers for 16-bit PCM: writing one in front of synthesized audio, and reading the
/// one a client sends in front of its recording.
///
/// Only what the engines need is accepted (PCM, 16 bits, 1–2 channels, 8–48 kHz); anything else
/// is rejected with a precise ``AudioError`` rather than decoded into noise.
public enum WAV {
    /// The size a streaming writer puts in the RIFF and `data` size fields when the length is not
    /// known yet (what ffmpeg and sox write to a pipe).
    public static let unknownSize: UInt32 = 0xFFFF_FFFF

    /// Length of the header ``header(format:dataBytes:)`` writes.
    public static let headerLength = 44

    /// The canonical 44-byte header: `RIFF`, `WAVE`, a 16-byte `fmt ` chunk, then the `data` chunk
    /// header. With `dataBytes == nil` (audio streamed as it is synthesized) both size fields are
    /// ``unknownSize``, which players and ``parse(_:)`` read as "until the end of the stream".
    public static func header(format: PCMFormat, dataBytes: UInt32?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerLength)
        let riffSize: UInt32
        if let dataBytes {
            // A data size within 36 bytes of 4 GiB cannot have a RIFF size: saturate like a stream.
            let (sum, overflow) = dataBytes.addingReportingOverflow(36)
            riffSize = overflow ? Self.unknownSize : sum
        } else {
            riffSize = Self.unknownSize
        }
        bytes.append(contentsOf: Array("RIFF".utf8))
        append32(riffSize, to: &bytes)
        bytes.append(contentsOf: Array("WAVE".utf8))
        bytes.append(contentsOf: Array("fmt ".utf8))
        append32(16, to: &bytes)
        append16(1, to: &bytes)  // WAVE_FORMAT_PCM
        append16(UInt16(truncatingIfNeeded: format.channels), to: &bytes)
        append32(UInt32(truncatingIfNeeded: format.sampleRate), to: &bytes)
        append32(UInt32(truncatingIfNeeded: format.bytesPerSecond), to: &bytes)
        append16(UInt16(truncatingIfNeeded: format.bytesPerFrame), to: &bytes)
        append16(16, to: &bytes)
        bytes.append(contentsOf: Array("data".utf8))
        append32(dataBytes ?? Self.unknownSize, to: &bytes)
        return bytes
    }

    /// Reads the header at the start of `bytes` (which may hold more than the header: the start of
    /// the audio, or all of it).
    ///
    /// Chunks other than `fmt ` and `data` (`LIST`, `fact`, `bext`...) are skipped. The audio
    /// starts at `dataOffset`; `dataLength` is `nil` when the writer streamed it
    /// (``unknownSize``), otherwise the declared length, which may run past the end of `bytes`.
    ///
    /// - Throws: ``AudioError/truncated(_:)`` when `bytes` ends before the `data` chunk header
    ///   (a streaming reader can retry with more bytes); ``AudioError/invalidHeader(_:)`` for a
    ///   file that is not WAV or is inconsistent; ``AudioError/unsupportedFormat(_:)`` for WAV
    ///   audio that is not 16-bit PCM, 1–2 channels, 8–48 kHz; ``AudioError/oddByteCount`` for a
    ///   declared data length that is not a whole number of sample frames.
    public static func parse(_ bytes: [UInt8]) throws(AudioError) -> (format: PCMFormat, dataOffset: Int, dataLength: Int?) {
        guard bytes.count >= 12 else {
            if !bytes.isEmpty, !Array("RIFF".utf8).starts(with: bytes.prefix(4)) {
                throw .invalidHeader("does not start with RIFF")
            }
            throw .truncated("\(bytes.count) bytes, the RIFF header needs 12")
        }
        guard bytes[0..<4].elementsEqual("RIFF".utf8) else {
            throw .invalidHeader("does not start with RIFF")
        }
        guard bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw .invalidHeader("RIFF form type is not WAVE")
        }
        var offset = 12
        var format: PCMFormat?
        while true {
            guard bytes.count - offset >= 8 else {
                throw .truncated("ended at byte \(bytes.count) before the data chunk")
            }
            let id = bytes[offset..<(offset + 4)]
            let size = Int(read32(bytes, at: offset + 4))
            let body = offset + 8
            if id.elementsEqual("data".utf8) {
                guard let format else {
                    throw .invalidHeader("data chunk before the fmt chunk")
                }
                if UInt32(truncatingIfNeeded: size) == Self.unknownSize {
                    return (format, body, nil)
                }
                guard size % format.bytesPerFrame == 0 else {
                    throw .oddByteCount
                }
                return (format, body, size)
            }
            guard id.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw .invalidHeader("unreadable chunk id at byte \(offset)")
            }
            // RIFF pads every chunk to an even length; the pad byte is not counted in `size`.
            let padded = size + (size & 1)
            guard bytes.count - body >= padded else {
                throw .truncated("the \(String(decoding: id, as: UTF8.self)) chunk at byte \(offset) needs \(padded) bytes, \(bytes.count - body) present")
            }
            if id.elementsEqual("fmt ".utf8) {
                guard format == nil else {
                    throw .invalidHeader("two fmt chunks")
                }
                format = try Self.parseFormat(bytes[body..<(body + size)])
            }
            offset = body + padded
        }
    }

    /// The `fmt ` chunk body: format tag, channels, rate, byte rate, block align, bits.
    private static func parseFormat(_ chunk: ArraySlice<UInt8>) throws(AudioError) -> PCMFormat {
        guard chunk.count >= 16 else {
            throw .invalidHeader("fmt chunk of \(chunk.count) bytes, at least 16 needed")
        }
        let bytes = Array(chunk)
        var tag = read16(bytes, at: 0)
        let channels = Int(read16(bytes, at: 2))
        let sampleRate = Int(read32(bytes, at: 4))
        let byteRate = Int(read32(bytes, at: 8))
        let blockAlign = Int(read16(bytes, at: 12))
        let bits = Int(read16(bytes, at: 14))
        if tag == 0xFFFE {
            // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format
            // GUID at offset 24; some writers use it even for plain 16-bit PCM.
            guard bytes.count >= 40 else {
                throw .invalidHeader("WAVE_FORMAT_EXTENSIBLE fmt chunk of \(bytes.count) bytes, 40 needed")
            }
            tag = read16(bytes, at: 24)
        }
        switch tag {
        case 1:
            break
        case 3:
            throw .unsupportedFormat("IEEE float samples (only 16-bit integer PCM is supported)")
        case 6, 7:
            throw .unsupportedFormat("G.711 \(tag == 6 ? "A-law" : "µ-law") (only 16-bit integer PCM is supported)")
        default:
            throw .unsupportedFormat("WAV format tag \(tag) (only 1, integer PCM, is supported)")
        }
        guard bits == 16 else {
            throw .unsupportedFormat("\(bits)-bit samples (only 16-bit is supported)")
        }
        let format = PCMFormat(sampleRate: sampleRate, channels: channels)
        try format.validate()
        guard blockAlign == format.bytesPerFrame else {
            throw .invalidHeader("block align \(blockAlign), \(format.bytesPerFrame) expected for \(channels) channel(s) of 16 bits")
        }
        guard byteRate == format.bytesPerSecond else {
            throw .invalidHeader("byte rate \(byteRate), \(format.bytesPerSecond) expected for \(format)")
        }
        return format
    }
}

private func append16(_ value: UInt16, to bytes: inout [UInt8]) {
    bytes.append(UInt8(truncatingIfNeeded: value))
    bytes.append(UInt8(truncatingIfNeeded: value >> 8))
}

private func append32(_ value: UInt32, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 32, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
    }
}

/// Callers check the bounds first.
private func read16(_ bytes: [UInt8], at offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

private func read32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
