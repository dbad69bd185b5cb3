import ArgumentParser
import OvaProto
import OvaRPC

/// `ova describe <Service|Message>`: a service's methods, or a message's fields.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a service (its methods) or a message (its fields).",
        discussion: "Names may omit the package: `ova describe Echo` = `ova describe ova.v1.Echo`."
    )

    @Argument(help: ArgumentHelp("Service or message name, e.g. ova.v1.Echo or EchoRequest.", valueName: "name"))
    var name: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            let channel = try self.client.makeChannel()
            let reflection = ReflectionClient(channel: channel)
            let fullName = self.name.contains(".") ? self.name : "ova.v1.\(self.name)"
            var request = DescribeServiceRequest()
            request.service = fullName
            do {
                let service = try await reflection.describeService(request, options: self.client.callOptions())
                print("service \(service.name)  (\(service.file))\(service.implemented ? "" : "  not implemented yet")")
                for method in service.methods {
                    print("  rpc \(method.name)  \(kindName(method.kind))")
                    print("      request:  \(method.inputType)")
                    print("      response: \(method.outputType)")
                }
            } catch let error as RPCError where error.code == .notFound {
                var messageRequest = DescribeMessageRequest()
                messageRequest.message = fullName
                let message = try await reflection.describeMessage(messageRequest, options: self.client.callOptions())
                print("message \(message.name)")
                for field in message.fields {
                    let type = field.typeName.isEmpty ? field.type : field.typeName
                    let label = field.repeated ? "repeated " : ""
                    let oneof = field.oneof.isEmpty ? "" : "  (oneof)"
                    print("  \(label)\(type) \(field.name) = \(field.number)\(oneof)")
                }
            }
            await channel.close()
        }
    }
}
