import CLibFuzzer
import Glibc
import OvaProto
import OvaProtobuf

// Property: for every generated message type and any bytes, decoding (protobuf-c unpack, then
// the generated conversion of the C struct into the Swift value) either throws ProtobufError
// or yields a message whose serialization decodes again, to a stable result: serializing the
// re-decoded message gives the same message (or the same bytes, for messages whose values do
// not compare equal to themselves, i.e. NaN floats, or whose maps serialize in another order).
//
// Input: byte 0 picks the message type (index into OvaSchema.messageTypes, which holds every
// request and response type); the rest is the serialized message.

private let types = OvaSchema.messageTypes

@main
enum ProtobufFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzProtobuf))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtobuf(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let type = types[Int(data[0]) % types.count]
    check(type, UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    return 0
}

private func check<Message: ProtobufMessage>(_ type: Message.Type, _ bytes: UnsafeRawBufferPointer) {
    guard let first = try? Message(serializedBytes: bytes) else { return }
    let firstBytes = first.serializedBytes()
    let second: Message
    do {
        second = try Message(serializedBytes: firstBytes)
    } catch {
        fatalError("\(Message.protoMessageName): a decoded message re-serializes to bytes that do not decode: \(error)")
    }
    let secondBytes = second.serializedBytes()
    guard first == second || firstBytes == secondBytes else {
        fatalError("\(Message.protoMessageName): the round trip is not stable: \(first) became \(second)")
    }
}
