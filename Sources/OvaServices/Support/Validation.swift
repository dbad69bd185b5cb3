import OvaRPC

/// Collects field violations for one request and throws them together, so a client fixes
/// every problem in one round trip.
struct RequestValidator {
    private(set) var violations: [(field: String, description: String)] = []

    mutating func fail(_ field: String, _ description: String) {
        self.violations.append((field, description))
    }

    /// Trims `value` and checks its length in characters; returns the trimmed text.
    ///
    /// Characters are Unicode code points, as MariaDB's VARCHAR(n) counts them (and the
    /// original's MySQL did): "é" written as e + a combining accent is two, an emoji with a skin
    /// tone two. Counting grapheme clusters instead would let text pass here that the column
    /// then refuses.
    mutating func text(_ value: String, field: String, length: ClosedRange<Int>) -> String {
        let trimmed = value.trimmingWhitespace()
        let count = trimmed.unicodeScalars.count
        if trimmed.isEmpty, length.lowerBound > 0 {
            self.fail(field, "is required")
        } else if count < length.lowerBound {
            self.fail(field, "must be at least \(length.lowerBound) characters")
        } else if count > length.upperBound {
            self.fail(field, "must be at most \(length.upperBound) characters")
        }
        if trimmed.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
            self.fail(field, "must not contain control characters")
        }
        return trimmed
    }

    /// Trims and lowercases an email address and checks its shape; returns the normalized form.
    mutating func email(_ value: String, field: String) -> String {
        let normalized = value.trimmingWhitespace().lowercased()
        if normalized.isEmpty {
            self.fail(field, "is required")
        } else if !EmailAddress.isValid(normalized) {
            self.fail(field, "must be a valid email address, e.g. name@example.com")
        }
        return normalized
    }

    mutating func positiveID(_ value: Int64, field: String) {
        if value <= 0 { self.fail(field, "must be a positive id") }
    }

    /// Throws INVALID_ARGUMENT unless `id` is a positive row id.
    static func checkID(_ id: Int64, field: String = "id") throws {
        var validator = RequestValidator()
        validator.positiveID(id, field: field)
        try validator.check()
    }

    /// Throws INVALID_ARGUMENT listing every violation, if any.
    func check(_ message: String = "invalid request") throws {
        if !self.violations.isEmpty {
            throw RPCError.invalidArgument(message, fieldViolations: self.violations)
        }
    }
}

/// A pragmatic email syntax check (RFC 5321 lengths, a dotted domain of LDH labels, no
/// quoting or comments): what a contact form should accept.
enum EmailAddress {
    static func isValid(_ address: String) -> Bool {
        guard address.utf8.count <= 254 else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0]
        let domain = parts[1]
        guard (1...64).contains(local.utf8.count), !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            return false
        }
        let localAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-")
        guard local.allSatisfy({ localAllowed.contains($0) }) else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        let labelAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        for label in labels {
            guard (1...63).contains(label.utf8.count), !label.hasPrefix("-"), !label.hasSuffix("-"),
                  label.allSatisfy({ labelAllowed.contains($0) })
            else { return false }
        }
        return labels.last.map { $0.count >= 2 && $0.allSatisfy(\.isLetter) } ?? false
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = self.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
