import NIOCore
import OvaTestSupport
import OvaWire
import Testing

/// Random but valid frames, as a client or a server would send them.
struct FrameGenerator {
    var rng: SplitMix64

    init(seed: UInt64) {
        self.rng = SplitMix64(seed: seed)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self.rng)
    }

    mutating func chance(_ percent: Int) -> Bool {
        self.int(0...99) < percent
    }

    mutating func bytes(_ count: ClosedRange<Int>) -> [UInt8] {
        (0..<self.int(count)).map { _ in UInt8.random(in: 0...255, using: &self.rng) }
    }

    mutating func string(maxCharacters: Int) -> String {
        let alphabet: [Character] = ["a", "Z", "0", "/", ".", " ", "\n", "\u{0}", "é", "ß", "中", "😀", "👩‍💻", "\u{301}"]
        return String((0..<self.int(0...maxCharacters)).map { _ in alphabet[self.int(0...(alphabet.count - 1))] })
    }

    mutating func streamID() -> UInt32 {
        UInt32(self.int(0...0x3FFF_FFFF)) * 2 + 1
    }

    mutating func statusCode() -> StatusCode {
        StatusCode.all[self.int(0...16)]
    }

    mutating func metadata() -> Metadata {
        let keyCharacters = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        var metadata = Metadata()
        for _ in 0..<self.int(0...5) {
            var key = String((0..<self.int(1...20)).map { _ in keyCharacters[self.int(0...(keyCharacters.count - 1))] })
            if self.chance(30) {
                key += "-bin"
                metadata.addBinary(self.bytes(0...40), forKey: key)
            } else {
                if key.hasSuffix("-bin") { key += "x" }
                metadata.addString(self.string(maxCharacters: 30), forKey: key)
            }
        }
        return metadata
    }

    mutating func settings() -> Settings {
        var settings = Settings()
        if self.chance(50) { settings.maxFrameSize = self.int(Settings.minFrameSize...Settings.maxFrameSizeLimit) }
        if self.chance(50) { settings.maxConcurrentStreams = self.int(0...Int(UInt32.max)) }
        if self.chance(50) { settings.initialStreamWindow = self.int(0...Settings.maxWindow) }
        if self.chance(50) { settings.initialConnectionWindow = self.int(0...Settings.maxWindow) }
        if self.chance(50) { settings.maxMessageSize = self.int(0...Int(UInt32.max)) }
        if self.chance(50) { settings.maxMetadataSize = self.int(0...Int(UInt32.max)) }
        return settings
    }

    /// A frame `sender` may send.
    mutating func frame(from sender: ConnectionRole) -> Frame {
        switch self.int(0...8) {
        case 0:
            return self.chance(50) ? .settings(self.settings()) : .settingsAck
        case 1:
            switch sender {
            case .client:
                let timeout: UInt64? = self.chance(30) ? nil : UInt64(self.int(1...Int.max))
                let path = "x" + self.string(maxCharacters: 40)
                return .requestHeaders(
                    streamID: self.streamID(),
                    RequestHeaders(path: path, timeoutMicroseconds: timeout, metadata: self.metadata()),
                    endStream: self.chance(20)
                )
            case .server:
                return .responseHeaders(streamID: self.streamID(), self.metadata())
            }
        case 2:
            let choices: [FrameFlags] = sender == .client ? [[], .continued, .endStream] : [[], .continued]
            let flags = choices[self.int(0...(choices.count - 1))]
            return .message(streamID: self.streamID(), payload: ByteBuffer(bytes: self.bytes(0...300)), flags: flags)
        case 3:
            switch sender {
            case .client:
                return .halfClose(streamID: self.streamID())
            case .server:
                return .trailers(
                    streamID: self.streamID(),
                    Trailers(code: self.statusCode(), message: self.string(maxCharacters: 30), details: self.bytes(0...50), metadata: self.metadata())
                )
            }
        case 4:
            return .reset(streamID: self.streamID(), code: self.statusCode())
        case 5:
            return .windowUpdate(streamID: self.chance(30) ? 0 : self.streamID(), increment: UInt32(self.int(1...Settings.maxWindow)))
        case 6:
            return .ping(data: UInt64.random(in: 0...UInt64.max, using: &self.rng), ack: self.chance(50))
        default:
            return .goAway(lastStreamID: self.chance(20) ? 0 : self.streamID(), code: self.statusCode(), debugMessage: self.string(maxCharacters: 30))
        }
    }
}

