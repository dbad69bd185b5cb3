import CEspeakNG
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text to speech with espeak-ng: 16-bit mono audio at ``sampleRate`` (22050 Hz), streamed chunk
/// by chunk as it is synthesized.
///
/// espeak-ng keeps its voice, parameters and synthesis buffers in process-wide globals and is not
/// thread-safe, so every espeak call in the process runs on one thread owned by a process-wide
/// runtime (shared by all instances; it is never shut down, like espeak's own state), and
/// requests are synthesized one after another in submission order.
///
/// Backpressure: each request hands chunks (about 100 ms of audio each) to its stream through a
/// buffer of `bufferedChunks`. When the consumer is slower than synthesis (espeak runs many times
/// faster than real time) the synthesis thread blocks until the consumer reads, so a request's
/// memory stays bounded, at the cost of delaying requests queued behind it. A consumer that
/// reads nothing for `stallTimeout` makes its stream fail, freeing the thread; one that cancels
/// or drops the stream ends it at once and aborts the synthesis at its next chunk.
public final class EspeakSynthesizer: Sendable {
    /// The longest text accepted, in characters: about five minutes of speech.
    public static let maxTextLength = 5_000
    /// The speaking rates espeak-ng accepts, in words per minute (espeakRATE_MINIMUM...MAXIMUM).
    public static let rateRange: ClosedRange<Int> = 80...450
    /// espeak-ng's default speaking rate (espeakRATE_NORMAL).
    public static let defaultRate = 175

    /// Sample rate of the synthesized audio (22050 Hz for espeak-ng's voices).
    public let sampleRate: Int
    /// The voices installed, read once at initialization (espeak-ng cannot add voices later).
    private let catalog: [EngineVoice]
    private let runtime: EspeakRuntime
    private let bufferedChunks: Int
    private let stallTimeout: Duration

    /// Initializes espeak-ng (once per process) on its thread.
    ///
    /// - Parameters:
    ///   - dataPath: the `espeak-ng-data` directory (or its parent); `nil` for the library's
    ///     default (Debian: /usr/lib/x86_64-linux-gnu/espeak-ng-data). espeak-ng is initialized
    ///     once per process, so every instance must use the same path.
    ///   - bufferedChunks: chunks held for a slow consumer before synthesis blocks.
    ///   - stallTimeout: how long synthesis waits for a consumer that reads nothing.
    /// - Throws: ``EngineError/unavailable(_:)`` when the data is missing (naming the Debian
    ///   package espeak-ng-data); ``EngineError/invalidInput(_:)`` for a second, different
    ///   `dataPath` in the same process.
    public init(dataPath: String? = nil, bufferedChunks: Int = 16, stallTimeout: Duration = .seconds(30)) async throws(EngineError) {
        if let dataPath, access(dataPath + "/phontab", R_OK) != 0, access(dataPath + "/espeak-ng-data/phontab", R_OK) != 0 {
            throw .unavailable("no espeak-ng data (phontab) in \(dataPath); install the Debian package espeak-ng-data")
        }
        let runtime = EspeakRuntime.shared
        let (sampleRate, catalog) = try await runtime.initialize(dataPath: dataPath)
        self.runtime = runtime
        self.sampleRate = sampleRate
        self.catalog = catalog
        self.bufferedChunks = max(1, bufferedChunks)
        self.stallTimeout = stallTimeout
    }

    /// The installed voices, optionally only those speaking `languagePrefix` or a regional
    /// variant of it (see ``EngineVoice/speaks(_:)``), sorted by name.
    public func voices(languagePrefix: String? = nil) async -> [EngineVoice] {
        guard let languagePrefix, !languagePrefix.isEmpty else { return self.catalog }
        return self.catalog.filter { $0.speaks(languagePrefix) }
    }

    /// Synthesizes `text`, yielding 16-bit mono chunks at ``sampleRate`` as espeak-ng produces
    /// them (about 100 ms each; shorter at the end of a clause).
    ///
    /// - Parameters:
    ///   - voice: a voice name or identifier from ``voices(languagePrefix:)``, optionally with an
    ///     espeak variant (`"English (America)+f3"`); takes precedence over `language`.
    ///   - language: a language tag (`"es"`, `"en"`, `"en-gb"`) used when `voice` is nil;
    ///     English when both are nil.
    ///   - rateWordsPerMinute: 80–450; espeak's default (175) when nil.
    /// - Returns: a stream that fails with ``EngineError/invalidInput(_:)`` for empty text, text
    ///   over ``maxTextLength`` characters or containing NUL, an unknown voice or language, or a
    ///   rate out of range. Cancelling the consuming task ends the stream (`nil`, as with
    ///   AsyncStream) and aborts the synthesis; so does dropping the stream.
    public func synthesize(
        text: String,
        voice: String? = nil,
        language: String? = nil,
        rateWordsPerMinute: Int? = nil
    ) -> AsyncThrowingStream<[Int16], any Error> {
        let selection: VoiceSelection
        do {
            selection = try self.validate(text: text, voice: voice, language: language, rate: rateWordsPerMinute)
        } catch {
            return AsyncThrowingStream { throw error }
        }
        let handoff = ChunkHandoff(capacity: self.bufferedChunks, stallTimeout: self.stallTimeout)
        let job = SynthesisJob(text: text, selection: selection, rate: rateWordsPerMinute ?? Self.defaultRate, handoff: handoff)
        self.runtime.submit(job)
        let lifetime = ConsumerLifetime(handoff)
        return AsyncThrowingStream {
            try await lifetime.handoff.next()
        }
    }

