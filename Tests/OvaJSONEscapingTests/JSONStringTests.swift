import Foundation
import Testing

@testable import OvaJSONEscaping

@Suite struct JSONStringTests {
    @Test func quotesAndBackslashAreEscaped() {
        #expect(JSONString.quoted(#"say "hi" \ bye"#) == #""say \"hi\" \\ bye""#)
        #expect(JSONString.quoted("") == #""""#)
    }

    @Test func everyControlCharacterIsEscaped() {
        let short: [UInt32: String] = [0x08: #"\b"#, 0x09: #"\t"#, 0x0A: #"\n"#, 0x0C: #"\f"#, 0x0D: #"\r"#]
        for value in UInt8(0)..<0x20 {
            let scalar = Unicode.Scalar(value)
            let expected = short[UInt32(value)] ?? String(format: "\\u%04x", UInt32(value))
            #expect(JSONString.quoted(String(Character(scalar))) == "\"\(expected)\"", "U+\(String(value, radix: 16))")
        }
    }

    @Test func everythingElsePassesThrough() {
        // DEL, non-ASCII, a character outside the BMP and a combining sequence are valid JSON as UTF-8.
        let text = "\u{7F}/é日本🎙️e\u{301}"
        #expect(JSONString.quoted(text) == "\"\(text)\"")
    }

    @Test func appendsToExistingOutput() {
        var output = "{\"k\":"
        JSONString.appendQuoted("v\n", to: &output)
        #expect(output == #"{"k":"v\n""#)
    }

    /// Foundation's own parser reads back exactly the text that went in, for every scalar
    /// class the escaper treats differently.
    @Test func roundTripsThroughJSONSerialization() throws {
        var text = (0..<0x20).map { String(Character(Unicode.Scalar(UInt8($0)))) }.joined()
        text += "\"\\/\u{7F}é🎙️"
        let literal = JSONString.quoted(text)
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(decoded == [text])
    }
}
