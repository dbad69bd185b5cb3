/// Call metadata: an ordered list of key/value pairs, like gRPC's.
///
/// Keys are lower-case ASCII (`a-z 0-9 - _ .`), 1-255 bytes. A key ending in `-bin` carries
/// binary values; every other key carries UTF-8 text. Keys starting with `ova-` are reserved
/// for the protocol. Keys are compared case-insensitively by lower-casing on insertion.
public struct Metadata: Hashable, Sendable, Sequence {
    /// One value: text for ordinary keys, bytes for `-bin` keys.
    public enum Value: Hashable, Sendable {
        case string(String)
        case binary([UInt8])
    }

    public typealias Element = (key: String, value: Value)

    private var storage: [Element] = []

    public init() {}

    /// Text entries, in order: `Metadata(["authorization": "Bearer ..."])`.
    public init(_ elements: KeyValuePairs<String, String>) {
        for (key, value) in elements {
            self.addString(value, forKey: key)
        }
    }

    public var count: Int { self.storage.count }
    public var isEmpty: Bool { self.storage.isEmpty }

    /// Appends a text value. Keys are lower-cased.
    public mutating func addString(_ value: String, forKey key: String) {
        self.storage.append((key.lowercased(), .string(value)))
    }

    /// Appends a binary value; the key must end in `-bin`.
    public mutating func addBinary(_ value: [UInt8], forKey key: String) {
        self.storage.append((key.lowercased(), .binary(value)))
    }

    /// Appends a value of either kind without checking the key (used by the decoder, which
    /// validates keys itself).
    public mutating func add(_ value: Value, forKey key: String) {
        self.storage.append((key, value))
    }

    /// Removes every value of `key`, then adds `value`.
    public mutating func replaceOrAddString(_ value: String, forKey key: String) {
        self.removeAll(forKey: key)
        self.addString(value, forKey: key)
    }

    public mutating func removeAll(forKey key: String) {
        let key = key.lowercased()
        self.storage.removeAll { $0.key == key }
    }

    /// The first text value of `key`, if any.
    public func firstString(forKey key: String) -> String? {
        let key = key.lowercased()
        for element in self.storage where element.key == key {
            if case .string(let value) = element.value { return value }
        }
        return nil
    }

    /// The first binary value of `key`, if any.
    public func firstBinary(forKey key: String) -> [UInt8]? {
        let key = key.lowercased()
        for element in self.storage where element.key == key {
            if case .binary(let value) = element.value { return value }
        }
        return nil
    }

    public func makeIterator() -> IndexingIterator<[Element]> {
        self.storage.makeIterator()
    }

    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.storage.count == rhs.storage.count
            && zip(lhs.storage, rhs.storage).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.storage.count)
        for element in self.storage {
            hasher.combine(element.key)
            hasher.combine(element.value)
        }
    }

    /// Whether `key` is a syntactically valid metadata key.
    public static func isValidKey<Bytes: Collection>(_ key: Bytes) -> Bool where Bytes.Element == UInt8 {
        guard !key.isEmpty, key.count <= 255 else { return false }
        return key.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// Whether values of `key` are binary (the key ends in `-bin`).
    public static func isBinaryKey(_ key: String) -> Bool {
        key.hasSuffix("-bin")
    }
}
