#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts mono 16-bit audio between sample rates (8–48 kHz), chunk by chunk.
///
/// A windowed-sinc (Blackman) band-limited interpolator: each output sample is a weighted sum of
/// the input samples around its position in time. When downsampling, the sinc's cutoff is lowered
/// to just under the output's Nyquist frequency, which is the low-pass that keeps energy above
/// 8 kHz (from 22.05 or 44.1 kHz audio) from folding back into the speech band. The kernel is
/// tabulated once at 512 points per input sample and read with linear interpolation, so any rate
/// pair works without a table per phase.
///
/// Streaming: the last few input samples and the position of the next output sample are kept
/// between ``process(_:)`` calls, so cutting the input anywhere gives the same output as one call
/// with all of it. ``flush()`` emits the tail still waiting for look-ahead samples. The output
/// is delayed by nothing: output sample `n` is the input at time `n * inputRate / outputRate`.
public struct Resampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int

    /// Sinc zero crossings on each side of the center: the steepness of the low-pass.
    private static let zeroCrossings = 16
    /// Kernel table points per input sample.
    private static let tableResolution = 512

    /// Half the kernel's width, in input samples.
    private let halfWidth: Int
    /// `kernel[i]` = h(i / tableResolution), h symmetric; the last entry is 0.
    private let kernel: [Float]
    /// Input samples not yet behind the kernel, starting at absolute input index `bufferStart`.
    private var buffer: [Float] = []
    private var bufferStart = 0
    /// Position of the next output sample, in input samples times `outputRate` (exact integers,
    /// so the rate ratio never drifts however long the stream).
    private var nextPosition = 0
    private var inputCount = 0

    /// - Throws: ``AudioError/unsupportedFormat(_:)`` for a rate outside 8–48 kHz.
    public init(inputRate: Int, outputRate: Int = 16_000) throws(AudioError) {
        for rate in [inputRate, outputRate] where !PCMFormat.supportedSampleRates.contains(rate) {
            throw .unsupportedFormat("sample rate \(rate) Hz (supported: 8000 to 48000 Hz)")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        // Cutoff in cycles per input sample: just under the lower of the two Nyquist frequencies,
        // with a margin for the transition band.
        let cutoff = 0.5 * min(1.0, Double(outputRate) / Double(inputRate)) * 0.92
        let halfWidth = Int((Double(Self.zeroCrossings) / (2 * cutoff)).rounded(.up))
        self.halfWidth = halfWidth
        let points = halfWidth * Self.tableResolution
        var kernel = [Float](repeating: 0, count: points + 2)
        for index in 0...points {
            let x = Double(index) / Double(Self.tableResolution)
            let t = 2 * cutoff * x
            let sinc = t == 0 ? 1.0 : sin(Double.pi * t) / (Double.pi * t)
            let u = x / Double(halfWidth)
            let window = 0.42 + 0.5 * cos(Double.pi * u) + 0.08 * cos(2 * Double.pi * u)
            kernel[index] = Float(2 * cutoff * sinc * window)
        }
        self.kernel = kernel
        // History before the first sample is silence, so the first outputs have full support.
        self.buffer = [Float](repeating: 0, count: halfWidth)
        self.bufferStart = -halfWidth
    }

    /// Whether the rates are equal, in which case samples pass through untouched.
    public var isPassthrough: Bool { self.inputRate == self.outputRate }

    /// Returns the output samples that `samples` completes; the last ~`halfWidth` input samples'
    /// worth waits for the next call or ``flush()``.
    public mutating func process(_ samples: [Int16]) -> [Int16] {
        if self.isPassthrough { return samples }
        self.inputCount += samples.count
        self.buffer.reserveCapacity(self.buffer.count + samples.count)
        for sample in samples {
            self.buffer.append(Float(sample))
        }
        return self.drain(inputEnd: self.bufferStart + self.buffer.count)
    }

    /// Ends the stream: emits the remaining output, treating the input after the end as silence,
    /// and resets the resampler for a new stream. Over a whole stream the output has
    /// `ceil(inputCount * outputRate / inputRate)` samples.
    public mutating func flush() -> [Int16] {
        if self.isPassthrough { return [] }
        var output: [Int16] = []
        // Only outputs whose position lies within the real input; `sample(at:)` reads the
        // inputs past the end as zeros.
        while self.nextPosition < self.inputCount * self.outputRate {
            output.append(self.sample(at: self.nextPosition))
            self.nextPosition += self.inputRate
        }
        self.buffer = [Float](repeating: 0, count: self.halfWidth)
        self.bufferStart = -self.halfWidth
        self.nextPosition = 0
        self.inputCount = 0
        return output
    }

    private mutating func drain(inputEnd: Int) -> [Int16] {
        var output: [Int16] = []
        output.reserveCapacity(max(0, (inputEnd * self.outputRate - self.nextPosition) / self.inputRate + 1))
        // An output sample at position p needs inputs up to floor(p) + halfWidth.
        while self.nextPosition / self.outputRate + self.halfWidth < inputEnd {
            output.append(self.sample(at: self.nextPosition))
            self.nextPosition += self.inputRate
        }
        // Drop inputs no future output can reach.
        let keepFrom = self.nextPosition / self.outputRate - self.halfWidth + 1
        let drop = keepFrom - self.bufferStart
        if drop > 0 {
            self.buffer.removeFirst(min(drop, self.buffer.count))
            self.bufferStart += drop
        }
        return output
    }

    /// The interpolated value at input time `position / outputRate`.
    private func sample(at position: Int) -> Int16 {
        let center = position / self.outputRate
        let fraction = Float(position % self.outputRate) / Float(self.outputRate)
        let resolution = Float(Self.tableResolution)
        var sum: Float = 0
        let first = center - self.halfWidth + 1
        let last = center + self.halfWidth
        for index in first...last {
            let bufferIndex = index - self.bufferStart
            guard bufferIndex >= 0, bufferIndex < self.buffer.count else { continue }
            let distance = abs(Float(index - center) - fraction) * resolution
            let tableIndex = Int(distance)
            guard tableIndex + 1 < self.kernel.count else { continue }
            let weight = distance - Float(tableIndex)
            let h = self.kernel[tableIndex] + (self.kernel[tableIndex + 1] - self.kernel[tableIndex]) * weight
            sum += self.buffer[bufferIndex] * h
        }
        return Int16(max(-32768, min(32767, sum.rounded())))
    }
}
