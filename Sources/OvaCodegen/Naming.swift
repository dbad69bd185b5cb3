/// Name conversions: schema names to Swift identifiers, and the names protoc-c gives the C
/// types, functions and struct members (which the generated Swift must spell exactly).
public enum Naming {
    // MARK: - Swift

    /// Keywords that need backticks to be used as an identifier.
    static let swiftKeywords: Set<String> = [
        "associatedtype", "borrowing", "class", "consuming", "deinit", "enum", "extension",
        "fileprivate", "func", "import", "init", "inout", "internal", "let", "nonisolated", "open",
        "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "some",
        "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
        "return", "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil",
        "self", "Self", "super", "throws", "true", "try", "_",
    ]

    /// Names that cannot be members even with backticks (or would shadow something every type
    /// has); they get a trailing underscore.
    static let reservedMemberNames: Set<String> = [
        "self", "Self", "Type", "Protocol", "init", "deinit", "subscript", "_",
    ]

    /// protoc's JSON name of a field: underscores removed, the letter after each capitalized.
    public static func jsonName(_ fieldName: String) -> String {
        var result = ""
        result.reserveCapacity(fieldName.utf8.count)
        var capitalizeNext = false
        for character in fieldName {
            if character == "_" {
                capitalizeNext = true
            } else if capitalizeNext {
                result += character.uppercased()
                capitalizeNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// `fail_with` → `failWith`, `WhoAmI` → `whoAmI`, `URLPath` → `urlPath`.
    public static func lowerCamelCase(_ name: String) -> String {
        Self.lowercaseLeadingWord(Self.upperCamelCase(name))
    }

    /// `request` → `Request`, `serving_status` → `ServingStatus`.
    public static func upperCamelCase(_ name: String) -> String {
        var result = ""
        var capitalizeNext = true
        for character in name {
            if character == "_" {
                capitalizeNext = true
            } else if capitalizeNext {
                result += character.uppercased()
                capitalizeNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Lowercases the leading run of capitals, keeping the capital that starts the next word:
    /// `WhoAmI` → `whoAmI`, `URLFetch` → `urlFetch`, `ID` → `id`.
    static func lowercaseLeadingWord(_ name: String) -> String {
        let characters = Array(name)
        var result = ""
        var index = 0
        while index < characters.count, characters[index].isUppercase {
            let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
            if index > 0 && nextIsLower { break }
            result += characters[index].lowercased()
            index += 1
        }
        result += String(characters[index...])
        return result
    }

    /// `AudioEncoding` → `AUDIO_ENCODING`, `HTTPMethod` → `HTTP_METHOD`.
    public static func upperSnakeCase(_ name: String) -> String {
        let characters = Array(name)
        var result = ""
        for (index, character) in characters.enumerated() {
            if index > 0, character.isUppercase {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) {
                    result += "_"
                }
            }
            result += character.uppercased()
        }
        return result
    }

    /// The Swift name of an enum value: the enum's name prefix stripped, then lowerCamelCase.
    /// `AUDIO_ENCODING_LINEAR16` in `AudioEncoding` → `linear16`; `NOT_SERVING` → `notServing`.
    public static func enumCaseName(_ valueName: String, enumName: String) -> String {
        var name = valueName
        let prefix = Self.upperSnakeCase(enumName) + "_"
        if name.hasPrefix(prefix) {
            let rest = String(name.dropFirst(prefix.count))
            if let first = rest.first, !first.isNumber, rest != "_" {
                name = rest
            }
        }
        let words = name.split(separator: "_", omittingEmptySubsequences: true)
        var result = ""
        for (index, word) in words.enumerated() {
            let lower = word.lowercased()
            if index == 0 {
                result += lower
            } else {
                result += lower.prefix(1).uppercased() + lower.dropFirst()
            }
        }
        if result.isEmpty { result = "_" }
        if let first = result.first, first.isNumber { result = "_" + result }
        return result
    }

    /// A name safe to declare as a member: reserved names get a trailing underscore.
    public static func memberName(_ name: String) -> String {
        Self.reservedMemberNames.contains(name) ? name + "_" : name
    }

    /// Backticks around keywords.
    public static func escaped(_ identifier: String) -> String {
        Self.swiftKeywords.contains(identifier) ? "`\(identifier)`" : identifier
    }

    /// A Swift string literal for `text`: Swift source, not JSON (JSON text goes through
    /// `JSONString` in OvaJSONEscaping); other controls are written `\u{7f}`.
    public static func swiftStringLiteral(_ text: String) -> String {
        Self.sourceStringLiteral(text) { "\\u{\(String($0, radix: 16))}" }
    }

    /// A Python string literal for `text`: other controls are written `\x7f` (Python has no
    /// `\u{...}`).
    public static func pythonStringLiteral(_ text: String) -> String {
        Self.sourceStringLiteral(text) { value in
            let hex = String(value, radix: 16)
            return "\\x" + (hex.count < 2 ? "0" + hex : hex)
        }
    }

    /// The double-quoted literal both languages share: `\\ \" \n \r \t`, every other control
    /// (and DEL) in the language's `escape`, everything else as it is (both read UTF-8 source).
    private static func sourceStringLiteral(_ text: String, escape: (UInt32) -> String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += escape(scalar.value)
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    // MARK: - protoc-c

    /// C/C++ keywords: protoc-c appends `_` to struct members with these names.
    static let cKeywords: Set<String> = [
        "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
        "class", "compl", "const", "const_cast", "continue", "default", "delete", "do", "double",
        "dynamic_cast", "else", "enum", "explicit", "extern", "false", "float", "for", "friend",
        "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "not", "not_eq",
        "operator", "or", "or_eq", "private", "protected", "public", "register",
        "reinterpret_cast", "return", "short", "signed", "sizeof", "static", "static_cast",
        "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typeid",
        "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
        "while", "xor", "xor_eq",
    ]

    /// protoc-c's `CamelToLower`: `WhoAmIRequest` → `who_am_irequest`.
    static func cCamelToLower(_ piece: String) -> String {
        var result = ""
        var wasUpper = true
        for character in piece {
            let isUpper = character.isASCII && character.isUppercase
            if isUpper {
                if !wasUpper { result += "_" }
                result += character.lowercased()
            } else {
                result.append(character)
            }
            wasUpper = isUpper
        }
        return result
    }

    /// The C struct/enum type: `ova.v1.EchoResponse.MetadataEntry` →
    /// `Ova__V1__EchoResponse__MetadataEntry`.
    public static func cTypeName(_ fullName: String) -> String {
        // protoc-c's `ToCamel` is the same rule as ours: `ova` → `Ova`, `foo_bar` → `FooBar`.
        fullName.split(separator: ".").map { Self.upperCamelCase(String($0)) }.joined(separator: "__")
    }

    /// The C function prefix: `ova.v1.WhoAmIRequest` → `ova__v1__who_am_irequest`.
    public static func cFunctionPrefix(_ fullName: String) -> String {
        fullName.split(separator: ".").map { Self.cCamelToLower(String($0)) }.joined(separator: "__")
    }

    /// The C struct member of a field: the lowercased name, `_` appended to C/C++ keywords.
    public static func cFieldName(_ fieldName: String) -> String {
        let lower = fieldName.lowercased()
        return Self.cKeywords.contains(lower) ? lower + "_" : lower
    }
}
