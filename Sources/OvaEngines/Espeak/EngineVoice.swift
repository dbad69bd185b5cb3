/// A voice a synthesizer offers.
public struct EngineVoice: Sendable, Equatable, Hashable {
    /// What the voice is called and selected by (e.g. `Spanish (Spain)`).
    public var name: String
    /// The engine's own key for the voice (espeak-ng: its file under `voices/`, e.g. `roa/es`).
    public var identifier: String
    /// Language tags the voice speaks, most preferred first (e.g. `["es"]`, `["en-us", "en"]`).
    public var languages: [String]
    public var gender: VoiceGender

    public init(name: String, identifier: String, languages: [String], gender: VoiceGender) {
        self.name = name
        self.identifier = identifier
        self.languages = languages
        self.gender = gender
    }

    /// Whether the voice speaks `language` or a regional variant of it: `es` matches `es` and
    /// `es-419`; `en-us` matches only `en-us` and its variants. Case-insensitive.
    public func speaks(_ language: String) -> Bool {
        let wanted = language.lowercased()
        return self.languages.contains { tag in
            let tag = tag.lowercased()
            return tag == wanted || tag.hasPrefix(wanted + "-")
        }
    }
}

/// The gender a voice declares, if any.
public enum VoiceGender: String, Sendable, Equatable, Hashable {
    case male
    case female
    case unspecified
}
