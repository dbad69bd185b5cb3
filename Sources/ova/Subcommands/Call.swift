import ArgumentParser
import Foundation
import OvaProto
import OvaProtobuf
import OvaRPC

/// `ova call <Service/Method>`: any method, with requests and responses as proto3 JSON.
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a method with JSON requests; prints one JSON line per response.",
        discussion: """
            Examples:
              ova call ova.v1.Health/Check --insecure
              ova call ova.v1.Echo/Unary --data '{"text":"hi"}' --insecure
              ova call ova.v1.Echo/ServerStream --data '{"text":"hi","responseCount":3}' --insecure
              printf '{"text":"a"}\\n{"text":"b"}\\n' | ova call ova.v1.Echo/Bidi --data - --insecure
            Streaming requests come from repeated --data flags, or one JSON object per line on \
            stdin with --data -.
            """
    )

    @Argument(help: ArgumentHelp("Method path: package.Service/Method (the package may be omitted for ova.v1).", valueName: "method"))
    var method: String

    @Option(name: [.short, .long], help: ArgumentHelp("Request as JSON ('-' reads JSON lines from stdin); repeatable for streaming calls.", valueName: "json"))
    var data: [String] = []

    @Flag(name: .long, help: "Pretty-print responses.")
    var pretty = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReportingStatus(self.client) {
            let method = try self.resolveMethod()
            guard let inputType = OvaSchema.messageType(named: method.inputType),
                  let outputType = OvaSchema.messageType(named: method.outputType)
            else {
                throw ValidationError("\(method.path): its message types are not in this client's schema")
            }
            let requests = try self.readRequests().map { json in
                do {
                    return RawMessage(bytes: try ProtobufJSON.decode(json: json, descriptor: inputType.protobufCDescriptor))
                } catch {
                    throw ValidationError("request for \(method.path) (\(method.inputType)): \(error)")
                }
            }
            if !method.kind.isClientStreaming && requests.count != 1 {
                throw ValidationError("\(method.path) is \(method.kind.rawValue): give exactly one --data")
            }
            let channel = try self.client.makeChannel()
            let options = self.client.callOptions()
            let printResponse: @Sendable (RawMessage) throws -> Void = { [pretty] response in
                Output.line(try ProtobufJSON.encode(serialized: response.bytes, descriptor: outputType.protobufCDescriptor, pretty: pretty))
            }
            switch method.kind {
            case .unary:
                let response = try await channel.unary(method, request: requests[0], responseType: RawMessage.self, options: options)
                try printResponse(response)
                try self.saveIfNewLogin(method, response)
            case .serverStreaming:
                try await channel.serverStreaming(method, request: requests[0], responseType: RawMessage.self, options: options) { responses in
                    for try await response in responses { try printResponse(response) }
                }
            case .clientStreaming:
                let response = try await channel.clientStreaming(method, requestType: RawMessage.self, responseType: RawMessage.self, options: options) { writer in
                    for request in requests { try await writer.write(request) }
                }
                try printResponse(response)
            case .bidiStreaming:
                try await channel.bidiStreaming(method, requestType: RawMessage.self, responseType: RawMessage.self, options: options) { writer, responses in
                    for request in requests { try await writer.write(request) }
                    writer.finish()
                    for try await response in responses { try printResponse(response) }
                }
            }
            await channel.close()
        }
    }

    /// Auth/Login and Auth/Refresh answer with a token (Refresh ends the session of the one
    /// sent): save it as `ova login` does, or the next command would send a dead token.
    private func saveIfNewLogin(_ method: MethodDescriptor, _ response: RawMessage) throws {
        guard method.path == "ova.v1.Auth/Login" || method.path == "ova.v1.Auth/Refresh" else { return }
        let login = try LoginResponse(serializedBytes: response.bytes)
        let previous = SavedToken.load(for: self.client.addr, includingExpired: true)
        try saveLogin(login, address: self.client.addr, email: login.admin?.email ?? previous?.email ?? "")
        FileHandle.standardError.write(Data("ova: token saved to \(SavedToken.path)\n".utf8))
    }

    private func resolveMethod() throws -> MethodDescriptor {
        let path = self.method.hasPrefix("/") ? String(self.method.dropFirst()) : self.method
        let candidates = [path, "ova.v1.\(path)"]
        for service in OvaSchema.services {
            if let method = service.methods.first(where: { candidates.contains($0.path) }) {
                return method
            }
        }
        throw ValidationError("unknown method \(self.method); `ova list` shows them (form: ova.v1.Echo/Unary)")
    }

    private func readRequests() throws -> [String] {
        if self.data.isEmpty { return ["{}"] }
        var requests: [String] = []
        for entry in self.data {
            if entry == "-" {
                while let line = readLine() {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if !trimmed.isEmpty { requests.append(trimmed) }
                }
            } else {
                requests.append(entry)
            }
        }
        return requests
    }
}
