import CCrypt
import Foundation
import Synchronization

/// Hashes and verifies passwords in modular crypt format (`$2b$12$...`) with libxcrypt.
///
/// New hashes are bcrypt (`$2b$`) at ``cost``. ``verify(_:against:)`` accepts any modular
/// crypt hash libxcrypt understands (`$2b$`, `$2a$`, `$2y$`, yescrypt `$y$`, SHA-512 `$6$`,
/// ...), so hashes imported from the original Python backend (`bcrypt.hashpw`, `$2b$`) keep
/// working, and that backend's oldest `"salt:hexhash"` salted SHA-256 (see
/// ``LegacySaltedSHA256``); ``needsRehash(_:)`` tells the caller when to replace one after a
/// successful login.
///
/// - Important: ``hash(_:)``, ``verify(_:against:)`` and ``equalTimeDummyVerify(_:)`` are
///   deliberately slow: they block the calling thread for roughly 200-300 ms at cost 12 (the
///   time doubles with every cost step). Run them on a thread pool (for example
///   `NIOThreadPool`), never on an event loop, where they would stall every connection on it.
public struct PasswordHasher: Sendable {
    /// The lowest cost ``init(cost:)`` accepts (OWASP's current floor for bcrypt).
    public static let minimumCost = 12
    /// bcrypt's largest cost (2^31 rounds).
    public static let maximumCost = 31
    /// bcrypt reads at most 72 bytes of the password; ``hash(_:)`` refuses longer ones rather
    /// than let bcrypt ignore the rest.
    public static let maximumPasswordBytes = 72
    /// The longest password ``verify(_:against:)`` hashes: libxcrypt's
    /// `CRYPT_MAX_PASSPHRASE_SIZE`. Longer input is refused without work, which also bounds
    /// the time SHA-crypt hashes (whose cost grows with the password's length) can take.
    static let maximumVerifyPasswordBytes = Int(CRYPT_MAX_PASSPHRASE_SIZE)

    /// The bcrypt cost (log2 of the rounds) of the hashes this hasher creates.
    public let cost: Int
    private let dummy: DummyHash

    /// A hasher for production: `cost` must be in ``minimumCost``...``maximumCost``.
    public init(cost: Int = 12) throws(PasswordHashError) {
        guard (Self.minimumCost...Self.maximumCost).contains(cost) else {
            throw .invalidCost(cost)
        }
        self.init(uncheckedCost: cost)
    }

    /// A hasher that allows bcrypt costs down to 4, for tests only.
    ///
    /// Cost 4 hashes take about a millisecond, which is what makes it unfit for real
    /// passwords: an attacker with the hash database tests guesses just as fast.
    /// `cost` must be in 4...31 (a programming error otherwise).
    public init(insecureTestingCost cost: Int) {
        precondition((4...Self.maximumCost).contains(cost), "bcrypt cost must be in 4...31, not \(cost)")
        self.init(uncheckedCost: cost)
    }

    private init(uncheckedCost cost: Int) {
        self.cost = cost
        self.dummy = DummyHash()
    }

    /// Hashes `password` with bcrypt (`$2b$`) at ``cost`` and a fresh random salt.
    ///
    /// Blocks for hundreds of milliseconds at production costs: call it on a thread pool.
    /// - Throws: ``PasswordHashError/passwordTooLong(byteCount:)`` above 72 UTF-8 bytes,
    ///   ``PasswordHashError/passwordContainsNUL``, or
    ///   ``PasswordHashError/hashingFailed(errno:)`` when libxcrypt fails.
    public func hash(_ password: String) throws(PasswordHashError) -> String {
        let byteCount = password.utf8.count
        guard byteCount <= Self.maximumPasswordBytes else {
            throw .passwordTooLong(byteCount: byteCount)
        }
        guard !password.utf8.contains(0) else {
            throw .passwordContainsNUL
        }
        let setting = try Self.bcryptSetting(cost: self.cost)
        switch Self.crypt(password, setting: setting) {
        case .success(let hash):
            // crypt_rn reports failure with NULL, but a hash that is not the bcrypt we asked
            // for must never be stored, whatever the reason.
            guard hash.hasPrefix(setting.prefix(7)), hash.utf8.count == 60 else {
                throw .hashingFailed(errno: EINVAL)
            }
            return hash
        case .failure(let error):
            throw error
        }
    }

