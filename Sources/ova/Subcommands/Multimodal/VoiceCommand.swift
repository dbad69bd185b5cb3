import ArgumentParser
import Foundation
import OvaAudio
import OvaProto
import OvaRPC

/// `ova voice`: one spoken question through the Voice pipeline (STT → LLM → TTS).
struct VoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voice",
        abstract: "Ask a spoken question: prints the transcript and the answer, saves the spoken answer.",
        discussion: """
            Example:
              ova voice question.wav -o answer.wav --phrases "what time is it" --insecure
            """
    )

    @Argument(help: ArgumentHelp("A WAV file, or - for standard input.", valueName: "file"))
    var input: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to save the spoken answer (WAV).", valueName: "file"))
    var output: String?

    @Option(help: "Recognition language, e.g. en-US.")
    var language = "en-US"

    @Option(help: "Comma-separated expected phrases (a grammar for the local recognizer).")
    var phrases: String?

    @Option(help: "Answer voice language, e.g. en or es.")
    var answerLanguage: String?

    @Option(help: "A system prompt.")
    var system: String?

    @Flag(inversion: .prefixedNo, help: "Send audio at real-time pace.")
    var realtime = true

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            let source = try AudioSource(path: self.input, rawSampleRate: 16_000, chunkMilliseconds: 100)
            var recognition = RecognitionConfig()
            recognition.encoding = source.isWAV ? .wav : .linear16
            recognition.sampleRateHz = UInt32(source.format.sampleRate)
            recognition.languageCode = self.language
            recognition.interimResults = true
            recognition.phraseHints = self.phrases?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            var synthesis = SynthesizeRequest()
            synthesis.languageCode = self.answerLanguage ?? ""
            var config = VoiceConfig()
            config.recognition = recognition
            config.synthesis = synthesis
            config.systemPrompt = self.system ?? ""
            let channel = try self.client.makeChannel()
            var options = self.client.callOptions()
            options.timeout = nil
            let realtime = self.realtime
            let firstConfig = config
            let (audio, rate) = try await VoiceClient(channel: channel).converse(options: options) { requests, events in
                try await withThrowingTaskGroup(of: ([UInt8], UInt32)?.self) { group in
                    group.addTask {
                        var first = VoiceRequest()
                        first.config = firstConfig
                        try await requests.write(first)
                        try await source.stream(realtime: realtime) { chunk in
                            var message = VoiceRequest()
                            message.audio = chunk
                            try await requests.write(message)
                        }
                        var end = VoiceRequest()
                        end.control = .endOfUtterance
                        try await requests.write(end)
                        requests.finish()
                        return nil
                    }
                    group.addTask {
                        var audio: [UInt8] = []
                        var rate: UInt32 = 0
                        // The answer's "ova: " label is written with its first token, so that a
                        // failure after the transcript is not printed as "ova: ova: ...".
                        var answering = false
                        for try await event in events {
                            if let transcript = event.transcript {
                                let text = transcript.alternatives.first?.transcript ?? ""
                                FileHandle.standardError.write(Data("\(transcript.isFinal ? "you:" : "…") \(text)\n".utf8))
                            } else if let token = event.token {
                                Output.write((answering ? "" : "ova: ") + token.content)
                                answering = true
                            } else if let answer = event.audio {
                                audio += answer.audio
                                if let format = answer.format { rate = format.sampleRateHz }
                            } else if event.completed != nil {
                                Output.finishLine()
                                answering = false
                            } else if event.interrupted != nil {
                                Output.line(" [interrupted]")
                                answering = false
                            }
                        }
                        return (audio, rate)
                    }
                    var result: ([UInt8], UInt32) = ([], 0)
                    for try await outcome in group {
                        if let outcome { result = outcome }
                    }
                    return result
                }
            }
            if let output, !audio.isEmpty {
                let header = WAV.header(format: PCMFormat(sampleRate: Int(rate), channels: 1), dataBytes: UInt32(clamping: audio.count))
                guard FileManager.default.createFile(atPath: output, contents: Data(header + audio)) else {
                    throw ValidationError("cannot write \(output)")
                }
                FileHandle.standardError.write(Data("voice: spoken answer saved to \(output)\n".utf8))
            }
            await channel.close()
        }
    }
}
