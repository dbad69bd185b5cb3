import CProtobufC
import OvaJSONEscaping

/// Finds `string` fields that protobuf-c would change silently when unpacking: it stores strings
/// as C strings (an embedded NUL cuts the text there) and does not validate UTF-8 (the Swift
/// conversion then replaces invalid sequences with U+FFFD).
///
/// The check walks the wire bytes guided by the message's protobuf-c descriptor, at every depth:
/// singular, repeated and oneof string fields, map keys and values, strings inside nested
/// messages. It runs after protobuf-c accepted the bytes, so anything it cannot parse is left to
/// protobuf-c's verdict, and it allocates only to describe a violation.
///
/// Field paths follow the protocol's field violations (docs/PROTOCOL.md §11.1): proto field
/// names joined by `.`, a repeated element's index in brackets (`messages[2].content`), a map
/// value by its key in quotes (`metadata["trace"]`, the key escaped as in JSON and cut after 64
/// characters); a bad map key is reported on the map field itself.
public enum ProtobufStringCheck {
    /// Deeper nesting is refused (no `ova.v1` message nests nearly this deep); it bounds the
    /// recursion of the walk.
    public static let maximumDepth = 64

    /// The first string field of `bytes` (a message of `descriptor`) that holds a NUL byte or is
    /// not valid UTF-8, as an error naming the field; `nil` when every string is clean.
    public static func firstViolation(
        in bytes: UnsafeRawBufferPointer,
        of descriptor: ProtobufCDescriptorReference
    ) -> ProtobufError? {
        guard let failure = Self.check(bytes, descriptor.pointer, depth: 0) else { return nil }
        return failure.error
    }

    /// What is wrong with one string value, if anything.
    public enum Problem: Sendable, Hashable {
        case nulByte
        case invalidUTF8
    }

