import ArgumentParser
import Foundation
import OvaServer

/// `ova-server config generate`: writes the parts of docs/CONFIGURATION.md and
/// `.env.example` that come from the settings table (`make config-docs`). Hidden: it is for
/// people changing the server, not for operators.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Generate the settings documentation from the declarations.",
        shouldDisplay: false,
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite docs/CONFIGURATION.md's settings section and .env.example."
        )

        @Option(help: ArgumentHelp("The repository root.", valueName: "path"))
        var root: String = "."

        @Flag(help: "Write nothing; fail if either file is out of date.")
        var check = false

        func run() throws {
            let rootURL = URL(fileURLWithPath: self.root)
            let docsURL = rootURL.appendingPathComponent("docs/CONFIGURATION.md")
            let exampleURL = rootURL.appendingPathComponent(".env.example")
            let docs = try String(contentsOf: docsURL, encoding: .utf8)
            guard let newDocs = ServerConfiguration.updatingSettingsSection(in: docs) else {
                throw ValidationError(
                    "\(docsURL.path) lacks the markers \(ServerConfiguration.generatedSectionBegin) ... \(ServerConfiguration.generatedSectionEnd)"
                )
            }
            let newExample = ServerConfiguration.environmentExample()
            let oldExample = try? String(contentsOf: exampleURL, encoding: .utf8)
            if self.check {
                var stale: [String] = []
                if newDocs != docs { stale.append(docsURL.path) }
                if newExample != oldExample { stale.append(exampleURL.path) }
                guard stale.isEmpty else {
                    throw ValidationError("out of date (run `make config-docs`): \(stale.joined(separator: ", "))")
                }
                return
            }
            try Data(newDocs.utf8).write(to: docsURL, options: .atomic)
            try Data(newExample.utf8).write(to: exampleURL, options: .atomic)
            print("wrote \(docsURL.path) and \(exampleURL.path)")
        }
    }
}
