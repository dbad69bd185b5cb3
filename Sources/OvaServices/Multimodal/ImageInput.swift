import OvaRPC

/// Checks an uploaded image by its magic bytes, so the providers only ever see JPEG, PNG or
/// WebP, and a client learns at once that a GIF or a truncated upload will not work.
enum ImageInput {
    static let maxBytes = 8 << 20

    /// The image's format name (`jpeg`, `png`, `webp`). - Throws: INVALID_ARGUMENT naming `field`.
    static func validate(_ bytes: [UInt8], field: String = "image") throws -> String {
        var validator = RequestValidator()
        if bytes.isEmpty {
            validator.fail(field, "is required (JPEG, PNG or WebP bytes)")
        } else if bytes.count > self.maxBytes {
            validator.fail(field, "must be at most \(self.maxBytes >> 20) MiB")
        }
        try validator.check("invalid image")
        if let format = self.format(of: bytes) {
            return format
        }
        throw RPCError.invalidArgument("invalid image", fieldViolations: [(field, "is not a JPEG, PNG or WebP image (checked by its first bytes)")])
    }

    static func format(of bytes: [UInt8]) -> String? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return "jpeg" }
        if bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return "png" }
        if bytes.count >= 12, Array(bytes[0..<4]) == Array("RIFF".utf8), Array(bytes[8..<12]) == Array("WEBP".utf8) { return "webp" }
        return nil
    }
}