    /// Checks one string value: no NUL byte, well-formed UTF-8 (no overlong encodings, no
    /// surrogates, nothing above U+10FFFF, no truncated sequences).
    public static func problem(in text: UnsafeRawBufferPointer) -> Problem? {
        let count = text.count
        var index = 0
        while index < count {
            // Eight ASCII bytes without a NUL at a time: the common case for text fields.
            if count - index >= 8 {
                let word = text.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let highBits: UInt64 = 0x8080_8080_8080_8080
                let hasZeroByte = (word &- 0x0101_0101_0101_0101) & ~word & highBits
                if word & highBits == 0, hasZeroByte == 0 {
                    index += 8
                    continue
                }
            }
            let lead = text[index]
            if lead < 0x80 {
                if lead == 0 { return .nulByte }
                index += 1
                continue
            }
            // Well-formed sequences, The Unicode Standard, Table 3-7: the second byte's range
            // depends on the lead byte (this is what excludes overlongs and surrogates).
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondLow = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondHigh = 0x9F
            case 0xF0: length = 4; secondLow = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondHigh = 0x8F
            default: return .invalidUTF8
            }
            guard count - index >= length else { return .invalidUTF8 }
            let second = text[index + 1]
            guard second >= secondLow, second <= secondHigh else { return .invalidUTF8 }
            var next = index + 2
            while next < index + length {
                guard text[next] & 0xC0 == 0x80 else { return .invalidUTF8 }
                next += 1
            }
            index += length
        }
        return nil
    }

    // MARK: - The walk

    private enum PathComponent {
        case field(UnsafePointer<CChar>)
        case index(Int)
        case key(String)
    }

    /// A violation found deep in a message; the path grows outwards as the walk unwinds.
    private struct Failure {
        enum Kind {
            case string(Problem)
            case mapKey(Problem)
            case tooDeep
        }

        var kind: Kind
        /// Innermost first.
        var reversedPath: [PathComponent] = []

        var error: ProtobufError {
            let description: String
            switch self.kind {
            case .tooDeep:
                return ProtobufError("messages nested deeper than \(ProtobufStringCheck.maximumDepth) levels")
            case .string(.nulByte): description = "contains a NUL byte"
            case .string(.invalidUTF8): description = "is not valid UTF-8"
            case .mapKey(.nulByte): description = "has a key that contains a NUL byte"
            case .mapKey(.invalidUTF8): description = "has a key that is not valid UTF-8"
            }
            let path = self.path
            return ProtobufError(
                "\(path) \(description)",
                invalidField: ProtobufError.InvalidField(path: path, description: description)
            )
        }

        var path: String {
            var path = ""
            for component in self.reversedPath.reversed() {
                switch component {
                case .field(let name):
                    if !path.isEmpty { path += "." }
                    path += String(cString: name)
                case .index(let index):
                    path += "[\(index)]"
                case .key(let key):
                    path += "[\(key)]"
                }
            }
            return path
        }
    }

    /// One field of an encoded message.
    private struct WireField {
        var number: UInt64
        var wireType: UInt64
        /// The bytes of a length-delimited field (empty for the other wire types).
        var payload: UnsafeRawBufferPointer
    }

    /// Reads fields one by one; stops (returns nil) at the end or at anything it cannot parse,
    /// which protobuf-c has already judged.
    private struct WireReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func next() -> WireField? {
            guard self.offset < self.bytes.count, let tag = self.readVarint() else { return nil }
            let wireType = tag & 7
            var payload = UnsafeRawBufferPointer(start: nil, count: 0)
            switch wireType {
            case 0:
                guard self.readVarint() != nil else { return nil }
            case 1:
                guard self.skip(8) else { return nil }
            case 5:
                guard self.skip(4) else { return nil }
            case 2:
                guard let length = self.readVarint(), length <= UInt64(self.bytes.count - self.offset) else { return nil }
                let start = self.offset
                self.offset += Int(length)
                payload = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.offset])
            default:
                // Groups (3, 4) and invalid wire types: protobuf-c's business.
                return nil
            }
            return WireField(number: tag >> 3, wireType: wireType, payload: payload)
        }

        private mutating func skip(_ count: Int) -> Bool {
            guard self.bytes.count - self.offset >= count else { return false }
            self.offset += count
            return true
        }

        private mutating func readVarint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while self.offset < self.bytes.count, shift < 64 {
                let byte = self.bytes[self.offset]
                self.offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }
    }

    private static func check(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        depth: Int
    ) -> Failure? {
        var reader = WireReader(bytes)
        while true {
            let fieldStart = reader.offset
            guard let wire = reader.next() else { return nil }
            guard wire.wireType == 2, wire.number <= UInt64(UInt32.max),
                  let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(wire.number))
            else { continue }
            var failure: Failure
            switch field.pointee.type {
            case PROTOBUF_C_TYPE_STRING:
                guard let problem = Self.problem(in: wire.payload) else { continue }
                failure = Failure(kind: .string(problem))
            case PROTOBUF_C_TYPE_MESSAGE:
                guard let nested = field.pointee.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self) else { continue }
                guard depth < Self.maximumDepth else { return Failure(kind: .tooDeep) }
                guard let inner = Self.check(wire.payload, nested, depth: depth + 1) else { continue }
                if case .tooDeep = inner.kind { return inner }
                if field.pointee.label == PROTOBUF_C_LABEL_REPEATED, Self.isMapEntry(nested) {
                    return Self.mapFailure(inner, field: field, entry: wire.payload)
                }
                failure = inner
            default:
                continue
            }
            if field.pointee.label == PROTOBUF_C_LABEL_REPEATED {
                let index = Self.occurrences(of: wire.number, in: UnsafeRawBufferPointer(rebasing: bytes[..<fieldStart]))
                failure.reversedPath.append(.index(index))
            }
            failure.reversedPath.append(.field(field.pointee.name))
            return failure
        }
    }

    /// How many times field `number` occurs in `bytes` (the index of the next element of a
    /// repeated field).
    private static func occurrences(of number: UInt64, in bytes: UnsafeRawBufferPointer) -> Int {
        var reader = WireReader(bytes)
        var count = 0
        while let wire = reader.next() {
            if wire.number == number { count += 1 }
        }
        return count
    }

    /// protoc compiles `map<K, V> name` to a repeated `NameEntry` message with `key = 1` and
    /// `value = 2`; protobuf-c keeps no map flag, so the shape is what identifies it.
    private static func isMapEntry(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> Bool {
        let message = descriptor.pointee
        guard message.n_fields == 2, let fields = message.fields,
              fields[0].id == 1, fields[1].id == 2,
              String(cString: fields[0].name) == "key", String(cString: fields[1].name) == "value"
        else { return false }
        let shortName = String(cString: message.short_name)
        return shortName.hasSuffix("Entry")
    }

    /// Rewrites a failure inside a map entry (`key` or `value[...]`) as a failure of the map.
    private static func mapFailure(
        _ inner: Failure,
        field: UnsafePointer<ProtobufCFieldDescriptor>,
        entry: UnsafeRawBufferPointer
    ) -> Failure {
        var failure = inner
        // The outermost component names the entry's field: `key` or `value`.
        let entryField = failure.reversedPath.popLast()
        if case .field(let name)? = entryField, String(cString: name) == "key", case .string(let problem) = inner.kind {
            return Failure(kind: .mapKey(problem), reversedPath: [.field(field.pointee.name)])
        }
        failure.reversedPath.append(.key(Self.quotedKey(inEntry: entry)))
        failure.reversedPath.append(.field(field.pointee.name))
        return failure
    }

    /// The entry's key (field 1, already known to be valid) quoted as in JSON, cut after 64
    /// characters so that a long key cannot blow up the error message.
    private static func quotedKey(inEntry entry: UnsafeRawBufferPointer) -> String {
        var reader = WireReader(entry)
        var key = ""
        while let wire = reader.next() {
            if wire.number == 1, wire.wireType == 2 {
                key = String(decoding: wire.payload, as: UTF8.self)
            }
        }
        if key.unicodeScalars.count > 64 {
            key = String(String.UnicodeScalarView(key.unicodeScalars.prefix(64))) + "…"
        }
        return JSONString.quoted(key)
    }
}
