/// The rules a new password must satisfy, as human readable reasons.
///
/// The rules follow NIST SP 800-63B in spirit: length matters most, a small block list
/// catches the passwords every guessing dictionary starts with, and a password must not be
/// derived from the account's email. The letter plus digit-or-symbol rule is kept because
/// the original backend enforced it.
public enum PasswordPolicy {
    /// Fewest characters (grapheme clusters, what a person counts) a password may have.
    public static let minimumCharacters = 10
    /// Most UTF-8 bytes a password may have: what ``PasswordHasher/hash(_:)`` accepts.
    public static let maximumBytes = PasswordHasher.maximumPasswordBytes
    /// An email local part shorter than this is not searched for (it would match by chance).
    static let minimumLocalPartLength = 3

    /// Why `password` is not acceptable; empty when it is.
    ///
    /// - Parameters:
    ///   - password: the new password, exactly as entered (not trimmed).
    ///   - email: the account's email, when known; its local part (before the last `@`) must
    ///     not appear in the password, ignoring case.
    /// - Returns: one sentence per broken rule, in a fixed order, suitable for showing to the
    ///   person choosing the password. None of them repeats the password.
    public static func problems(password: String, email: String?) -> [String] {
        var problems: [String] = []

        if password.count < minimumCharacters {
            problems.append("Use at least \(minimumCharacters) characters.")
        }
        if password.utf8.count > maximumBytes {
            problems.append("Use at most \(maximumBytes) bytes (fewer characters if they are not plain ASCII).")
        }
        if !password.isEmpty && password.allSatisfy(\.isWhitespace) {
            problems.append("The password cannot consist only of spaces.")
        }
        // Control characters (NUL in particular, which the hasher refuses) are invisible and
        // usually the result of a paste accident.
        if password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            problems.append("The password cannot contain control characters.")
        }
        let hasLetter = password.contains(where: \.isLetter)
        let hasDigitOrSymbol = password.contains { !$0.isLetter && !$0.isWhitespace }
        if !hasLetter || !hasDigitOrSymbol {
            problems.append("Include at least one letter and at least one digit or symbol.")
        }
        if let localPart = localPart(of: email), localPart.count >= minimumLocalPartLength,
            password.lowercased().contains(localPart.lowercased())
        {
            problems.append("The password cannot contain your email address's name.")
        }
        if commonPasswords.contains(password.lowercased()) {
            problems.append("This password is too common; choose one that is harder to guess.")
        }
        return problems
    }

    /// The part of `email` before its last `@` (the whole string without an `@`), or nil.
    static func localPart(of email: String?) -> Substring? {
        guard let email else { return nil }
        guard let at = email.lastIndex(of: "@") else { return Substring(email) }
        return email[..<at]
    }

    /// Very common passwords that satisfy the other rules (or almost), compared lowercased.
    /// Not a dictionary: the length rule already removes the short classics, this list only
    /// catches the first guesses of every attack tool that are long enough to pass it.
    static let commonPasswords: Set<String> = [
        "password123", "password1234", "password12345", "password123!", "passw0rd123",
        "p@ssw0rd123", "qwerty12345", "qwerty123456", "qwertyuiop1", "qwertyuiop123",
        "1234567890", "12345678910", "0123456789", "1q2w3e4r5t", "1qaz2wsx3edc",
        "administrator1", "administrator", "admin12345", "admin123456", "adminadmin1",
        "iloveyou123", "welcome123", "welcome1234", "letmein123", "changeme123",
        "abc1234567", "abcd123456", "football123", "sunshine123", "trustno1234",
    ]
}
