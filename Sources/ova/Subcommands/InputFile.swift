import ArgumentParser
import Foundation

/// Checks that `path` names a readable regular file before it is opened, so that a mistake is
/// reported as what it is ("X is a directory") instead of Foundation's
/// `NSCocoaErrorDomain Code=256 "(null)"`.
///
/// - Parameter expected: what the command wants, for the message, e.g. "a WAV file or - for standard input".
func checkInputFile(_ path: String, expected: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ValidationError("\(path) does not exist; pass \(expected)")
    }
    if isDirectory.boolValue {
        throw ValidationError("\(path) is a directory; pass \(expected)")
    }
    guard FileManager.default.isReadableFile(atPath: path) else {
        throw ValidationError("cannot read \(path) (permission denied); pass \(expected)")
    }
}
