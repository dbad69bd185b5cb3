/// Linear PCM as the engines exchange it: 16-bit signed little-endian samples, interleaved when
/// there are two channels. Nothing else is supported, so the sample width is not a field.
public struct PCMFormat: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var sampleRate: Int
    public var channels: Int

    public init(sampleRate: Int, channels: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// What the recognizer decodes: 16 kHz mono.
    public static let recognizer = PCMFormat(sampleRate: 16_000, channels: 1)

    /// The sample rates accepted from clients. Below 8 kHz speech is unintelligible; above 48 kHz
    /// is not speech audio and would only make resampling dearer.
    public static let supportedSampleRates: ClosedRange<Int> = 8_000...48_000

    /// The channel counts accepted from clients (mono, or stereo that is downmixed).
    public static let supportedChannels: ClosedRange<Int> = 1...2

    /// Bytes per sample frame (one 16-bit sample per channel).
    public var bytesPerFrame: Int { 2 * self.channels }

    /// Bytes per second of audio.
    public var bytesPerSecond: Int { self.sampleRate * self.bytesPerFrame }

    public var description: String { "\(self.sampleRate) Hz, \(self.channels) channel(s), 16-bit" }

    /// Throws ``AudioError/unsupportedFormat(_:)`` unless the rate and channel count are supported.
    public func validate() throws(AudioError) {
        guard Self.supportedSampleRates.contains(self.sampleRate) else {
            throw .unsupportedFormat("sample rate \(self.sampleRate) Hz (supported: 8000 to 48000 Hz)")
        }
        guard Self.supportedChannels.contains(self.channels) else {
            throw .unsupportedFormat("\(self.channels) channels (supported: 1 or 2)")
        }
    }
}
