import ArgumentParser
import Foundation
import OvaAudio
import OvaProto
import OvaRPC

#if canImport(Glibc)
import Glibc
#endif

/// `ova tts`: Speech/Synthesize, written as a WAV file (or to standard output) as it arrives.
struct TextToSpeech: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tts",
        abstract: "Text to speech: synthesize text into a WAV file or standard output.",
        discussion: """
            Examples:
              ova tts "Hola, ¿en qué puedo ayudarte?" --language es -o hola.wav --insecure
              ova tts "Hello there" --insecure | aplay
            """
    )

    @Argument(help: "The text to say.")
    var text: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output WAV file; - or omitted for standard output.", valueName: "file"))
    var output: String?

    @Option(help: "Voice name (see the server's Speech/ListVoices).")
    var voice: String?

    @Option(help: "Language code, e.g. es or en.")
    var language: String?

    @Option(help: "Speaking rate in words per minute (80-450).")
    var rate: UInt32?

    @Option(help: "Provider: local or huggingface (default: the server's chain).")
    var provider: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            var request = SynthesizeRequest()
            request.text = self.text
            request.voice = self.voice ?? ""
            request.languageCode = self.language ?? ""
            request.rateWpm = self.rate ?? 0
            request.encoding = .wav
            request.provider = self.provider ?? ""
            let toFile = self.output != nil && self.output != "-"
            let handle: FileHandle
            if let output, toFile {
                guard FileManager.default.createFile(atPath: output, contents: nil) , let file = FileHandle(forWritingAtPath: output) else {
                    throw ValidationError("cannot write \(output)")
                }
                handle = file
            } else {
                handle = FileHandle.standardOutput
            }
            let channel = try self.client.makeChannel()
            let summary = try await SpeechClient(channel: channel).synthesize(request, options: self.client.callOptions()) { responses in
                var summary = SynthesisSummary()
                for try await response in responses {
                    if let audio = response.audio {
                        try handle.write(contentsOf: audio)
                    } else if let last = response.summary {
                        summary = last
                    }
                }
                return summary
            }
            if toFile {
                // The streamed header says "unknown size"; a file can have the real ones.
                let dataBytes = UInt32(clamping: summary.audioBytes >= UInt64(WAV.headerLength) ? summary.audioBytes - UInt64(WAV.headerLength) : 0)
                try handle.seek(toOffset: 0)
                try handle.write(contentsOf: WAV.header(format: PCMFormat(sampleRate: Int(summary.sampleRateHz), channels: 1), dataBytes: dataBytes))
                try handle.close()
            }
            FileHandle.standardError.write(Data("tts: \(summary.durationMs) ms at \(summary.sampleRateHz) Hz from \(summary.provider)\(toFile ? " → \(self.output ?? "")" : "")\n".utf8))
            await channel.close()
        }
    }
}
