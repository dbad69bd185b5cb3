/// Renders a service's descriptors, handler protocol (with its router registration) and typed
/// client.
struct ServiceRenderer {
    let symbols: SymbolTable

    struct MethodPlan {
        let method: ProtoMethod
        /// lowerCamelCase, escaped: `whoAmI`.
        let swiftName: String
        let input: String
        let output: String
    }

    static func namespace(_ service: ProtoService) -> String { Naming.escaped(service.name + "Service") }
    static func handler(_ service: ProtoService) -> String { service.name + "Handler" }
    static func client(_ service: ProtoService) -> String { service.name + "Client" }

    func plan(_ service: ProtoService) throws(CodegenError) -> [MethodPlan] {
        var plans: [MethodPlan] = []
        var used: Set<String> = []
        for method in service.methods {
            let user = "\(service.fullName).\(method.name)"
            let input = try self.symbols.symbol(method.inputType, usedBy: user)
            let output = try self.symbols.symbol(method.outputType, usedBy: user)
            guard input.message != nil, output.message != nil else {
                throw CodegenError("\(user): request and response must be messages")
            }
            let name = Naming.memberName(Naming.lowerCamelCase(method.name))
            guard used.insert(name).inserted else {
                throw CodegenError("\(user): two methods map to the Swift name \(name)")
            }
            plans.append(MethodPlan(method: method, swiftName: Naming.escaped(name), input: input.swiftName, output: output.swiftName))
        }
        return plans
    }

    func render(_ service: ProtoService, file: ProtoFile, methods: [MethodPlan], into p: inout CodePrinter) {
        let namespace = Self.namespace(service)
        let handler = Self.handler(service)
        let client = Self.client(service)

        // Descriptors.
        p.print("/// The `\(service.fullName)` service: its descriptor and those of its methods.")
        p.block("public enum \(namespace)") { p in
            p.block("public enum Method") { p in
                for plan in methods {
                    let method = plan.method
                    p.print("/// `\(service.fullName)/\(method.name)`: \(Self.kindPhrase(method.kind)).")
                    p.print("public static let \(plan.swiftName) = OvaRPC.MethodDescriptor(")
                    p.indent()
                    p.print("service: \(Naming.swiftStringLiteral(service.fullName)),")
                    p.print("name: \(Naming.swiftStringLiteral(method.name)),")
                    p.print("kind: .\(method.kind.rawValue),")
                    p.print("inputType: \(Naming.swiftStringLiteral(method.inputType)),")
                    p.print("outputType: \(Naming.swiftStringLiteral(method.outputType))")
                    p.outdent()
                    p.print(")")
                }
            }
            p.blankLine()
            p.print("public static let descriptor = OvaRPC.ServiceDescriptor(")
            p.indent()
            p.print("name: \(Naming.swiftStringLiteral(service.fullName)),")
            p.print("file: \(Naming.swiftStringLiteral(file.name)),")
            p.print("methods: [\(methods.map { "Method.\($0.swiftName)" }.joined(separator: ", "))]")
            p.outdent()
            p.print(")")
        }

        // Handler protocol.
        p.blankLine()
        p.print("/// Implements `\(service.fullName)`; register it with `RPCRouter.register(_:)`.")
        p.block("public protocol \(handler): OvaRPC.RPCService") { p in
            for (index, plan) in methods.enumerated() {
                if index > 0 { p.blankLine() }
                p.print("/// `\(service.fullName)/\(plan.method.name)` (\(Self.kindPhrase(plan.method.kind))).")
                p.print(self.handlerRequirement(plan))
            }
        }
        p.blankLine()
        p.block("extension \(handler)") { p in
            p.block("public func registerMethods(with router: inout OvaRPC.RPCRouter)") { p in
                for plan in methods {
                    let descriptor = "\(namespace).Method.\(plan.swiftName)"
                    switch plan.method.kind {
                    case .unary:
                        p.closure("router.registerUnary(\(descriptor)) { (request: \(plan.input), context: OvaRPC.ServerContext) async throws -> \(plan.output) in") { p in
                            p.print("try await self.\(plan.swiftName)(request: request, context: context)")
                        }
                    case .serverStreaming:
                        p.closure("router.registerServerStreaming(\(descriptor)) { (request: \(plan.input), responses: OvaRPC.RPCResponseWriter<\(plan.output)>, context: OvaRPC.ServerContext) async throws in") { p in
                            p.print("try await self.\(plan.swiftName)(request: request, responses: responses, context: context)")
                        }
                    case .clientStreaming:
                        p.closure("router.registerClientStreaming(\(descriptor)) { (requests: OvaRPC.RPCRequestStream<\(plan.input)>, context: OvaRPC.ServerContext) async throws -> \(plan.output) in") { p in
                            p.print("try await self.\(plan.swiftName)(requests: requests, context: context)")
                        }
                    case .bidiStreaming:
                        p.closure("router.registerBidiStreaming(\(descriptor)) { (requests: OvaRPC.RPCRequestStream<\(plan.input)>, responses: OvaRPC.RPCResponseWriter<\(plan.output)>, context: OvaRPC.ServerContext) async throws in") { p in
                            p.print("try await self.\(plan.swiftName)(requests: requests, responses: responses, context: context)")
                        }
                    }
                }
            }
        }

        // Client.
        p.blankLine()
        p.print("/// Calls `\(service.fullName)` over an `RPCChannel`.")
        p.block("public struct \(client): Sendable") { p in
            p.print("public let channel: OvaRPC.RPCChannel")
            p.blankLine()
            p.block("public init(channel: OvaRPC.RPCChannel)") { p in
                p.print("self.channel = channel")
            }
            for plan in methods {
                p.blankLine()
                self.renderClientMethod(plan, namespace: namespace, service: service, into: &p)
            }
        }
    }

