import CLibFuzzer
import Glibc
import OvaProto
import OvaProtobuf

// Property: the proto3 JSON mapping never traps on any text, for any message type. Text it
// accepts becomes bytes that decode as the message; that message's JSON form is accepted in
// turn and denotes the same message (JSON → message → JSON → message is stable).
//
// Input: byte 0 picks the message type (index into OvaSchema.messageTypes); the rest is the
// JSON text (invalid UTF-8 is replaced, as when the CLI reads it).

private let types = OvaSchema.messageTypes

@main
enum JSONFuzzer {
    static func main() {
        exit(ova_run_libfuzzer(CommandLine.argc, CommandLine.unsafeArgv, fuzzJSON))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let type = types[Int(data[0]) % types.count]
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    check(type, text)
    return 0
}

private func check<Message: ProtobufMessage>(_ type: Message.Type, _ text: String) {
    let name = Message.protoMessageName
    guard let bytes = try? ProtobufJSON.decode(json: text, descriptor: Message.protobufCDescriptor) else { return }
    let message: Message
    do {
        message = try Message(serializedBytes: bytes)
    } catch {
        fatalError("\(name): JSON accepted but its serialization does not decode: \(error)\n\(text)")
    }
    let json: String
    do {
        json = try message.jsonString()
    } catch {
        fatalError("\(name): a decoded message has no JSON form: \(error)")
    }
    let again: Message
    do {
        again = try Message(jsonString: json)
    } catch {
        fatalError("\(name): the JSON we wrote is rejected: \(error)\n\(json)")
    }
    guard again == message || (try? again.jsonString()) == json else {
        fatalError("\(name): JSON round trip not stable:\n\(text)\nbecame\n\(json)")
    }
}
