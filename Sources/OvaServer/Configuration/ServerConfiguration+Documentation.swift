import Foundation

/// Renders the settings table for people: `ova-server serve --help`, the startup summary,
/// docs/CONFIGURATION.md's settings section and `.env.example`. All of it comes from
/// ``ServerConfiguration/settings``; a test fails when the committed files differ.
extension ServerConfiguration {
    // MARK: - Startup summary

    /// Every setting and its effective value, for the startup log. Secrets show only
    /// `set` / `unset`.
    public func redactedSummary() -> [(key: String, value: String)] {
        Self.settings.map { setting in
            let value = setting.display(self)
            if setting.isSecret {
                return (key: setting.name, value: value == nil ? "unset" : "set")
            }
            return (key: setting.name, value: value ?? "unset")
        }
    }

    // MARK: - Documentation text of one setting

    /// The setting's doc line with what the declaration adds: secret, not used yet.
    static func fullDoc(_ setting: Setting) -> String {
        var text = setting.doc
        if setting.isSecret {
            text = "**Secret.** " + text
        }
        switch setting.availability {
        case .available:
            break
        case .notUsedYet(let reason):
            text += " **Not used yet:** \(reason); setting it logs a warning at startup."
        case .refused(let reason):
            text += " **Not used yet:** \(reason); the server refuses to start while it is set."
        }
        return text
    }

    /// Markdown reduced to plain text for a terminal: no backticks, emphasis or link targets.
    static func plainText(_ markdown: String) -> String {
        var text = markdown.replacingOccurrences(of: "`", with: "").replacingOccurrences(of: "**", with: "")
        // [label](#anchor) → label
        while let open = text.range(of: "]("), let close = text[open.upperBound...].firstIndex(of: ")"),
              let start = text[..<open.lowerBound].lastIndex(of: "[") {
            let label = text[text.index(after: start)..<open.lowerBound]
            text.replaceSubrange(start...close, with: label)
        }
        return text
    }

    /// Splits text into lines of at most `width` characters (longer words stay whole).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    // MARK: - `ova-server serve --help`

    /// Every setting with its flag, variable, default and doc line, grouped.
    public static func commandLineHelp() -> String {
        var out = """
            Every setting is an environment variable (also read from ./.env and the file named by \
            OVA_ENV_FILE) and, except secrets, a flag: --name value or --name=value. Precedence: flag, \
            environment, OVA_ENV_FILE's file, ./.env, default. An empty value counts as unset.

            """
        for group in Setting.Group.allCases {
            out += "\n\(group.title):\n"
            for setting in settings where setting.group == group {
                let flag = setting.hasFlag ? "--\(setting.flagName) <value>" : "(secret: environment or .env only)"
                let names = setting.names.joined(separator: ", ")
                out += "  \(flag)\n"
                out += "      \(names) (default: \(setting.defaultText ?? "unset"))\n"
                for line in wrap(plainText(fullDoc(setting)), width: 72) {
                    out += "      \(line)\n"
                }
            }
        }
        return out
    }

    // MARK: - docs/CONFIGURATION.md

    public static let generatedSectionBegin = "<!-- BEGIN GENERATED SETTINGS: `make config-docs` writes this from ServerConfiguration+Settings.swift -->"
    public static let generatedSectionEnd = "<!-- END GENERATED SETTINGS -->"

    /// The settings tables, one per group, between the generated-section markers.
    public static func markdownSettingsSection() -> String {
        var out = generatedSectionBegin + "\n"
        for group in Setting.Group.allCases {
            out += "\n### \(group.title)\n\n"
            out += "| variable | flag | default | meaning |\n| --- | --- | --- | --- |\n"
            for setting in settings where setting.group == group {
                var names = "`\(setting.name)`"
                if !setting.aliases.isEmpty {
                    names += " (also " + setting.aliases.map { "`\($0)`" }.joined(separator: ", ") + ")"
                }
                let flag = setting.hasFlag ? "`--\(setting.flagName)`" : "none"
                let defaultValue = setting.defaultText.map { "`\($0)`" } ?? "unset"
                let doc = fullDoc(setting).replacingOccurrences(of: "|", with: "\\|")
                out += "| \(names) | \(flag) | \(defaultValue) | \(doc) |\n"
            }
        }
        return out + "\n" + generatedSectionEnd
    }

    /// `document` with its generated section replaced by the current one; nil when the
    /// markers are missing or out of order.
    public static func updatingSettingsSection(in document: String) -> String? {
        guard let begin = document.range(of: generatedSectionBegin),
              let end = document.range(of: generatedSectionEnd, range: begin.upperBound..<document.endIndex)
        else { return nil }
        return document.replacingCharacters(in: begin.lowerBound..<end.upperBound, with: markdownSettingsSection())
    }

    // MARK: - .env.example

    /// Every setting, commented out with its default, grouped; secrets empty.
    public static func environmentExample() -> String {
        var out = """
            # OVA server settings. Generated by `make config-docs` from
            # Sources/OvaServer/Configuration/ServerConfiguration+Settings.swift: do not edit by hand.
            #
            # Copy to .env (read from the working directory; OVA_ENV_FILE names one more file) and
            # uncomment what you change. Real environment variables and command line flags win.
            # Every value shown is the default; an empty value means unset. Never commit a .env with secrets.

            """
        for group in Setting.Group.allCases {
            out += "\n# ---- \(group.title) ----\n"
            for setting in settings where setting.group == group {
                out += "\n"
                for line in wrap(plainText(fullDoc(setting)), width: 96) {
                    out += "# \(line)\n"
                }
                let value = setting.isSecret ? "" : (setting.defaultText ?? "")
                out += "# \(setting.name)=\(value)\n"
            }
        }
        return out
    }
}

extension ServerConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The redacted summary on one line: printing a configuration (a test's failure message, a
    /// debugger) shows secrets only as `set` or `unset`.
    public var description: String {
        self.redactedSummary().map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    public var debugDescription: String { self.description }

    /// What `dump` and reflection see: the redacted summary, never a secret's value.
    public var customMirror: Mirror {
        Mirror(self, children: self.redactedSummary().map { (label: Optional($0.key), value: $0.value as Any) }, displayStyle: .struct)
    }
}
