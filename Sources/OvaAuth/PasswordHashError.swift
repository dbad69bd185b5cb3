/// Why ``PasswordHasher`` refused to create a hasher or a hash.
///
/// The description never contains the password.
public enum PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The requested bcrypt cost is outside what the initializer allows.
    case invalidCost(Int)
    /// The password is longer than bcrypt's 72 byte input. bcrypt would silently ignore the
    /// rest, so two passwords with the same first 72 bytes would be interchangeable.
    case passwordTooLong(byteCount: Int)
    /// The password contains a NUL character, which would end the C string early (the part
    /// after it would be ignored).
    case passwordContainsNUL
    /// libxcrypt failed to produce a salt or a hash; `errno` as reported by the C library.
    case hashingFailed(errno: Int32)

    public var description: String {
        switch self {
        case .invalidCost(let cost):
            return "invalid bcrypt cost \(cost)"
        case .passwordTooLong(let byteCount):
            return "password is \(byteCount) bytes; bcrypt accepts at most \(PasswordHasher.maximumPasswordBytes)"
        case .passwordContainsNUL:
            return "password contains a NUL character"
        case .hashingFailed(let errno):
            return "libxcrypt failed to hash (errno \(errno))"
        }
    }
}
