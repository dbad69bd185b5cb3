import Testing
@testable import OvaAudio
import OvaEngines

@Suite("PCM chunking, downmix and resampling")
struct AudioTests {
    private let samples: [Int16] = [0, 1, -1, 256, -256, Int16.max, Int16.min, 0x1234, -0x1234, 7]

    private var bytes: [UInt8] {
        samples.flatMap { sample -> [UInt8] in
            let bits = UInt16(bitPattern: sample)
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
    }

    @Test func chunkerCarriesOddBytesAcrossEverySplit() throws {
        let bytes = self.bytes
        // Every way of cutting the stream in three gives back the same samples.
        for first in 0...bytes.count {
            for second in first...bytes.count {
                var chunker = PCMChunker()
                var output = try chunker.append(bytes[0..<first])
                output += try chunker.append(bytes[first..<second])
                output += try chunker.append(bytes[second...])
                #expect(output == samples, "cuts at \(first), \(second)")
                #expect(chunker.pendingBytes == 0)
                try chunker.finish()
            }
        }
    }

    @Test func chunkerYieldsNothingForASingleByteAndKeepsIt() throws {
        var chunker = PCMChunker()
        #expect(try chunker.append([0x34]).isEmpty)
        #expect(chunker.pendingBytes == 1)
        #expect(throws: AudioError.oddByteCount) { try chunker.finish() }
        #expect(try chunker.append([0x12, 0xFF]) == [0x1234])
        #expect(chunker.pendingBytes == 1)
        #expect(try chunker.append([0x7F]) == [Int16.max])
        try chunker.finish()
    }

    @Test func stereoChunkerYieldsWholeFrames() throws {
        var chunker = PCMChunker(channels: 2)
        // Three bytes: not even one frame of two channels yet.
        #expect(try chunker.append([1, 0, 2]).isEmpty)
        #expect(try chunker.append([0, 3, 0]) == [1, 2])
        #expect(chunker.pendingBytes == 2)
        #expect(throws: AudioError.oddByteCount) { try chunker.finish() }
        #expect(try chunker.append([4, 0]) == [3, 4])
        try chunker.finish()
    }

    @Test func chunkerEnforcesTheLimit() throws {
        var chunker = PCMChunker(maxBytes: 6)
        #expect(try chunker.append([1, 0, 2, 0, 3]) == [1, 2])
        #expect(try chunker.append([0]) == [3])
        #expect(throws: AudioError.tooLong(limitBytes: 6)) { try chunker.append([0]) }
    }

    @Test func downmixAveragesPairs() {
        #expect(Downmix.stereoToMono([100, 200, -100, -300, Int16.max, Int16.max, Int16.min, Int16.min]) == [150, -200, Int16.max, Int16.min])
        #expect(Downmix.stereoToMono([1, 3, 5]) == [2])
        #expect(Downmix.stereoToMono([]).isEmpty)
    }

    @Test(arguments: [22_050, 44_100, 48_000, 8_000, 11_025, 32_000])
    func resamplerKeepsA440HzToneAndTheLengthRatio(inputRate: Int) throws {
        let seconds = 2.0
        let input = tone(frequency: 440, sampleRate: inputRate, seconds: seconds)
        var resampler = try Resampler(inputRate: inputRate, outputRate: 16_000)
        let output = resampler.process(input) + resampler.flush()
        let expectedCount = (input.count * 16_000 + inputRate - 1) / inputRate
        #expect(output.count == expectedCount)
        // 440 Hz crosses zero 880 times a second; allow a couple for the ends.
        let crossings = zeroCrossings(output)
        #expect(abs(crossings - Int(880 * seconds)) <= 2, "\(crossings) crossings")
        // Amplitude preserved in the passband (the edges ramp in from silence, hence the margin).
        let middle = Array(output[output.count / 4..<(3 * output.count / 4)])
        let ratio = rms(middle) / rms(input)
        #expect(ratio > 0.97 && ratio < 1.03, "gain \(ratio)")
    }

    @Test func resamplerOutputDoesNotDependOnChunking() throws {
        let input = tone(frequency: 300, sampleRate: 22_050, seconds: 0.5)
        var whole = try Resampler(inputRate: 22_050)
        let expected = whole.process(input) + whole.flush()
        var chunked = try Resampler(inputRate: 22_050)
        var output: [Int16] = []
        var start = 0
        for size in [1, 7, 100, 2205, 3, 4000].cycled(until: input.count) {
            let end = min(input.count, start + size)
            output += chunked.process(Array(input[start..<end]))
            start = end
            if start == input.count { break }
        }
        output += chunked.flush()
        #expect(output == expected)
        // After flush it starts over: the same input gives the same output again.
        #expect(chunked.process(input) + chunked.flush() == expected)
    }

    /// The low-pass: a 10 kHz tone cannot be represented at 16 kHz (Nyquist 8 kHz); without
    /// filtering it would fold back to 6 kHz at full amplitude.
    @Test func resamplerFiltersWhatWouldAlias() throws {
        let input = tone(frequency: 10_000, sampleRate: 44_100, seconds: 0.5)
        var resampler = try Resampler(inputRate: 44_100)
        let output = resampler.process(input) + resampler.flush()
        let middle = Array(output[output.count / 4..<(3 * output.count / 4)])
        #expect(rms(middle) < rms(input) * 0.01, "residual \(rms(middle)) of \(rms(input))")
    }

    @Test func resamplerPassesThroughAtTheSameRateAndRejectsOthers() throws {
        var same = try Resampler(inputRate: 16_000)
        #expect(same.isPassthrough)
        #expect(same.process(samples) == samples)
        #expect(same.flush().isEmpty)
        #expect(throws: AudioError.unsupportedFormat("sample rate 96000 Hz (supported: 8000 to 48000 Hz)")) {
            try Resampler(inputRate: 96_000)
        }
        #expect(throws: AudioError.self) { try Resampler(inputRate: 16_000, outputRate: 4_000) }
    }

    @Test func formatValidation() throws {
        try PCMFormat(sampleRate: 8_000, channels: 2).validate()
        #expect(throws: AudioError.self) { try PCMFormat(sampleRate: 16_000, channels: 0).validate() }
        #expect(PCMFormat(sampleRate: 22_050, channels: 2).bytesPerSecond == 88_200)
    }
}

extension Array {
    /// The elements repeated as often as needed for their sum to reach `total` (for chunk sizes).
    fileprivate func cycled(until total: Int) -> [Element] where Element == Int {
        var result: [Int] = []
        var sum = 0
        while sum < total {
            for element in self {
                result.append(element)
                sum += element
            }
        }
        return result
    }
}
