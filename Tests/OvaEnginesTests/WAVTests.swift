import Testing
@testable import OvaAudio
import OvaEngines

@Suite("WAV headers")
struct WAVTests {
    /// A header with every field given, for building malformed variants.
    private func header(
        tag: UInt16 = 1,
        channels: UInt16 = 1,
        rate: UInt32 = 16_000,
        byteRate: UInt32? = nil,
        blockAlign: UInt16? = nil,
        bits: UInt16 = 16,
        extraChunks: [UInt8] = [],
        dataSize: UInt32 = 0xFFFF_FFFF
    ) -> [UInt8] {
        func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
        func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
        let align = blockAlign ?? channels * bits / 8
        var bytes = Array("RIFF".utf8) + le32(0xFFFF_FFFF) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(tag) + le16(channels) + le32(rate)
        bytes += le32(byteRate ?? rate * UInt32(align)) + le16(align) + le16(bits)
        bytes += extraChunks
        bytes += Array("data".utf8) + le32(dataSize)
        return bytes
    }

    @Test func headerRoundTripsWithKnownAndStreamingSizes() throws {
        let format = PCMFormat(sampleRate: 22_050, channels: 1)
        let known = WAV.header(format: format, dataBytes: 44_100)
        #expect(known.count == WAV.headerLength)
        let parsed = try WAV.parse(known + [0, 0, 1, 0])
        #expect(parsed.format == format)
        #expect(parsed.dataOffset == 44)
        #expect(parsed.dataLength == 44_100)
        // RIFF size is 36 + data bytes.
        #expect(known[4] == UInt8((44_100 + 36) & 0xFF) && known[5] == UInt8(((44_100 + 36) >> 8) & 0xFF))

        let stereo = PCMFormat(sampleRate: 48_000, channels: 2)
        let streaming = WAV.header(format: stereo, dataBytes: nil)
        #expect(Array(streaming[4..<8]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(Array(streaming[40..<44]) == [0xFF, 0xFF, 0xFF, 0xFF])
        let parsedStreaming = try WAV.parse(streaming)
        #expect(parsedStreaming.format == stereo)
        #expect(parsedStreaming.dataLength == nil)
        #expect(parsedStreaming.dataOffset == 44)
    }

    @Test func extraChunksAreSkippedIncludingOddPadding() throws {
        // A LIST chunk of odd size 5 is followed by one pad byte.
        let list = Array("LIST".utf8) + [5, 0, 0, 0] + Array("INFOx".utf8) + [0]
        let bytes = header(extraChunks: list, dataSize: 3_200)
        let parsed = try WAV.parse(bytes)
        #expect(parsed.format == PCMFormat(sampleRate: 16_000, channels: 1))
        #expect(parsed.dataOffset == bytes.count)
        #expect(parsed.dataLength == 3_200)
    }

    @Test func extensibleFormatWithPCMSubformatIsAccepted() throws {
        var bytes = Array("RIFF".utf8) + [0xFF, 0xFF, 0xFF, 0xFF] + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + [40, 0, 0, 0, 0xFE, 0xFF, 1, 0, 0x80, 0x3E, 0, 0, 0x00, 0x7D, 0, 0, 2, 0, 16, 0]
        bytes += [22, 0, 16, 0, 4, 0, 0, 0] + [1, 0] + [UInt8](repeating: 0x11, count: 14)
        bytes += Array("data".utf8) + [0, 0, 0, 0]
        let parsed = try WAV.parse(bytes)
        #expect(parsed.format == PCMFormat(sampleRate: 16_000, channels: 1))
        #expect(parsed.dataLength == 0)
    }

    @Test func truncatedHeadersAreReportedAsTruncated() throws {
        let full = WAV.header(format: PCMFormat(sampleRate: 16_000, channels: 1), dataBytes: nil)
        for length in [0, 4, 11, 12, 20, 35, 43] {
            #expect(parseError(Array(full.prefix(length)))?.caseName == "truncated", "length \(length)")
        }
    }