    private func validate(text: String, voice: String?, language: String?, rate: Int?) throws(EngineError) -> VoiceSelection {
        if text.allSatisfy(\.isWhitespace) {
            throw .invalidInput("text is empty")
        }
        // The byte bound rejects a megabyte of text without walking its grapheme clusters
        // (only texts averaging over 16 bytes a character, i.e. long emoji sequences, hit it
        // below the character limit); the character count is the documented limit.
        if text.utf8.count > 16 * Self.maxTextLength {
            throw .invalidInput("text of \(text.utf8.count) bytes exceeds the limit of \(Self.maxTextLength) characters")
        }
        let characters = text.count
        if characters > Self.maxTextLength {
            throw .invalidInput("text of \(characters) characters exceeds the limit of \(Self.maxTextLength)")
        }
        if text.utf8.contains(0) {
            throw .invalidInput("text contains a NUL character")
        }
        if let rate, !Self.rateRange.contains(rate) {
            throw .invalidInput("rate \(rate) words per minute is outside \(Self.rateRange.lowerBound)–\(Self.rateRange.upperBound)")
        }
        if let voice {
            // "name+variant": the variant is an espeak voice file under voices/!v.
            let parts = voice.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
            let base = String(parts[0])
            guard let match = self.catalog.first(where: { $0.name.lowercased() == base.lowercased() || $0.identifier == base }) else {
                throw .invalidInput("unknown voice \"\(voice.prefix(64))\"")
            }
            if parts.count == 2 {
                let variant = String(parts[1])
                guard !variant.isEmpty, variant.count <= 32, variant.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                    throw .invalidInput("invalid voice variant \"\(variant.prefix(32))\"")
                }
                return .name(match.identifier + "+" + variant)
            }
            return .name(match.identifier)
        }
        let tag = language ?? "en"
        guard tag.count <= 16, !tag.isEmpty, tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw .invalidInput("invalid language tag \"\(tag.prefix(16))\"")
        }
        guard self.catalog.contains(where: { $0.speaks(tag) }) else {
            throw .invalidInput("no espeak-ng voice for language \"\(tag)\"")
        }
        return .language(tag.lowercased())
    }
}

/// How a request picks its voice; validated against the catalog before it reaches espeak.
enum VoiceSelection: Sendable {
    case name(String)
    case language(String)
}

/// One synthesis request, as seen by the espeak thread and its callback.
final class SynthesisJob: Sendable {
    let text: String
    let selection: VoiceSelection
    let rate: Int
    let handoff: ChunkHandoff
    /// Why the callback aborted synthesis, if it did; written and read on the espeak thread.
    let refusal = Mutex<ChunkHandoff.Refusal?>(nil)

    init(text: String, selection: VoiceSelection, rate: Int, handoff: ChunkHandoff) {
        self.text = text
        self.selection = selection
        self.rate = rate
        self.handoff = handoff
    }
}

/// Owned only by the stream's closure: when the consumer drops the stream (stops iterating
/// without cancelling its task), this goes away and synthesis stops.
private final class ConsumerLifetime: Sendable {
    let handoff: ChunkHandoff

    init(_ handoff: ChunkHandoff) {
        self.handoff = handoff
    }

    deinit {
        self.handoff.cancel()
    }
}

/// The process's espeak-ng: its one thread and whether (and how) it has been initialized.
final class EspeakRuntime: Sendable {
    static let shared = EspeakRuntime()

    private struct Initialized: Sendable {
        var dataPath: String?
        var sampleRate: Int
        var catalog: [EngineVoice]
    }

    /// One thread: espeak-ng's globals must only ever be touched from it. Never shut down (a
    /// process-wide singleton, like the library state it guards).
    private let thread: NIOThreadPool
    private let initialized = Mutex<Initialized?>(nil)

    private init() {
        self.thread = NIOThreadPool(numberOfThreads: 1)
        self.thread.start()
    }

