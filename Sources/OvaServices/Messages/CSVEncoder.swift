/// RFC 4180 CSV for exports that open safely in spreadsheets.
enum CSVEncoder {
    /// One record, CRLF-terminated. Fields with commas, quotes or line breaks are quoted;
    /// fields starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'` so a spreadsheet
    /// shows them as text instead of evaluating a formula someone typed into the contact form.
    static func record(_ fields: [String]) -> String {
        fields.map(Self.field).joined(separator: ",") + "\r\n"
    }

    static func field(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            text = "'" + text
        }
        let needsQuotes = text.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard needsQuotes else { return text }
        return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        result.reserveCapacity(self.utf8.count)
        for character in self {
            if character == target {
                result += replacement
            } else {
                result.append(character)
            }
        }
        return result
    }
}
