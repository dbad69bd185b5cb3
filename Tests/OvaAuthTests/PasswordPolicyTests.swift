import OvaAuth
import Testing

@Suite("PasswordPolicy")
struct PasswordPolicyTests {
    @Test(arguments: [
        "Tr0ub4dor&3x", "correct horse battery staple 1", "zebra-unicorn-42", "pässwörd-grün-7",
        String(repeating: "ab1", count: 24),
    ])
    func acceptsGoodPasswords(_ password: String) {
        #expect(PasswordPolicy.problems(password: password, email: "alice@example.com") == [])
        #expect(PasswordPolicy.problems(password: password, email: nil) == [])
    }

    @Test func tooShort() {
        let problems = PasswordPolicy.problems(password: "abc123!xy", email: nil)
        #expect(problems == ["Use at least 10 characters."])
        #expect(PasswordPolicy.problems(password: "abc123!xyz", email: nil) == [])
    }

    /// Characters are what a person sees: "é" written as e + combining accent is one.
    @Test func lengthCountsCharactersNotScalars() {
        let tenCombining = String(repeating: "e\u{301}", count: 8) + "1!"
        #expect(PasswordPolicy.problems(password: tenCombining, email: nil) == [])
        let nineCombining = String(repeating: "e\u{301}", count: 7) + "1!"
        #expect(PasswordPolicy.problems(password: nineCombining, email: nil) == ["Use at least 10 characters."])
    }

    @Test func tooManyBytes() {
        let limit = String(repeating: "ab1", count: 24)  // 72 bytes
        #expect(PasswordPolicy.problems(password: limit, email: nil) == [])
        let problems = PasswordPolicy.problems(password: limit + "x", email: nil)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("at most 72 bytes") == true)
        // 30 characters but 90 bytes.
        let wide = String(repeating: "密", count: 29) + "1"
        #expect(PasswordPolicy.problems(password: wide, email: nil).contains { $0.contains("72 bytes") })
    }

    @Test func needsALetterAndADigitOrSymbol() {
        let rule = "Include at least one letter and at least one digit or symbol."
        #expect(PasswordPolicy.problems(password: "onlyletterswithnoother", email: nil) == [rule])
        #expect(PasswordPolicy.problems(password: "5550123456789", email: nil) == [rule])
        #expect(PasswordPolicy.problems(password: "!!!!@@@@####", email: nil) == [rule])
        #expect(PasswordPolicy.problems(password: "onlyletters!", email: nil) == [])
        #expect(PasswordPolicy.problems(password: "onlyletters7", email: nil) == [])
        // Spaces are neither a letter nor a symbol.
        #expect(PasswordPolicy.problems(password: "only letters here", email: nil) == [rule])
    }

    @Test func whitespaceOnly() {
        let problems = PasswordPolicy.problems(password: String(repeating: " ", count: 12), email: nil)
        #expect(problems.contains("The password cannot consist only of spaces."))
        let tabs = PasswordPolicy.problems(password: "\t\t\t\t\t \n \t\t\t", email: nil)
        #expect(tabs.contains("The password cannot consist only of spaces."))
    }

    @Test func controlCharacters() {
        let problems = PasswordPolicy.problems(password: "Tr0ub4dor&3\u{0}", email: nil)
        #expect(problems == ["The password cannot contain control characters."])
        #expect(PasswordPolicy.problems(password: "Tr0ub4dor\u{7}&3", email: nil).count == 1)
    }

    @Test func containsEmailLocalPart() {
        let rule = "The password cannot contain your email address's name."
        #expect(PasswordPolicy.problems(password: "xxAlice.Smith99!", email: "alice.smith@example.com") == [rule])
        #expect(PasswordPolicy.problems(password: "ALICE.SMITH-2024", email: "Alice.Smith@example.com") == [rule])
        #expect(PasswordPolicy.problems(password: "secure-bob-horse-9", email: "bob@example.com") == [rule])
        // Other parts of the address are fine; so is a different name.
        #expect(PasswordPolicy.problems(password: "example.com-horse-9", email: "bob@example.com") == [])
        #expect(PasswordPolicy.problems(password: "secure-carol-horse-9", email: "bob@example.com") == [])
    }

    @Test func shortLocalPartIsIgnored() {
        #expect(PasswordPolicy.problems(password: "a-jo-horse-battery-9", email: "jo@example.com") == [])
        #expect(PasswordPolicy.problems(password: "a-jo-horse-battery-9", email: "") == [])
        #expect(PasswordPolicy.problems(password: "a-jo-horse-battery-9", email: "@") == [])
    }

    @Test(arguments: ["password123", "Password123", "QWERTY12345", "administrator1", "1qaz2wsx3edc", "welcome123"])
    func commonPasswordsAreRefused(_ password: String) {
        let problems = PasswordPolicy.problems(password: password, email: nil)
        #expect(problems == ["This password is too common; choose one that is harder to guess."])
    }

    @Test func commonPasswordThatAlsoBreaksOtherRules() {
        let problems = PasswordPolicy.problems(password: "1234567890", email: nil)
        #expect(problems.count == 2)
        #expect(problems.contains("This password is too common; choose one that is harder to guess."))
        #expect(problems.contains("Include at least one letter and at least one digit or symbol."))
    }

    @Test func emptyPasswordReportsEveryApplicableRule() {
        let problems = PasswordPolicy.problems(password: "", email: "someone@example.com")
        #expect(problems == [
            "Use at least 10 characters.",
            "Include at least one letter and at least one digit or symbol.",
        ])
    }

    @Test func problemsNeverRepeatThePassword() {
        let password = "password123"
        for problem in PasswordPolicy.problems(password: password, email: "password@example.com") {
            #expect(!problem.lowercased().contains(password))
        }
    }
}
