import Foundation
import Logging
import Testing

@testable import OvaServer

// MARK: - Syntax

@Suite("DotEnvFile")
struct DotEnvFileTests {
    private func parse(_ text: String) throws -> DotEnvFile {
        try DotEnvFile.parse(text, path: "/etc/ova/.env")
    }

    private func values(_ text: String) throws -> [String: String] {
        try parse(text).values
    }

    @Test func blankLinesAndCommentsAreSkipped() throws {
        let file = try parse("\n# a comment\n   # an indented comment\n\t\nA=1\n\n")
        #expect(file.entries == [DotEnvFile.Entry(key: "A", value: "1", line: 5)])
        #expect(file.warnings.isEmpty)
    }

    @Test func exportPrefixIsOptional() throws {
        let file = try parse("export A=1\nexport\tB=2\nC=3\nexportD=4\nexport=5")
        #expect(file.keys == ["A", "B", "C", "exportD", "export"])
        #expect(file.values["B"] == "2")
        #expect(file.values["export"] == "5")
    }

    @Test func unquotedValuesAreTrimmedAndEndAtABlankHash() throws {
        let parsed = try values(
            """
            A=  hello world  \t
            B=pass#word
            C=value # a comment
            D=value\t# a comment after a tab
            E= # only a comment
            F=
            G = spaced around the equals sign
            H=#starts with a hash
            I=it's "fine"
            """
        )
        #expect(parsed["A"] == "hello world")
        #expect(parsed["B"] == "pass#word")
        #expect(parsed["C"] == "value")
        #expect(parsed["D"] == "value")
        #expect(parsed["E"] == "")
        #expect(parsed["F"] == "")
        #expect(parsed["G"] == "spaced around the equals sign")
        #expect(parsed["H"] == "#starts with a hash")
        #expect(parsed["I"] == "it's \"fine\"")
    }

