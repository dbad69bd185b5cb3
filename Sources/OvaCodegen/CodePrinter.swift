/// Accumulates indented source text.
public struct CodePrinter: Sendable {
    public private(set) var content: String = ""
    private var indentation: String = ""
    private let indentUnit: String

    public init(indent: String = "    ") {
        self.indentUnit = indent
        self.content.reserveCapacity(16 * 1024)
    }

    /// Prints each line at the current indentation; an empty string prints a blank line.
    public mutating func print(_ lines: String...) {
        for line in lines {
            self.printLine(line)
        }
    }

    /// Prints a line, which may itself contain newlines (each indented).
    public mutating func printLine(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                self.content += "\n"
            } else {
                self.content += self.indentation
                self.content += line
                self.content += "\n"
            }
        }
    }

    /// A blank line, unless the output is empty or already ends with one.
    public mutating func blankLine() {
        guard !self.content.isEmpty, !self.content.hasSuffix("\n\n"), !self.content.hasSuffix("{\n") else { return }
        self.content += "\n"
    }

    public mutating func indent() {
        self.indentation += self.indentUnit
    }

    public mutating func outdent() {
        self.indentation.removeLast(min(self.indentUnit.count, self.indentation.count))
    }

    /// Prints `header {`, the body one level deeper, then `}`.
    public mutating func block(_ header: String, _ body: (inout CodePrinter) -> Void) {
        self.printLine(header + " {")
        self.indent()
        body(&self)
        self.outdent()
        self.printLine("}")
    }

    /// Prints `line` as is (it opens a brace, e.g. `call { value in`), the body one level deeper,
    /// then `}`.
    public mutating func closure(_ line: String, _ body: (inout CodePrinter) -> Void) {
        self.printLine(line)
        self.indent()
        body(&self)
        self.outdent()
        self.printLine("}")
    }

    /// Like ``block(_:_:)`` with a custom closing line, e.g. `}()`.
    public mutating func block(_ header: String, closing: String, _ body: (inout CodePrinter) -> Void) {
        self.printLine(header + " {")
        self.indent()
        body(&self)
        self.outdent()
        self.printLine(closing)
    }
}
