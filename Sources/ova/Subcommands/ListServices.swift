import ArgumentParser
import OvaProto
import OvaRPC

/// `ova list`: the server's services and methods with their call kinds (via Reflection).
struct ListServices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the server's services and methods with their call kinds."
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            let channel = try self.client.makeChannel()
            defer { Task { await channel.close() } }
            let response = try await ReflectionClient(channel: channel).listServices(ListServicesRequest(), options: self.client.callOptions())
            for service in response.services {
                print("\(service.name)\(service.implemented ? "" : "  (not implemented yet)")")
                for method in service.methods {
                    print("  \(method.name)  \(kindName(method.kind))  \(method.inputType) -> \(method.outputType)")
                }
            }
            await channel.close()
        }
    }
}

func kindName(_ kind: CallKind) -> String {
    switch kind {
    case .unary: return "unary"
    case .clientStreaming: return "client-streaming"
    case .serverStreaming: return "server-streaming"
    case .bidiStreaming: return "bidi-streaming"
    default: return "unknown"
    }
}
