import OvaTestSupport
import Testing

@testable import OvaProviders

@Suite("ServerSentEventParser")
struct ServerSentEventParserTests {
    /// A stream exercising every rule: CRLF, CR and LF line ends, comments, multi-line data,
    /// `event` and `id` fields, a field without a colon, no space after the colon, an event
    /// without data (not dispatched), UTF-8 split across chunks, and [DONE].
    static let stream = Array(
        (": keep-alive\r\n"
            + "data: {\"a\":1}\r\n\r\n"
            + "event: update\nid: 7\ndata: line one\ndata:line two\n\n"
            + "data: ñandú 🦙\r\r"
            + "event: nothing\n\n"
            + "data\n\n"
            + "retry: 100\nunknown: x\ndata:  two spaces\n\n"
            + "data: [DONE]\n\n").utf8
    )

    static let expected: [ServerSentEvent] = [
        ServerSentEvent(data: "{\"a\":1}"),
        ServerSentEvent(event: "update", data: "line one\nline two", id: "7"),
        ServerSentEvent(data: "ñandú 🦙", id: "7"),
        ServerSentEvent(data: "", id: "7"),
        ServerSentEvent(data: " two spaces", id: "7"),
        ServerSentEvent(data: "[DONE]", id: "7"),
    ]

    static func parse(_ chunks: [ArraySlice<UInt8>]) throws -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for chunk in chunks {
            events += try parser.feed(chunk)
        }
        return events
    }

    @Test func wholeStreamAtOnce() throws {
        let events = try Self.parse([Self.stream[...]])
        #expect(events == Self.expected)
        #expect(events.last?.isDone == true)
        #expect(events.dropLast().allSatisfy { !$0.isDone })
    }

    @Test func everySplitIntoTwoChunks() throws {
        for split in 0...Self.stream.count {
            let events = try Self.parse([Self.stream[..<split], Self.stream[split...]])
            #expect(events == Self.expected, "split at \(split)")
        }
    }

    @Test func oneByteAtATime() throws {
        let events = try Self.parse(Self.stream.indices.map { Self.stream[$0...$0] })
        #expect(events == Self.expected)
    }

    @Test func randomChunkings() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for round in 0..<200 {
            var chunks: [ArraySlice<UInt8>] = []
            var start = 0
            while start < Self.stream.count {
                let length = Int.random(in: 1...12, using: &generator)
                let end = min(Self.stream.count, start + length)
                chunks.append(Self.stream[start..<end])
                start = end
            }
            #expect(try Self.parse(chunks) == Self.expected, "round \(round)")
        }
    }

    @Test func crAtChunkEndFollowedByLFIsOneLineEnd() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        // The LF completes the CR of the previous chunk; the next CR LF is the blank line.
        #expect(try parser.feed(Array("\n\r\n".utf8)) == [ServerSentEvent(data: "a")])
    }

    @Test func incompleteEventAtTheEndIsNotDispatched() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: complete\n\ndata: cut off\n".utf8)) == [ServerSentEvent(data: "complete")])
    }

    @Test func byteOrderMarkIsSkippedOnlyAtTheStart() throws {
        var parser = ServerSentEventParser()
        let events = try parser.feed([0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8))
        #expect(events == [ServerSentEvent(data: "x")])
        var split = ServerSentEventParser()
        #expect(try split.feed([0xEF]).isEmpty)
        #expect(try split.feed([0xBB, 0xBF] + Array("data: y\n\n".utf8)) == [ServerSentEvent(data: "y")])
    }

    @Test func overlongLineIsRefused() throws {
        var parser = ServerSentEventParser(maxEventBytes: 100)
        #expect(throws: ProviderError.tooLarge) {
            _ = try parser.feed([UInt8](repeating: UInt8(ascii: "a"), count: 200))
        }
    }

    @Test func overlongEventIsRefused() throws {
        var parser = ServerSentEventParser(maxEventBytes: 100)
        let line = Array("data: \(String(repeating: "b", count: 60))\n".utf8)
        #expect(throws: ProviderError.tooLarge) {
            _ = try parser.feed(line + line)
        }
    }
}
