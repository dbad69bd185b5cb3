#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The plugin process: stdin → ``Generator/run(requestBytes:)`` → stdout.
public enum PluginMain {
    /// Runs the plugin on the standard streams; returns the process exit status.
    public static func run() -> Int32 {
        guard let input = Self.readAll(fileDescriptor: 0) else {
            Self.writeAll(Array("protoc-gen-ova: cannot read the request from stdin\n".utf8), fileDescriptor: 2)
            return 1
        }
        let output = Generator.run(requestBytes: input)
        guard Self.writeAll(output, fileDescriptor: 1) else {
            Self.writeAll(Array("protoc-gen-ova: cannot write the response to stdout\n".utf8), fileDescriptor: 2)
            return 1
        }
        return 0
    }

    static func readAll(fileDescriptor: Int32) -> [UInt8]? {
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return input }
            input.append(contentsOf: chunk[0..<count])
        }
    }

    @discardableResult
    static func writeAll(_ bytes: [UInt8], fileDescriptor: Int32) -> Bool {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return write(fileDescriptor, base + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += count
        }
        return true
    }
}
