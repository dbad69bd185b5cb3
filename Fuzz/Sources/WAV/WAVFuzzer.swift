import CLibFuzzer
import Glibc
import OvaAudio

// Property: WAV.parse never traps on any bytes. What it accepts is consistent: a supported
// format, a data offset inside the input (the header was read from it), and a declared data
// length that is a whole number of frames.
//
// Input: the file's bytes.

@main
enum WAVFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzWAV))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let (format, dataOffset, dataLength) = try? WAV.parse(bytes) else { return 0 }
    do {
        try format.validate()
    } catch {
        fatalError("parse accepted an unsupported format \(format): \(error)")
    }
    guard dataOffset >= 12, dataOffset <= bytes.count else {
        fatalError("data offset \(dataOffset) outside a \(bytes.count)-byte input")
    }
    if let dataLength, dataLength < 0 || dataLength % format.bytesPerFrame != 0 {
        fatalError("data length \(dataLength) is not a whole number of \(format.bytesPerFrame)-byte frames")
    }
    // Our own header for the parsed format parses back to the same format.
    let header = WAV.header(format: format, dataBytes: dataLength.map { UInt32(truncatingIfNeeded: $0) })
    guard let reparsed = try? WAV.parse(header), reparsed.format == format, reparsed.dataOffset == WAV.headerLength else {
        fatalError("the header written for \(format) does not parse back")
    }
    return 0
}
