import OvaJSONEscaping

/// A parsed JSON document. Numbers keep their source text so 64-bit integers parse exactly.
enum JSONValue {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order.
    case object([JSONMember])

    /// What the value is, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// One member of a JSON object.
struct JSONMember {
    let key: String
    let value: JSONValue
}

/// A strict RFC 8259 parser over UTF-8 bytes, with a nesting limit.
struct JSONParser {
    static let maximumDepth = 100

    private let bytes: [UInt8]
    private var index = 0

    private init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    static func parse(_ text: String) throws(ProtobufError) -> JSONValue {
        var parser = JSONParser(text)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else {
            throw parser.error("unexpected characters after the JSON value")
        }
        return value
    }

    private func error(_ message: String) -> ProtobufError {
        ProtobufError("invalid JSON at offset \(self.index): \(message)")
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    private var current: UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    private mutating func expectLiteral(_ literal: StaticString, value: JSONValue) throws(ProtobufError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw self.error("unexpected end of input") }
        let matches = literal.withUTF8Buffer { expected in
            expected.indices.allSatisfy { expected[$0] == self.bytes[self.index + $0] }
        }
        guard matches else { throw self.error("unexpected character") }
        self.index += count
        return value
    }

    private mutating func parseValue(depth: Int) throws(ProtobufError) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw self.error("nesting deeper than \(Self.maximumDepth)") }
        guard let byte = self.current else { throw self.error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try self.parseObject(depth: depth)
        case UInt8(ascii: "["): return try self.parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): return try self.expectLiteral("true", value: .bool(true))
        case UInt8(ascii: "f"): return try self.expectLiteral("false", value: .bool(false))
        case UInt8(ascii: "n"): return try self.expectLiteral("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try self.parseNumber())
        default: throw self.error("unexpected character")
        }
    }

    private mutating func parseObject(depth: Int) throws(ProtobufError) -> JSONValue {
        self.index += 1  // {
        var members: [JSONMember] = []
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "\"") else { throw self.error("expected a member name") }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.current == UInt8(ascii: ":") else { throw self.error("expected ':'") }
            self.index += 1
            self.skipWhitespace()
            let value = try self.parseValue(depth: depth + 1)
            members.append(JSONMember(key: key, value: value))
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return .object(members)
            default: throw self.error("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(ProtobufError) -> JSONValue {
        self.index += 1  // [
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.index += 1
            return .array(elements)
        }
        while true {
            self.skipWhitespace()
            elements.append(try self.parseValue(depth: depth + 1))
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return .array(elements)
            default: throw self.error("expected ',' or ']'")
            }
        }
    }

    private mutating func parseNumber() throws(ProtobufError) -> String {
        let start = self.index
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.current, Self.isDigit(first) else { throw self.error("invalid number") }
        if first == UInt8(ascii: "0") {
            self.index += 1
        } else {
            while let byte = self.current, Self.isDigit(byte) { self.index += 1 }
        }
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            guard let byte = self.current, Self.isDigit(byte) else { throw self.error("invalid number") }
            while let byte = self.current, Self.isDigit(byte) { self.index += 1 }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
            guard let byte = self.current, Self.isDigit(byte) else { throw self.error("invalid number") }
            while let byte = self.current, Self.isDigit(byte) { self.index += 1 }
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func parseHex4() throws(ProtobufError) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw self.error("invalid \\u escape")
            }
            value = value << 4 | digit
            self.index += 1
        }
        return value
    }

    private mutating func parseString() throws(ProtobufError) -> String {
        self.index += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard let byte = self.current else { throw self.error("unterminated string") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escape = self.current else { throw self.error("unterminated string") }
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): utf8.append(0x22)
                case UInt8(ascii: "\\"): utf8.append(0x5C)
                case UInt8(ascii: "/"): utf8.append(0x2F)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try self.parseHex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard self.index + 2 <= self.bytes.count,
                              self.bytes[self.index] == UInt8(ascii: "\\"),
                              self.bytes[self.index + 1] == UInt8(ascii: "u")
                        else { throw self.error("unpaired surrogate in \\u escape") }
                        self.index += 2
                        let low = try self.parseHex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw self.error("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw self.error("unpaired surrogate in \\u escape")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw self.error("invalid \\u escape") }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw self.error("invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw self.error("control character in string") }
                utf8.append(byte)
            }
        }
    }
}

/// Appends JSON text, compact or pretty (two-space indentation).
struct JSONWriter {
    private(set) var output = ""
    let pretty: Bool
    /// One entry per open container: whether it has a member yet.
    private var containers: [Bool] = []
    /// A member name was just written; its value follows without a separator.
    private var afterKey = false

    init(pretty: Bool) {
        self.pretty = pretty
    }

    private mutating func newline() {
        guard self.pretty else { return }
        self.output += "\n"
        for _ in 0..<self.containers.count { self.output += "  " }
    }

    /// Separator and indentation before a member of the innermost container.
    private mutating func separate() {
        guard let last = self.containers.last else { return }
        if last { self.output += "," }
        self.containers[self.containers.count - 1] = true
        self.newline()
    }

    private mutating func beginValue() {
        if self.afterKey {
            self.afterKey = false
        } else {
            self.separate()
        }
    }

    mutating func beginObject() {
        self.beginValue()
        self.output += "{"
        self.containers.append(false)
    }

    mutating func endObject() {
        self.close("}")
    }

    mutating func beginArray() {
        self.beginValue()
        self.output += "["
        self.containers.append(false)
    }

    mutating func endArray() {
        self.close("]")
    }

    private mutating func close(_ bracket: String) {
        let hadMembers = self.containers.removeLast()
        if hadMembers { self.newline() }
        self.output += bracket
    }

    /// Starts an object member; its value follows.
    mutating func key(_ name: String) {
        self.separate()
        JSONString.appendQuoted(name, to: &self.output)
        self.output += self.pretty ? ": " : ":"
        self.afterKey = true
    }

    /// A number, `true`/`false` or other literal.
    mutating func raw(_ text: String) {
        self.beginValue()
        self.output += text
    }

    mutating func string(_ text: String) {
        self.beginValue()
        JSONString.appendQuoted(text, to: &self.output)
    }
}

/// Standard base64 (RFC 4648), as the proto3 JSON mapping uses for bytes.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(Self.alphabet[Int(value >> 18 & 63)])
            output.append(Self.alphabet[Int(value >> 12 & 63)])
            output.append(Self.alphabet[Int(value >> 6 & 63)])
            output.append(Self.alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            var value = UInt32(bytes[index]) << 16
            if rest == 2 { value |= UInt32(bytes[index + 1]) << 8 }
            output.append(Self.alphabet[Int(value >> 18 & 63)])
            output.append(Self.alphabet[Int(value >> 12 & 63)])
            output.append(rest == 2 ? Self.alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes standard or URL-safe base64, with or without padding; nil when invalid.
    static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        var padding = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default:
                return nil
            }
            guard padding == 0 else { return nil }  // data after padding
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // 6 leftover bits cannot encode anything; padding, when present, must complete a quantum.
        guard bits < 6, padding <= 2 else { return nil }
        if padding > 0, (text.utf8.count % 4) != 0 { return nil }
        return output
    }
}
