/// The few fields of `ova.v1.ErrorDetails` (docs/PROTOCOL.md §11.2) that the runtime writes
/// itself: OvaRPC knows no generated schema, and these field numbers are part of the protocol.
/// OvaProtobufTests decode the output with the generated `ErrorDetails`.
enum ErrorDetailsEncoding {
    /// `field_violations` (1) of `ErrorDetails`; `field` (1) and `description` (2) of
    /// `FieldViolation`.
    static func fieldViolation(field: String, description: String) -> [UInt8] {
        var violation: [UInt8] = []
        Self.appendString(field, number: 1, to: &violation)
        Self.appendString(description, number: 2, to: &violation)
        var details: [UInt8] = []
        Self.appendBytes(violation, number: 1, to: &details)
        return details
    }

    /// `details` with `request_id` (6) set to `requestID`. Appending a singular field overrides
    /// any earlier value of it (protobuf's merge rule), so the rest of the details is untouched.
    static func settingRequestID(_ requestID: String, in details: [UInt8]) -> [UInt8] {
        var result = details
        Self.appendString(requestID, number: 6, to: &result)
        return result
    }

    private static func appendString(_ value: String, number: UInt64, to bytes: inout [UInt8]) {
        Self.appendBytes(Array(value.utf8), number: number, to: &bytes)
    }

    private static func appendBytes(_ value: [UInt8], number: UInt64, to bytes: inout [UInt8]) {
        Self.appendVarint(number << 3 | 2, to: &bytes)
        Self.appendVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
