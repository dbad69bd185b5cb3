import Foundation
import Logging
import OvaJSONEscaping

/// The process's one logging setup (swift-log), chosen by OVA_LOG_LEVEL and OVA_LOG_FORMAT.
public enum OvaLogging {
    /// Installs the log handler. Call once, before the first logger is made.
    public static func bootstrap(configuration: ServerConfiguration) {
        let level = configuration.logging.level
        let json = configuration.logging.format == .json
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on standard error: `{"ts":..,"level":..,"label":..,"msg":..,...metadata}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = self.metadata
        if let extra = event.metadata {
            fields.merge(extra) { _, new in new }
        }
        var line = "{\"ts\":\(JSONString.quoted(Self.timestamp())),\"level\":\"\(event.level.rawValue)\",\"label\":\(JSONString.quoted(self.label)),\"msg\":\(JSONString.quoted(event.message.description))"
        for key in fields.keys.sorted() {
            line += ",\(JSONString.quoted(key)):\(JSONString.quoted(fields[key]?.description ?? ""))"
        }
        line += "}\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func timestamp() -> String {
        let now = Date()
        return ISO8601DateFormatter.string(from: now, timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }
}