    @Test func singleQuotesAreLiteral() throws {
        let parsed = try values(#"A=' a \n $HOME # not a comment '   # a comment"# + "\nB=''\nC = 'x'")
        #expect(parsed["A"] == #" a \n $HOME # not a comment "#)
        #expect(parsed["B"] == "")
        #expect(parsed["C"] == "x")
    }

    @Test func doubleQuotesTakeFourEscapes() throws {
        let parsed = try values(#"A="one\ntwo\tthree \\ \"four\" 'five' # six" # a comment"# + "\n" + #"B="""#)
        #expect(parsed["A"] == "one\ntwo\tthree \\ \"four\" 'five' # six")
        #expect(parsed["B"] == "")
    }

    @Test func nothingIsExpanded() throws {
        let parsed = try values(#"A=$HOME"# + "\n" + #"B="${HOME}/x""# + "\n" + #"C='$(id)'"#)
        #expect(parsed["A"] == "$HOME")
        #expect(parsed["B"] == "${HOME}/x")
        #expect(parsed["C"] == "$(id)")
    }

    /// The example in docs/CONFIGURATION.md, "`.env` files".
    @Test func theDocumentedExample() throws {
        let parsed = try values(
            #"""
            # A comment line. Blank lines are ignored.
            export OVA_LISTEN=:7443            # `export ` is optional; ` #` starts a comment
            OVA_DATA_DIR = /var/lib/ova        # spaces around `=` are allowed; unquoted values are trimmed
            JWT_SECRET_KEY='a#literal $value'  # single quotes: taken literally
            HF_MODELO_LLM="name \"quoted\""    # double quotes: \n \t \\ \" are the only escapes
            OVA_LOG_FORMAT=                    # an empty value (counts as unset)
            """#
        )
        #expect(parsed == [
            "OVA_LISTEN": ":7443",
            "OVA_DATA_DIR": "/var/lib/ova",
            "JWT_SECRET_KEY": "a#literal $value",
            "HF_MODELO_LLM": "name \"quoted\"",
            "OVA_LOG_FORMAT": "",
        ])
    }

    @Test func windowsLineEndingsAndAByteOrderMark() throws {
        let file = try parse("\u{FEFF}A=1\r\nB='2'\r\n# c\r\nC=\"3\"\r\n")
        #expect(file.entries == [
            DotEnvFile.Entry(key: "A", value: "1", line: 1),
            DotEnvFile.Entry(key: "B", value: "2", line: 2),
            DotEnvFile.Entry(key: "C", value: "3", line: 4),
        ])
    }

    @Test func entriesKeepFileOrderAndLineNumbers() throws {
        let file = try parse("Z=1\n# c\nA=2\n\nM=3")
        #expect(file.entries.map(\.key) == ["Z", "A", "M"])
        #expect(file.entries.map(\.line) == [1, 3, 5])
    }

    @Test func aDuplicateKeyKeepsTheLastValueAndWarnsWithoutValues() throws {
        let file = try parse("TOKEN=first-secret\nOTHER=x\nTOKEN=second-secret\n")
        #expect(file.values["TOKEN"] == "second-secret")
        #expect(file.keys == ["TOKEN", "OTHER"])
        #expect(file.warnings.count == 1)
        let warning = try #require(file.warnings.first)
        #expect(warning.contains("/etc/ova/.env"))
        #expect(warning.contains("TOKEN"))
        #expect(warning.contains("line 1") && warning.contains("line 3"))
        #expect(!warning.contains("secret"))
    }

    // MARK: Errors

    struct BadLine: Sendable, CustomTestStringConvertible {
        var text: String
        var line: Int
        var says: String
        var testDescription: String { says }
    }

    static let badLines: [BadLine] = [
        BadLine(text: "A=1\njust some words\n", line: 2, says: "no '='"),
        BadLine(text: "A=1\n\n1BAD=x\n", line: 3, says: "invalid name"),
        BadLine(text: "BAD-NAME=x", line: 1, says: "character 4 is not allowed"),
        BadLine(text: "# c\n=x", line: 2, says: "nothing before '='"),
        BadLine(text: "A='open\nB=1'", line: 1, says: "unterminated single quote"),
        BadLine(text: "A=1\nB=\"open", line: 2, says: "unterminated double quote"),
        BadLine(text: #"A="ends in a backslash\"#, line: 1, says: "unterminated double quote"),
        BadLine(text: #"A="x" trailing"#, line: 1, says: "unexpected text after the closing quote"),
        BadLine(text: "A=1\nB='x'y", line: 2, says: "unexpected text after the closing quote"),
        BadLine(text: #"A="C:\path""#, line: 1, says: "unsupported escape at column 6"),
        BadLine(text: "export FOO", line: 1, says: "no '='"),
    ]

    @Test(arguments: badLines)
    func aBadLineNamesTheFileAndLine(_ bad: BadLine) throws {
        let error = try #require(throws: ConfigurationError.self) { try parse(bad.text) }
        #expect(error.kind == .unusableFile)
        #expect(error.message.hasPrefix("/etc/ova/.env:\(bad.line): "), "\(error.message)")
        #expect(error.message.contains(bad.says), "\(error.message)")
    }

    static let linesWithASecret: [String] = [
        "s3cr3tVALUE",
        "s3cr3t/VALUE+abc==",
        "s3cr3t VALUE=x",
        "KEY='s3cr3tVALUE",
        "KEY=\"s3cr3tVALUE",
        "KEY=\"s3cr3tVALUE\" s3cr3tVALUE",
        "KEY='s3cr3tVALUE's3cr3tVALUE",
        #"KEY="s3cr3t\VALUE""#,
    ]

    @Test(arguments: linesWithASecret)
    func anErrorNeverContainsTheLine(_ line: String) throws {
        let error = try #require(throws: ConfigurationError.self) { try parse("A=1\n" + line + "\n") }
        #expect(error.message.hasPrefix("/etc/ova/.env:2: "))
        #expect(!error.message.contains("s3cr3t"), "\(error.message)")
        #expect(!error.message.contains("VALUE"), "\(error.message)")
        #expect(error.value == "/etc/ova/.env")
    }

    @Test func loadRefusesADirectoryAndNonUTF8() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let directoryError = try #require(throws: ConfigurationError.self) { try DotEnvFile.load(path: temp.path) }
        #expect(directoryError.message.contains("is a directory"))

        let binary = temp.file("binary.env")
        try Data([0x41, 0x3D, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: binary))
        let binaryError = try #require(throws: ConfigurationError.self) { try DotEnvFile.load(path: binary) }
        #expect(binaryError.message.contains("not UTF-8"))
    }
}

// MARK: - Merging with the environment

@Suite("ProcessEnvironment")
struct ProcessEnvironmentTests {
    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func withoutADotEnvTheEnvironmentIsUnchanged() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let resolved = try ProcessEnvironment.resolve(environment: ["HOME": "/home/ana"], workingDirectory: temp.path)
        #expect(resolved.environment == ["HOME": "/home/ana"])
        #expect(resolved.files.isEmpty)
        #expect(resolved.warnings.isEmpty)
    }

    @Test func theDotEnvInTheWorkingDirectoryIsRead() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("OVA_LISTEN=127.0.0.1:0\nexport OVA_LOG_LEVEL=debug\n", to: temp.file(".env"))

        let resolved = try ProcessEnvironment.resolve(environment: ["HOME": "/home/ana"], workingDirectory: temp.path)

        #expect(resolved.environment == ["HOME": "/home/ana", "OVA_LISTEN": "127.0.0.1:0", "OVA_LOG_LEVEL": "debug"])
        #expect(resolved.files == [
            ProcessEnvironment.FileReport(path: temp.file(".env"), provided: ["OVA_LISTEN", "OVA_LOG_LEVEL"], shadowed: [])
        ])
        let configuration = try ServerConfiguration.load(environment: resolved.environment)
        #expect(configuration.transport.listen.port == 0)
        #expect(configuration.logging.level == .debug)
    }

    @Test func theEnvironmentWinsOverTheFileUnlessItIsEmpty() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("OVA_LOG_LEVEL=debug\nOVA_LOG_FORMAT=json\nOVA_THREADS=3\n", to: temp.file(".env"))

        let resolved = try ProcessEnvironment.resolve(
            environment: ["OVA_LOG_LEVEL": "warning", "OVA_LOG_FORMAT": ""],
            workingDirectory: temp.path
        )

        #expect(resolved.environment["OVA_LOG_LEVEL"] == "warning")
        #expect(resolved.environment["OVA_LOG_FORMAT"] == "json")
        #expect(resolved.environment["OVA_THREADS"] == "3")
        #expect(resolved.files.first?.provided == ["OVA_LOG_FORMAT", "OVA_THREADS"])
        #expect(resolved.files.first?.shadowed == ["OVA_LOG_LEVEL"])
    }

    @Test func aMissingDefaultDotEnvIsFineButAMissingEnvFileIsAnError() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let error = try #require(throws: ConfigurationError.self) {
            try ProcessEnvironment.resolve(environment: ["OVA_ENV_FILE": "missing.env"], workingDirectory: temp.path)
        }
        #expect(error.variable == "OVA_ENV_FILE")
        #expect(error.message.contains(temp.file("missing.env")))
        #expect(error.message.contains("does not exist"))
        // Set but empty counts as unset.
        let resolved = try ProcessEnvironment.resolve(environment: ["OVA_ENV_FILE": ""], workingDirectory: temp.path)
        #expect(resolved.files.isEmpty)
    }

    @Test func theNamedFileIsReadAfterDotEnvAndWinsOverIt() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("OVA_LOG_LEVEL=debug\nOVA_THREADS=2\n", to: temp.file(".env"))
        try FileManager.default.createDirectory(atPath: temp.file("conf"), withIntermediateDirectories: true)
        try write("OVA_LOG_LEVEL=notice\nOVA_LOG_FORMAT=json\n", to: temp.file("conf/prod.env"))

        let resolved = try ProcessEnvironment.resolve(environment: ["OVA_ENV_FILE": "conf/prod.env"], workingDirectory: temp.path)

        #expect(resolved.environment["OVA_LOG_LEVEL"] == "notice")
        #expect(resolved.environment["OVA_LOG_FORMAT"] == "json")
        #expect(resolved.environment["OVA_THREADS"] == "2")
        #expect(resolved.files == [
            ProcessEnvironment.FileReport(path: temp.file(".env"), provided: ["OVA_THREADS"], shadowed: ["OVA_LOG_LEVEL"]),
            ProcessEnvironment.FileReport(path: temp.file("conf/prod.env"), provided: ["OVA_LOG_LEVEL", "OVA_LOG_FORMAT"], shadowed: []),
        ])
        // OVA_ENV_FILE is known to the loader, not a typo.
        let configuration = try ServerConfiguration.load(environment: resolved.environment)
        #expect(!configuration.warnings.contains { $0.contains("OVA_ENV_FILE") })
    }

    @Test func namingDotEnvItselfReadsItOnce() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("OVA_THREADS=2\n", to: temp.file(".env"))
        let resolved = try ProcessEnvironment.resolve(environment: ["OVA_ENV_FILE": "./.env"], workingDirectory: temp.path)
        #expect(resolved.files.map(\.path) == [temp.file(".env")])
        #expect(resolved.files.first?.provided == ["OVA_THREADS"])
    }

    @Test func aBadLineInDotEnvStopsWithItsPathAndLine() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("OVA_THREADS=2\nHF_API_KEY='hf_s3cr3t\n", to: temp.file(".env"))
        let error = try #require(throws: ConfigurationError.self) {
            try ProcessEnvironment.resolve(environment: [:], workingDirectory: temp.path)
        }
        #expect(error.message.hasPrefix(temp.file(".env") + ":2: HF_API_KEY: unterminated single quote"))
        #expect(!error.message.contains("s3cr3t"))
    }

    @Test func theLogNamesFilesAndKeysButNoValue() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try write("JWT_SECRET_KEY=s3cr3t-signing-key\nOVA_THREADS=2\nOVA_THREADS=s3cr3t-duplicate\nOVA_LISTEN=:1\n", to: temp.file(".env"))
        let resolved = try ProcessEnvironment.resolve(environment: ["OVA_LISTEN": "127.0.0.1:0"], workingDirectory: temp.path)
        let logs = CapturedLogs()

        resolved.log(to: logs.logger())

        let info = logs.entries.filter { $0.level == .info }.map(\.message)
        #expect(info == ["read 2 settings from \(temp.file(".env")): JWT_SECRET_KEY, OVA_THREADS (already set, so not taken from the file: OVA_LISTEN)"])
        let warnings = logs.entries.filter { $0.level == .warning }.map(\.message)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("OVA_THREADS") == true)
        #expect(!logs.entries.contains { $0.message.contains("s3cr3t") })
    }
}
