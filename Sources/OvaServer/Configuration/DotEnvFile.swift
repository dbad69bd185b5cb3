import Foundation

/// A parsed `.env` file: `KEY=value` lines in the usual dotenv subset.
///
/// Syntax, one assignment per line: blank lines and `#` comments are skipped; an optional
/// `export ` prefix is allowed; names match `[A-Za-z_][A-Za-z0-9_]*`; spaces around `=` are
/// allowed. A value is unquoted (trimmed; ` #` starts a comment), single-quoted (literal) or
/// double-quoted (escapes `\n \t \\ \"`), and may be empty. Nothing is expanded: `$HOME`
/// stays `$HOME`. Quoted values end on their own line.
///
/// Errors name the file and line and what is wrong, never the text of the line: a secret may
/// be on it (a pasted key without its name looks like a line without `=`).
public struct DotEnvFile: Sendable, Equatable {
    /// One `KEY=value` assignment and the (1-based) line it came from.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int

        public init(key: String, value: String, line: Int) {
            self.key = key
            self.value = value
            self.line = line
        }
    }

    /// The path the file was read from (as given, for messages).
    public var path: String
    /// Every assignment in file order, duplicates included.
    public var entries: [Entry]
    /// Keys assigned more than once (the last assignment wins).
    public var warnings: [String]

    /// The values by key; a key assigned twice keeps its last value.
    public var values: [String: String] {
        var values: [String: String] = [:]
        for entry in entries {
            values[entry.key] = entry.value
        }
        return values
    }

    /// The distinct keys in the order they first appear.
    public var keys: [String] {
        var seen: Set<String> = []
        return entries.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
    }

    /// Files larger than this are refused: a `.env` is a few kilobytes, and a large file
    /// here is a wrong path, not configuration.
    public static let maximumSize = 1 << 20

    /// Reads and parses the file at `path`.
    ///
    /// - Parameter variable: the setting that named the file (`OVA_ENV_FILE`), for messages.
    /// - Throws: ``ConfigurationError`` when the file is missing, unreadable, too large, not
    ///   UTF-8, or has a bad line.
    public static func load(path: String, variable: String? = nil) throws(ConfigurationError) -> DotEnvFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unusableFile(variable: variable, path: path, reason: "file does not exist")
        }
        guard !isDirectory.boolValue else {
            throw .unusableFile(variable: variable, path: path, reason: "is a directory, not a .env file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unusableFile(variable: variable, path: path, reason: "cannot be read (check its permissions)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumSize + 1) ?? Data()
        } catch {
            throw .unusableFile(variable: variable, path: path, reason: "cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maximumSize else {
            throw .unusableFile(variable: variable, path: path, reason: "is larger than 1 MiB; is it really a .env file?")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unusableFile(variable: variable, path: path, reason: "is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses `text`; `path` is only used in messages.
    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> DotEnvFile {
        var entries: [Entry] = []
        var warnings: [String] = []
        var firstLine: [String: Int] = [:]
        // Split scalars, not Characters: "\r\n" is one Character and would not split on "\n".
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            var line = rawLine
            if line.last == "\r" { line.removeLast() }
            if index == 0, line.first == "\u{FEFF}" { line.removeFirst() }
            guard let entry = try parseLine(line, number: number, path: path) else { continue }
            if let previous = firstLine[entry.key] {
                warnings.append("\(path): \(entry.key) is set on line \(previous) and again on line \(number); line \(number) wins")
            } else {
                firstLine[entry.key] = number
            }
            entries.append(entry)
        }
        return DotEnvFile(path: path, entries: entries, warnings: warnings)
    }

    // MARK: - One line

    private typealias Scalars = Substring.UnicodeScalarView

    private static func parseLine(_ line: Scalars, number: Int, path: String) throws(ConfigurationError) -> Entry? {
        func failure(_ reason: String) -> ConfigurationError {
            ConfigurationError(kind: .unusableFile, value: path, message: "\(path):\(number): \(reason)")
        }

        var rest = line.drop(while: isBlank)
        if rest.isEmpty || rest.first == "#" { return nil }
        if rest.starts(with: "export".unicodeScalars), let after = rest.dropFirst(6).first, isBlank(after) {
            rest = rest.dropFirst(6).drop(while: isBlank)
        }
        guard let equals = rest.firstIndex(of: "=") else {
            throw failure("expected KEY=value (no '=' on this line)")
        }
        let name = Scalars(rest[..<equals].reversed().drop(while: isBlank).reversed())
        if name.isEmpty {
            throw failure("expected KEY=value (nothing before '=')")
        }
        if let bad = name.enumerated().first(where: { offset, scalar in !isNameScalar(scalar, first: offset == 0) }) {
            // The name is not echoed: a line of a pasted secret can contain '=' (base64).
            throw failure(
                "invalid name before '=': character \(bad.offset + 1) is not allowed "
                    + "(names are letters, digits and _, not starting with a digit)"
            )
        }
        let key = String(String.UnicodeScalarView(name))
        let valueText = rest[rest.index(after: equals)...]

        let value: String
        switch valueText.drop(while: isBlank).first {
        case "'"?:
            let body = valueText.drop(while: isBlank).dropFirst()
            guard let close = body.firstIndex(of: "'") else {
                throw failure("\(key): unterminated single quote (a quoted value must end on the same line)")
            }
            value = String(String.UnicodeScalarView(body[..<close]))
            try expectOnlyComment(after: body[body.index(after: close)...], key: key, failure: failure)
        case "\""?:
            let body = valueText.drop(while: isBlank).dropFirst()
            var unescaped = String.UnicodeScalarView()
            var index = body.startIndex
            var closed = false
            while index < body.endIndex {
                let scalar = body[index]
                if scalar == "\"" {
                    closed = true
                    break
                }
                if scalar == "\\" {
                    let next = body.index(after: index)
                    guard next < body.endIndex else { break }
                    switch body[next] {
                    case "n": unescaped.append("\n")
                    case "t": unescaped.append("\t")
                    case "\\": unescaped.append("\\")
                    case "\"": unescaped.append("\"")
                    default:
                        let column = line.distance(from: line.startIndex, to: index) + 1
                        throw failure(
                            "\(key): unsupported escape at column \(column) (double quotes allow \\n \\t \\\\ \\\"; "
                                + "use single quotes for a literal backslash)"
                        )
                    }
                    index = body.index(after: next)
                    continue
                }
                unescaped.append(scalar)
                index = body.index(after: index)
            }
            guard closed else {
                throw failure("\(key): unterminated double quote (a quoted value must end on the same line)")
            }
            value = String(unescaped)
            try expectOnlyComment(after: body[body.index(after: index)...], key: key, failure: failure)
        default:
            value = unquoted(valueText)
        }
        return Entry(key: key, value: value, line: number)
    }

    /// An unquoted value: up to a `#` that follows a blank (so `pass#word` keeps its `#`), trimmed.
    private static func unquoted(_ text: Scalars) -> String {
        var end = text.endIndex
        var previous: Unicode.Scalar?
        for index in text.indices {
            if text[index] == "#", let previous, isBlank(previous) {
                end = index
                break
            }
            previous = text[index]
        }
        let trimmed = text[..<end].drop(while: isBlank).reversed().drop(while: isBlank).reversed()
        return String(String.UnicodeScalarView(trimmed))
    }

    private static func expectOnlyComment(
        after text: Scalars,
        key: String,
        failure: (String) -> ConfigurationError
    ) throws(ConfigurationError) {
        let rest = text.drop(while: isBlank)
        guard rest.isEmpty || rest.first == "#" else {
            throw failure("\(key): unexpected text after the closing quote (only a # comment may follow)")
        }
    }

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t"
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar, first: Bool) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "_": return true
        case "0"..."9": return !first
        default: return false
        }
    }
}