@Suite("Randomized")
struct RandomizedTests {
    @Test("random frames of every kind survive encode, split-up decode and re-encode", arguments: [ConnectionRole.client, .server])
    func roundTrip(_ sender: ConnectionRole) throws {
        var generator = FrameGenerator(seed: sender == .client ? 1 : 2)
        var seenTypes = Set<UInt8>()
        for iteration in 0..<300 {
            let frames = (0..<generator.int(1...8)).map { _ in generator.frame(from: sender) }
            var bytes = encodeFrames(frames)
            for frame in frames {
                #expect(FrameEncoder.encode(frame).readableBytes == FrameHeader.size + FrameEncoder.payloadLength(of: frame))
                seenTypes.insert(FrameEncoder.encode(frame).getInteger(at: 3, as: UInt8.self) ?? 0xFF)
            }
            let receiver: ConnectionRole = sender == .client ? .server : .client
            if sender == .client { bytes = ConnectionPreface.bytes + bytes }
            let feeding = Feeding.randomSplits(seed: UInt64(iteration))
            let result = try decodeFrames(bytes, decoder: FrameDecoder(role: receiver), feeding: feeding)
            #expect(result.frames == frames, "iteration \(iteration)")
            #expect(result.leftover == 0)
            #expect(encodeFrames(result.frames) == encodeFrames(frames))
        }
        // HALF_CLOSE only flows client to server, TRAILERS only server to client.
        let notSent: FrameType = sender == .client ? .trailers : .halfClose
        #expect(seenTypes == Set(FrameType.allCases.filter { $0 != notSent }.map(\.rawValue)))
    }

    /// Hostile input: random bytes and mutated valid frames. The decoder must never crash, must
    /// only throw WireError (typed throws), and whatever it does decode must be stable: encoding
    /// a decoded frame and decoding it again gives the same frame.
    @Test("2,000 random and mutated inputs never crash the decoder", arguments: [ConnectionRole.client, .server])
    func fuzz(_ receiver: ConnectionRole) throws {
        var generator = FrameGenerator(seed: receiver == .client ? 101 : 202)
        let sender: ConnectionRole = receiver == .client ? .server : .client
        var decodedFrames = 0
        var errors = 0
        for iteration in 0..<1_000 {
            var bytes: [UInt8]
            if iteration.isMultiple(of: 2) {
                // Random bytes, with plausible small lengths most of the time.
                bytes = generator.bytes(0...120)
                if generator.chance(70), bytes.count >= 3 {
                    bytes[0] = 0
                    bytes[1] = 0
                    bytes[2] = UInt8(max(0, bytes.count - 9) & 0xFF)
                    if bytes.count > 3 { bytes[3] = UInt8(generator.int(0...10)) }
                }
            } else {
                // Valid frames with a few bytes changed, removed or added.
                bytes = encodeFrames((0..<generator.int(1...3)).map { _ in generator.frame(from: sender) })
                for _ in 0..<generator.int(1...4) {
                    guard !bytes.isEmpty else { break }
                    let index = generator.int(0...(bytes.count - 1))
                    switch generator.int(0...3) {
                    case 0: bytes[index] = UInt8(generator.int(0...255))
                    case 1: bytes[index] ^= UInt8(1 << generator.int(0...7))
                    case 2: bytes.remove(at: index)
                    default: bytes.insert(UInt8(generator.int(0...255)), at: index)
                    }
                }
            }
            if receiver == .server, generator.chance(90) { bytes = ConnectionPreface.bytes + bytes }

            let decoder = FrameDecoder(role: receiver, maxMetadataSize: generator.chance(20) ? 40 : 16_384)
            do {
                let result = try decodeFrames(bytes, decoder: decoder, feeding: .randomSplits(seed: UInt64(iteration)))
                #expect(result.leftover <= bytes.count)
                decodedFrames += result.frames.count
                // Stability: re-encode and decode each frame again.
                let prefix = receiver == .server ? ConnectionPreface.bytes : []
                let again = try decodeFrames(prefix + encodeFrames(result.frames), decoder: FrameDecoder(role: receiver)).frames
                #expect(again == result.frames, "iteration \(iteration)")
            } catch {
                errors += 1
                #expect(!error.detail.isEmpty)
            }
        }
        // The inputs exercise both paths.
        #expect(decodedFrames > 100)
        #expect(errors > 100)
    }
}