    func initialize(dataPath: String?) async throws(EngineError) -> (Int, [EngineVoice]) {
        let result: Result<Initialized, EngineError>
        do {
            result = try await self.thread.runIfActive { () -> Result<Initialized, EngineError> in
                // Runs on the espeak thread, so checking and setting cannot race another init.
                if let existing = self.initialized.withLock({ $0 }) {
                    guard existing.dataPath == dataPath else {
                        return .failure(.invalidInput("espeak-ng is already initialized with data path \(existing.dataPath ?? "(default)")"))
                    }
                    return .success(existing)
                }
                // DONT_EXIT: without it espeak-ng calls exit() when its data is missing.
                let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, dataPath, espeakINITIALIZE_DONT_EXIT)
                guard rate > 0 else {
                    return .failure(.unavailable("espeak-ng could not load its data (\(dataPath ?? "default path")); install the Debian package espeak-ng-data"))
                }
                espeak_SetSynthCallback(espeakCallback)
                let state = Initialized(dataPath: dataPath, sampleRate: Int(rate), catalog: Self.listVoices())
                self.initialized.withLock { $0 = state }
                return .success(state)
            }
        } catch {
            throw .unavailable("the espeak-ng thread is not running")
        }
        let state = try result.get()
        return (state.sampleRate, state.catalog)
    }

    func submit(_ job: SynthesisJob) {
        self.thread.submit { state in
            guard state == .active else {
                job.handoff.finish(throwing: EngineError.unavailable("the espeak-ng thread is not running"))
                return
            }
            Self.run(job)
        }
    }

    /// Runs on the espeak thread.
    private static func run(_ job: SynthesisJob) {
        // A consumer that gave up while the job was queued costs nothing.
        if job.handoff.isCancelled {
            job.handoff.finish()
            return
        }
        let selected: espeak_ERROR
        switch job.selection {
        case .name(let name):
            selected = espeak_SetVoiceByName(name)
        case .language(let tag):
            selected = tag.withCString { tag in
                var spec = espeak_VOICE()
                spec.languages = tag
                return espeak_SetVoiceByProperties(&spec)
            }
        }
        guard selected == EE_OK else {
            job.handoff.finish(throwing: EngineError.invalidInput("espeak-ng could not select the voice (error \(selected.rawValue))"))
            return
        }
        // Parameters are global: set the rate on every request so one request's rate never
        // leaks into the next.
        espeak_SetParameter(espeakRATE, Int32(job.rate), 0)
        let context = Unmanaged.passRetained(job)
        defer { context.release() }
        let status = job.text.withCString { text in
            espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, context.toOpaque())
        }
        let refusal = job.refusal.withLock { $0 }
        switch refusal {
        case .cancelled:
            job.handoff.finish()
        case .stalled:
            job.handoff.finish(throwing: EngineError.engineFailure("synthesis aborted: the consumer read nothing for \(job.handoff.stallTimeoutDescription)"))
        case nil:
            if status == EE_OK {
                job.handoff.finish()
            } else {
                job.handoff.finish(throwing: EngineError.engineFailure("espeak_Synth failed (error \(status.rawValue))"))
            }
        }
    }

    /// Runs on the espeak thread: copies the voice list out of espeak's own memory.
    private static func listVoices() -> [EngineVoice] {
        guard let list = espeak_ListVoices(nil) else { return [] }
        var voices: [EngineVoice] = []
        var index = 0
        while let entry = list[index] {
            index += 1
            let voice = entry.pointee
            let name = voice.name.map { String(cString: $0) } ?? ""
            let identifier = voice.identifier.map { String(cString: $0) } ?? name
            let gender: VoiceGender
            switch voice.gender {
            case 1: gender = .male
            case 2: gender = .female
            default: gender = .unspecified
            }
            voices.append(EngineVoice(name: name, identifier: identifier, languages: Self.languages(voice.languages), gender: gender))
        }
        return voices.sorted { $0.name < $1.name }
    }

    /// espeak's language list: (priority byte, NUL-terminated tag) pairs, ended by a zero
    /// priority byte; sorted here by priority, lowest (most preferred) first.
    private static func languages(_ list: UnsafePointer<CChar>?) -> [String] {
        guard var cursor = list else { return [] }
        var tagged: [(priority: UInt8, tag: String)] = []
        // A voice lists a handful of languages; the bound guards against a malformed list.
        while tagged.count < 32 {
            let priority = UInt8(bitPattern: cursor.pointee)
            if priority == 0 { break }
            cursor += 1
            let tag = String(cString: cursor)
            tagged.append((priority, tag))
            cursor += strlen(cursor) + 1
        }
        return tagged.sorted { $0.priority < $1.priority }.map(\.tag)
    }
}

/// espeak-ng's synthesis callback: called on the espeak thread, inside `espeak_Synth`, with
/// each buffer of audio. Returning 1 aborts the synthesis.
///
/// Measured: espeak-ng's output depends slightly on earlier requests (the same text after a
/// long one came out up to 7% longer, aborted or not); the library offers no reset short of
/// espeak_Terminate + espeak_Initialize, which deadlocks in Debian's 1.51 build.
private let espeakCallback: @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?) -> Int32 = { samples, count, events in
    // Every event (including the list terminator) carries the user_data given to espeak_Synth.
    guard let userData = events?.pointee.user_data else { return 0 }
    let job = Unmanaged<SynthesisJob>.fromOpaque(userData).takeUnretainedValue()
    guard let samples, count > 0 else {
        return job.handoff.isCancelled ? 1 : 0
    }
    let chunk = Array(UnsafeBufferPointer(start: samples, count: Int(count)))
    if case .failure(let refusal) = job.handoff.push(chunk) {
        job.refusal.withLock { $0 = refusal }
        return 1
    }
    return 0
}