    @Test func wrongMagicIsAnInvalidHeader() {
        var bytes = WAV.header(format: PCMFormat(sampleRate: 16_000, channels: 1), dataBytes: 0)
        bytes[0] = UInt8(ascii: "X")
        #expect(throws: AudioError.invalidHeader("does not start with RIFF")) { try WAV.parse(bytes) }
        #expect(throws: AudioError.invalidHeader("does not start with RIFF")) { try WAV.parse(Array("OggS".utf8)) }
        var notWave = WAV.header(format: PCMFormat(sampleRate: 16_000, channels: 1), dataBytes: 0)
        notWave[8] = UInt8(ascii: "A")
        #expect(throws: AudioError.invalidHeader("RIFF form type is not WAVE")) { try WAV.parse(notWave) }
    }

    @Test(arguments: [
        ("8-bit", UInt16(1), UInt16(1), UInt32(16_000), UInt16(8)),
        ("24-bit", 1, 1, 16_000, 24),
        ("96 kHz", 1, 1, 96_000, 16),
        ("6 kHz", 1, 1, 6_000, 16),
        ("3 channels", 1, 3, 16_000, 16),
        ("float", 3, 1, 16_000, 32),
        ("mu-law", 7, 1, 8_000, 8),
        ("ADPCM", 2, 1, 16_000, 4),
    ])
    func unsupportedFormatsAreRejected(name: String, tag: UInt16, channels: UInt16, rate: UInt32, bits: UInt16) {
        let bytes = header(tag: tag, channels: channels, rate: rate, bits: bits)
        #expect(parseError(bytes)?.caseName == "unsupportedFormat", "\(name)")
    }

    @Test func floatIsNamedInTheError() {
        #expect(throws: AudioError.unsupportedFormat("IEEE float samples (only 16-bit integer PCM is supported)")) {
            try WAV.parse(header(tag: 3, bits: 32))
        }
        #expect(throws: AudioError.unsupportedFormat("sample rate 96000 Hz (supported: 8000 to 48000 Hz)")) {
            try WAV.parse(header(rate: 96_000))
        }
    }

    @Test func inconsistentOrMisorderedChunksAreInvalid() {
        #expect(parseError(header(blockAlign: 4))?.invalidHeaderMessage?.contains("block align") == true)
        #expect(parseError(header(byteRate: 1234))?.invalidHeaderMessage?.contains("byte rate") == true)
        let dataFirst = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8) + Array("data".utf8) + [0, 0, 0, 0]
        #expect(throws: AudioError.invalidHeader("data chunk before the fmt chunk")) { try WAV.parse(dataFirst) }
        let shortFormat = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8) + Array("fmt ".utf8) + [4, 0, 0, 0, 1, 0, 1, 0]
        #expect(parseError(shortFormat)?.invalidHeaderMessage?.contains("fmt chunk of 4 bytes") == true)
        let binaryChunk = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8) + [0, 1, 2, 3, 0, 0, 0, 0]
        #expect(parseError(binaryChunk)?.caseName == "invalidHeader")
    }

    @Test func dataLengthMustBeWholeFrames() {
        #expect(throws: AudioError.oddByteCount) { try WAV.parse(header(dataSize: 3_201)) }
        #expect(throws: AudioError.oddByteCount) { try WAV.parse(header(channels: 2, dataSize: 3_202)) }
    }

    @Test func hugeChunkSizesDoNotOverflow() {
        let huge = Array("junk".utf8) + [0xFF, 0xFF, 0xFF, 0xFE]
        let bytes = header(extraChunks: huge)
        #expect(parseError(bytes)?.caseName == "truncated")
    }
}

/// The error `WAV.parse` throws for `bytes`, or nil when it accepts them.
private func parseError(_ bytes: [UInt8]) -> AudioError? {
    do {
        _ = try WAV.parse(bytes)
        return nil
    } catch {
        return error
    }
}

extension AudioError {
    var caseName: String {
        switch self {
        case .invalidHeader: return "invalidHeader"
        case .truncated: return "truncated"
        case .unsupportedFormat: return "unsupportedFormat"
        case .oddByteCount: return "oddByteCount"
        case .tooLong: return "tooLong"
        }
    }

    var invalidHeaderMessage: String? {
        if case .invalidHeader(let message) = self { return message }
        return nil
    }
}
