import ArgumentParser

/// `ova`: the command-line client of an OVA server.
@main
struct Ova: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ova",
        abstract: "Command-line client for OVA servers.",
        discussion: """
            Connects over TLS to an ova-server (default 127.0.0.1:7443). For the server's \
            generated development certificate pass --ca <data dir>/dev-cert.pem, or --insecure \
            to skip verification. The exit code is the call's status code (0 OK, 1-16 as gRPC). \
            After `ova login`, commands to the same server send the saved access token. \
            OVA_ADDR sets the default --addr (one host:port, or several instances of one service \
            separated by commas) and OVA_CA the default --ca. Shell completions: \
            `ova --generate-completion-script bash|zsh|fish`.
            """,
        version: "0.1.0",
        subcommands: [
            ListServices.self, Describe.self, Call.self, Login.self, Refresh.self, Logout.self,
            SpeechToText.self, TextToSpeech.self, ChatCommand.self, VoiceCommand.self, VisionCommand.self, SignCommand.self,
        ]
    )
}