    func handlerRequirement(_ plan: MethodPlan) -> String {
        let name = plan.swiftName
        switch plan.method.kind {
        case .unary:
            return "func \(name)(request: \(plan.input), context: OvaRPC.ServerContext) async throws -> \(plan.output)"
        case .serverStreaming:
            return "func \(name)(request: \(plan.input), responses: OvaRPC.RPCResponseWriter<\(plan.output)>, context: OvaRPC.ServerContext) async throws"
        case .clientStreaming:
            return "func \(name)(requests: OvaRPC.RPCRequestStream<\(plan.input)>, context: OvaRPC.ServerContext) async throws -> \(plan.output)"
        case .bidiStreaming:
            return "func \(name)(requests: OvaRPC.RPCRequestStream<\(plan.input)>, responses: OvaRPC.RPCResponseWriter<\(plan.output)>, context: OvaRPC.ServerContext) async throws"
        }
    }

    func renderClientMethod(_ plan: MethodPlan, namespace: String, service: ProtoService, into p: inout CodePrinter) {
        let descriptor = "\(namespace).Method.\(plan.swiftName)"
        let name = plan.swiftName
        let input = plan.input
        let output = plan.output
        p.print("/// Calls `\(service.fullName)/\(plan.method.name)` (\(Self.kindPhrase(plan.method.kind))).")
        switch plan.method.kind {
        case .unary:
            p.block("public func \(name)(_ request: \(input), options: OvaRPC.CallOptions = .defaults) async throws -> \(output)") { p in
                p.print("try await self.channel.unary(\(descriptor), request: request, responseType: \(output).self, options: options)")
            }
            p.blankLine()
            p.print("/// Calls `\(service.fullName)/\(plan.method.name)` (unary); `onResponse` also reads the response's initial metadata.")
            p.print("public func \(name)<Result: Sendable>(")
            p.print("    _ request: \(input),")
            p.print("    options: OvaRPC.CallOptions = .defaults,")
            p.print("    onResponse: (OvaRPC.RPCResponse<\(output)>) async throws -> Result")
            p.block(") async throws -> Result") { p in
                p.print("try await self.channel.unary(\(descriptor), request: request, responseType: \(output).self, options: options, onResponse: onResponse)")
            }
        case .serverStreaming:
            p.print("public func \(name)<Result: Sendable>(")
            p.print("    _ request: \(input),")
            p.print("    options: OvaRPC.CallOptions = .defaults,")
            p.print("    _ body: (OvaRPC.RPCResponseStream<\(output)>) async throws -> Result")
            p.block(") async throws -> Result") { p in
                p.print("try await self.channel.serverStreaming(\(descriptor), request: request, responseType: \(output).self, options: options, body: body)")
            }
        case .clientStreaming:
            p.print("public func \(name)(")
            p.print("    options: OvaRPC.CallOptions = .defaults,")
            p.print("    _ body: (OvaRPC.RPCRequestWriter<\(input)>) async throws -> Void")
            p.block(") async throws -> \(output)") { p in
                p.print("try await self.channel.clientStreaming(\(descriptor), requestType: \(input).self, responseType: \(output).self, options: options, body: body)")
            }
            p.blankLine()
            p.print("/// Calls `\(service.fullName)/\(plan.method.name)` (client streaming); `onResponse` also reads the response's initial metadata.")
            p.print("public func \(name)<Result: Sendable>(")
            p.print("    options: OvaRPC.CallOptions = .defaults,")
            p.print("    _ body: (OvaRPC.RPCRequestWriter<\(input)>) async throws -> Void,")
            p.print("    onResponse: (OvaRPC.RPCResponse<\(output)>) async throws -> Result")
            p.block(") async throws -> Result") { p in
                p.print("try await self.channel.clientStreaming(\(descriptor), requestType: \(input).self, responseType: \(output).self, options: options, body: body, onResponse: onResponse)")
            }
        case .bidiStreaming:
            p.print("public func \(name)<Result: Sendable>(")
            p.print("    options: OvaRPC.CallOptions = .defaults,")
            p.print("    _ body: (OvaRPC.RPCRequestWriter<\(input)>, OvaRPC.RPCResponseStream<\(output)>) async throws -> Result")
            p.block(") async throws -> Result") { p in
                p.print("try await self.channel.bidiStreaming(\(descriptor), requestType: \(input).self, responseType: \(output).self, options: options, body: body)")
            }
        }
    }

    static func kindPhrase(_ kind: ProtoMethod.Kind) -> String {
        switch kind {
        case .unary: return "unary"
        case .clientStreaming: return "client streaming"
        case .serverStreaming: return "server streaming"
        case .bidiStreaming: return "bidirectional streaming"
        }
    }
}
