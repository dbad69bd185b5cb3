import ArgumentParser
import Foundation
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
        try await runReportingStatus {
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
                let dataBytes = UInt32(clamping: summary.audioBytes >= 44 ? summary.audioBytes - 44 : 0)
                try handle.seek(toOffset: 4)
                try handle.write(contentsOf: Self.littleEndian(dataBytes + 36))
                try handle.seek(toOffset: 40)
                try handle.write(contentsOf: Self.littleEndian(dataBytes))
                try handle.close()
            }
            FileHandle.standardError.write(Data("tts: \(summary.durationMs) ms at \(summary.sampleRateHz) Hz from \(summary.provider)\(toFile ? " → \(self.output ?? "")" : "")\n".utf8))
            await channel.close()
        }
    }

    static func littleEndian(_ value: UInt32) -> Data {
        Data([UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)])
    }
}