    /// Whether `password` matches `storedHash`.
    ///
    /// Recomputes the hash with the stored hash as setting and compares the two in constant
    /// time. Returns false, never traps, for an empty or malformed hash, a libxcrypt failure
    /// (including its `*0`/`*1` failure tokens), a password with a NUL or longer than 512
    /// bytes, and for traditional DES and BSDi hashes (which are not modular crypt format:
    /// libxcrypt would otherwise treat any string such as `"plain"` as a DES salt, and DES
    /// only reads 8 characters of the password).
    ///
    /// Passwords longer than 72 bytes are not refused here: a `$2b$` hash from a backend that
    /// truncated silently still verifies, as it did there.
    ///
    /// A `"salt:hexhash"` hash of the original backend is checked as SHA-256(salt + password)
    /// in constant time, after the same bcrypt work as ``equalTimeDummyVerify(_:)``: its own
    /// check takes microseconds, and a fast answer would tell an attacker that the account
    /// exists (an unknown email pays for a bcrypt verify).
    ///
    /// Blocks for hundreds of milliseconds at production costs: call it on a thread pool.
    public func verify(_ password: String, against storedHash: String) -> Bool {
        if LegacySaltedSHA256.matchesFormat(storedHash) {
            self.equalTimeDummyVerify(password)
            return password.utf8.count <= Self.maximumVerifyPasswordBytes && !password.utf8.contains(0)
                && LegacySaltedSHA256.verify(password, against: storedHash)
        }
        guard
            storedHash.hasPrefix("$"),
            storedHash.utf8.count < Int(CRYPT_OUTPUT_SIZE),
            !storedHash.utf8.contains(0),
            password.utf8.count <= Self.maximumVerifyPasswordBytes,
            !password.utf8.contains(0)
        else {
            return false
        }
        guard case .success(let computed) = Self.crypt(password, setting: storedHash) else {
            return false
        }
        // Failure tokens start with "*" and are chosen to differ from the setting, but do not
        // rely on that: a failure never verifies.
        guard !computed.hasPrefix("*") else { return false }
        return ConstantTime.equals(computed.utf8, storedHash.utf8)
    }

    /// Whether `storedHash` is in a format ``verify(_:against:)`` can ever accept: a modular
    /// crypt setting libxcrypt supports (`crypt_checksalt`), or the original backend's
    /// `"salt:hexhash"`. Cheap (no hashing): an importer uses it to refuse accounts that could
    /// never log in.
    public static func isVerifiableStoredHash(_ storedHash: String) -> Bool {
        if LegacySaltedSHA256.matchesFormat(storedHash) { return true }
        guard storedHash.hasPrefix("$"), storedHash.utf8.count < Int(CRYPT_OUTPUT_SIZE), !storedHash.utf8.contains(0) else {
            return false
        }
        let verdict = crypt_checksalt(storedHash)
        // LEGACY and TOO_CHEAP still verify (needsRehash then replaces them); INVALID and
        // METHOD_DISABLED never do.
        return verdict == CRYPT_SALT_OK || verdict == CRYPT_SALT_METHOD_LEGACY || verdict == CRYPT_SALT_TOO_CHEAP
    }

    /// True unless `storedHash` is a bcrypt `$2b$` hash at exactly this hasher's ``cost``.
    ///
    /// Call it after a successful ``verify(_:against:)`` and store ``hash(_:)`` of the same
    /// password when it returns true: that moves imported `$2a$`/`$6$`/... hashes and older
    /// costs to the current format.
    public func needsRehash(_ storedHash: String) -> Bool {
        !(storedHash.hasPrefix(Self.bcryptPrefix(cost: self.cost)) && storedHash.utf8.count == 60)
    }

