import Foundation
import Logging
import OvaAuth

/// The key that signs access tokens: `JWT_SECRET_KEY`, or in development a generated one kept
/// in `OVA_DATA_DIR/jwt-secret` (0600) so tokens survive restarts.
enum AccessTokenSecret {
    static let fileName = "jwt-secret"

    static func resolve(configuration: ServerConfiguration, logger: Logger) throws(ConfigurationError) -> [UInt8] {
        if let secret = configuration.auth.jwtSecret {
            if secret.count < 32 {
                logger.warning("JWT_SECRET_KEY is shorter than 32 bytes; production refuses such a key")
            }
            return secret
        }
        // Production never gets here: the configuration requires JWT_SECRET_KEY.
        try DataFiles.ensureDirectory(configuration.storage.dataDirectory)
        let path = configuration.storage.dataDirectory + "/" + self.fileName
        if FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                // Never replace a key we cannot read: that would silently end every session.
                throw .unusableFile(variable: nil, path: path, reason: "exists but cannot be read as text; fix its permissions or delete it")
            }
            let secret = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard secret.count >= 32 else {
                throw .unusableFile(
                    variable: nil, path: path,
                    reason: "holds fewer than 32 bytes; delete it to generate a new key (existing tokens stop working)"
                )
            }
            try DataFiles.makePrivate(path: path, create: false, logger: logger)
            return secret
        }
        let encoded = Data(AccessTokenSigner.generateSecret()).base64EncodedString()
        try DataFiles.writeAtomically(path: path, contents: Array((encoded + "\n").utf8), mode: DataFiles.privateFileMode)
        logger.notice("generated a development token signing key (JWT_SECRET_KEY unset)", metadata: ["path": "\(path)"])
        return Array(encoded.utf8)
    }
}
