/// Text as a JSON string literal (RFC 8259 §7), the one escaper every module that writes JSON
/// or quotes a value uses: protobuf's JSON mapping, access-token claims, the JSON log lines,
/// configuration error messages and the load tools' reports.
///
/// `"` and `\` are escaped; the seven controls with a short form use it (`\b \f \n \r \t`);
/// every other control below U+0020 becomes `\u00XX`. Everything else, DEL and non-ASCII
/// included, is copied as it is (the output is UTF-8, which RFC 8259 requires).
///
/// Not for source code: a Swift or Python string literal has other rules (`\u{7f}`,
/// `\x7f`); the code generator keeps its own `Naming.swiftStringLiteral`.
public enum JSONString {
    /// `text` quoted and escaped: `a"b` → `"a\"b"`.
    public static func quoted(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count + 2)
        Self.appendQuoted(text, to: &output)
        return output
    }

    /// Appends `text` quoted and escaped, for writers that build one string.
    public static func appendQuoted(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                output += "\\u00"
                output.unicodeScalars.append(Self.hexDigits[Int(scalar.value >> 4)])
                output.unicodeScalars.append(Self.hexDigits[Int(scalar.value & 0xF)])
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }

    private static let hexDigits: [Unicode.Scalar] = Array("0123456789abcdef".unicodeScalars)
}