    /// Spends the same time as ``verify(_:against:)`` of `password` against a real hash of
    /// this cost, and discards the result.
    ///
    /// Call it when the account does not exist, so that an unknown email takes as long as a
    /// wrong password and response times do not reveal which accounts exist. The dummy hash
    /// (of a random password) is computed on first use, so that first call takes twice as
    /// long; call it once at startup to pay for it there.
    ///
    /// Blocks for hundreds of milliseconds at production costs: call it on a thread pool.
    public func equalTimeDummyVerify(_ password: String) {
        // The caller's password goes through exactly the checks and work of a real verify.
        _ = self.verify(password, against: self.dummyStoredHash())
    }

    /// The hash ``equalTimeDummyVerify(_:)`` verifies against, computed on first use.
    func dummyStoredHash() -> String {
        self.dummy.storedHash(cost: self.cost)
    }

    // MARK: - libxcrypt

    /// `$2b$NN$`: cost as two digits, as bcrypt writes it.
    static func bcryptPrefix(cost: Int) -> String {
        cost < 10 ? "$2b$0\(cost)$" : "$2b$\(cost)$"
    }

    /// A `$2b$` setting (prefix, cost and 22 salt characters) with a salt libxcrypt draws from
    /// the operating system's random source (`rbytes` NULL means getentropy/getrandom).
    static func bcryptSetting(cost: Int) throws(PasswordHashError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let count = Int32(buffer.count)
        let setting: String? = buffer.withUnsafeMutableBufferPointer { output in
            guard let result = crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, output.baseAddress, count) else {
                return nil
            }
            return String(cString: result)
        }
        guard let setting, setting.hasPrefix(bcryptPrefix(cost: cost)) else {
            throw .hashingFailed(errno: errno)
        }
        return setting
    }

    /// `crypt_rn(phrase, setting)` with a private, zeroed `struct crypt_data`, so concurrent
    /// calls share no state. Callers have checked that neither string contains NUL.
    static func crypt(_ phrase: String, setting: String) -> Result<String, PasswordHashError> {
        let size = MemoryLayout<crypt_data>.size
        // Heap, not stack: the struct is 32 KiB. It must start zeroed (libxcrypt reads its
        // `initialized` field) and is wiped afterwards because it holds a copy of the phrase.
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<crypt_data>.alignment)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            explicit_bzero(data, size)
            data.deallocate()
        }
        let typed = data.assumingMemoryBound(to: crypt_data.self)
        errno = 0
        let output: String? = phrase.withCString { phrasePointer in
            setting.withCString { settingPointer in
                crypt_rn(phrasePointer, settingPointer, typed, Int32(size)).map { String(cString: $0) }
            }
        }
        guard let output else {
            return .failure(.hashingFailed(errno: errno))
        }
        return .success(output)
    }
}

/// The lazily computed hash ``PasswordHasher/equalTimeDummyVerify(_:)`` verifies against.
///
/// A class so that copies of a hasher share one hash instead of computing their own.
private final class DummyHash: Sendable {
    private let cached = Mutex<String?>(nil)

    func storedHash(cost: Int) -> String {
        // Computed under the lock: concurrent first callers wait for one computation instead
        // of each paying for their own.
        cached.withLock { cached in
            if let cached { return cached }
            var random = SystemRandomNumberGenerator()
            let password = (0..<4).map { _ in String(random.next() as UInt64, radix: 36) }.joined()
            let hash: String
            do throws(PasswordHashError) {
                hash = try PasswordHasher(insecureTestingCost: cost).hash(password)
            } catch {
                // Not cached, so a later call tries again. verify still recomputes a full hash
                // of this cost from the setting alone, so the time spent is the same.
                return PasswordHasher.bcryptPrefix(cost: cost) + String(repeating: ".", count: 53)
            }
            cached = hash
            return hash
        }
    }
}
