import ArgumentParser
import Foundation
import OvaAudio
import OvaProto
import OvaRPC

/// `ova stt`: streams audio to Speech/Recognize and prints transcripts as they come.
struct SpeechToText: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stt",
        abstract: "Speech to text: stream a WAV file or a live microphone and print transcripts.",
        discussion: """
            Examples:
              ova stt recording.wav --phrases "hello world,open the door" --insecure
              arecord -f S16_LE -r 16000 -c 1 | ova stt - --interim --insecure     # live microphone
            Interim results go to standard error prefixed with '…'; final transcripts to standard output.
            """
    )

    @Argument(help: ArgumentHelp("A WAV file (16-bit PCM), or - for standard input (WAV or raw PCM).", valueName: "file"))
    var input: String

    @Option(help: "Language code, e.g. en-US or es.")
    var language = "en-US"

    @Option(help: "Sample rate of raw PCM on standard input.")
    var rate = 16_000

    @Option(help: ArgumentHelp("Comma-separated phrases the speech is expected to contain (a grammar for the local engine).", valueName: "list"))
    var phrases: String?

    @Option(help: ArgumentHelp("A JSGF grammar file (local engine).", valueName: "file"))
    var grammar: String?

    @Option(help: "Provider: local or huggingface (default: the server's chain).")
    var provider: String?

    @Flag(help: "Print interim results.")
    var interim = false

    @Flag(inversion: .prefixedNo, help: "Send audio at real-time pace (like a microphone).")
    var realtime = true

    @Option(name: .customLong("chunk-ms"), help: "Milliseconds of audio per message (20-1000).")
    var chunkMilliseconds = 100

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard (20...1000).contains(self.chunkMilliseconds) else { throw ValidationError("--chunk-ms must be 20-1000") }
        guard (8000...48000).contains(self.rate) else { throw ValidationError("--rate must be 8000-48000") }
    }

    func run() async throws {
        try await runReportingStatus(self.client) {
            let source = try AudioSource(path: self.input, rawSampleRate: self.rate, chunkMilliseconds: self.chunkMilliseconds)
            var config = RecognitionConfig()
            config.encoding = source.isWAV ? .wav : .linear16
            config.sampleRateHz = UInt32(source.format.sampleRate)
            config.languageCode = self.language
            config.interimResults = self.interim
            config.phraseHints = self.phrases?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            if let grammar {
                try checkInputFile(grammar, expected: "a JSGF grammar file")
                config.grammar = try String(contentsOfFile: grammar, encoding: .utf8)
            }
            config.provider = self.provider ?? ""
            let channel = try self.client.makeChannel()
            var options = self.client.callOptions()
            options.timeout = nil
            let realtime = self.realtime
            let firstConfig = config
            try await SpeechClient(channel: channel).recognize(options: options) { requests, responses in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var first = RecognizeRequest()
                        first.config = firstConfig
                        try await requests.write(first)
                        try await source.stream(realtime: realtime) { chunk in
                            var message = RecognizeRequest()
                            message.audio = chunk
                            try await requests.write(message)
                        }
                        requests.finish()
                    }
                    group.addTask {
                        for try await response in responses {
                            for result in response.results {
                                let text = result.alternatives.first?.transcript ?? ""
                                if result.isFinal {
                                    Output.line(text)
                                } else {
                                    FileHandle.standardError.write(Data("… \(text)\n".utf8))
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await channel.close()
        }
    }
}
