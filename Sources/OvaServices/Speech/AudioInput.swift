import OvaAudio
import OvaEngines
import OvaProto
import OvaRPC

/// Client audio (LINEAR16 or WAV, 8–48 kHz, mono or stereo WAV) turned into what recognizers
/// take: 16 kHz mono samples. Bytes may be cut anywhere; a WAV header may span messages.
struct AudioInput {
    /// The longest utterance accepted.
    static let maxSeconds = 300
    /// A WAV header (with any extra chunks) must be complete within this many bytes.
    static let maxHeaderBytes = 64 * 1024

    private enum Stage {
        case awaitingHeader([UInt8])
        case streaming(PCMChunker, channels: Int)
    }

    private var stage: Stage
    private var resampler: Resampler?
    private(set) var format: PCMFormat?
    /// Milliseconds of audio received so far.
    private(set) var receivedMilliseconds: UInt32 = 0

    /// - Throws: INVALID_ARGUMENT for an unsupported encoding or rate.
    init(encoding: AudioEncoding, sampleRateHz: UInt32) throws {
        switch encoding {
        case .linear16:
            let format = PCMFormat(sampleRate: Int(sampleRateHz), channels: 1)
            do {
                try format.validate()
            } catch {
                throw RPCError.invalidArgument("invalid recognition config", fieldViolations: [
                    ("config.sample_rate_hz", "LINEAR16 needs a sample rate of 8000-48000 Hz (got \(sampleRateHz))"),
                ])
            }
            self.format = format
            self.stage = .streaming(PCMChunker(channels: 1, maxBytes: Self.maxSeconds * format.bytesPerSecond), channels: 1)
            self.resampler = try Self.resampler(for: format)
        case .wav:
            self.stage = .awaitingHeader([])
        default:
            throw RPCError.invalidArgument("invalid recognition config", fieldViolations: [
                ("config.encoding", "must be LINEAR16 (16-bit little-endian PCM, mono) or WAV"),
            ])
        }
    }

    /// The 16 kHz mono samples completed by `bytes`.
    mutating func append(_ bytes: [UInt8]) throws -> [Int16] {
        switch self.stage {
        case .awaitingHeader(var buffered):
            buffered += bytes
            let header: (format: PCMFormat, dataOffset: Int, dataLength: Int?)
            do {
                header = try WAV.parse(buffered)
            } catch .truncated(let reason) {
                guard buffered.count < Self.maxHeaderBytes else {
                    throw Self.invalid("the WAV header is longer than \(Self.maxHeaderBytes) bytes or incomplete: \(reason)")
                }
                self.stage = .awaitingHeader(buffered)
                return []
            } catch {
                throw Self.invalid("\(error)")
            }
            self.format = header.format
            self.resampler = try Self.resampler(for: header.format)
            self.stage = .streaming(
                PCMChunker(channels: header.format.channels, maxBytes: Self.maxSeconds * header.format.bytesPerSecond),
                channels: header.format.channels
            )
            return try self.append(Array(buffered[min(header.dataOffset, buffered.count)...]))
        case .streaming(var chunker, let channels):
            var samples: [Int16]
            do {
                samples = try chunker.append(bytes)
            } catch {
                throw Self.audioError(error)
            }
            self.stage = .streaming(chunker, channels: channels)
            if channels == 2 { samples = Downmix.stereoToMono(samples) }
            if let rate = self.format?.sampleRate, rate > 0 {
                let frames = chunker.totalBytes / (2 * channels)
                self.receivedMilliseconds = UInt32(clamping: frames * 1000 / rate)
            }
            guard var resampler = self.resampler else { return samples }
            let output = resampler.process(samples)
            self.resampler = resampler
            return output
        }
    }

    /// Ends the audio: the resampler's tail. - Throws: INVALID_ARGUMENT for a cut sample or a
    /// WAV stream that never completed its header.
    mutating func finish() throws -> [Int16] {
        switch self.stage {
        case .awaitingHeader(let buffered):
            if buffered.isEmpty { return [] }
            throw Self.invalid("the audio ended inside the WAV header (\(buffered.count) bytes)")
        case .streaming(let chunker, _):
            do {
                try chunker.finish()
            } catch {
                throw Self.audioError(error)
            }
            guard var resampler = self.resampler else { return [] }
            let tail = resampler.flush()
            self.resampler = resampler
            return tail
        }
    }

    private static func resampler(for format: PCMFormat) throws -> Resampler? {
        guard format.sampleRate != PCMFormat.recognizer.sampleRate else { return nil }
        do {
            return try Resampler(inputRate: format.sampleRate, outputRate: PCMFormat.recognizer.sampleRate)
        } catch {
            throw Self.audioError(error)
        }
    }

    private static func audioError(_ error: AudioError) -> RPCError {
        switch error {
        case .tooLong:
            return RPCError(code: .invalidArgument, message: "the audio is longer than \(Self.maxSeconds) s; split it into utterances")
        case .oddByteCount:
            return invalid("the audio ended in the middle of a 16-bit sample (odd byte count): truncated audio")
        default:
            return invalid("\(error)")
        }
    }

    private static func invalid(_ description: String) -> RPCError {
        RPCError.invalidArgument("invalid audio", fieldViolations: [("audio", description)])
    }
}
