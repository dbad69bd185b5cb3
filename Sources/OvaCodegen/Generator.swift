/// protoc-gen-ova's generator: the model of a request in, Swift files out.
///
/// Output per `.proto` file: `<name>.ova.swift` with its messages, enums, service descriptors,
/// handler protocols and clients; plus one `OvaSchema.ova.swift` registry of everything in the
/// files to generate. Output depends only on the schema, never on the order protoc lists files.
public enum Generator {
    public static let registryFileName = "OvaSchema.ova.swift"

    /// Options from protoc's `--ova_opt` (comma-separated `key=value`).
    public struct Options: Sendable, Hashable {
        /// Whether to write `OvaSchema.ova.swift` (`Registry=false` turns it off).
        public var registry = true
        /// `lang=python`: typed Python clients instead of Swift (see `PythonRenderer`).
        public var python = false
        /// The Swift module holding the protoc-c output of the files (`CModule=CGreeterProto`):
        /// users' own schemas live in their own C target.
        public var cModule = "COvaProto"

        public init() {}

        public init(parameter: String) throws(CodegenError) {
            for item in parameter.split(separator: ",") where !item.isEmpty {
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
                let key = parts[0]
                let value = parts.count > 1 ? parts[1] : ""
                switch key {
                case "Registry":
                    switch value.lowercased() {
                    case "true", "yes", "1": self.registry = true
                    case "false", "no", "0": self.registry = false
                    default: throw CodegenError("protoc-gen-ova: Registry must be true or false, not \(value)")
                    }
                case "lang":
                    switch value.lowercased() {
                    case "swift": self.python = false
                    case "python": self.python = true
                    default: throw CodegenError("protoc-gen-ova: lang must be swift or python, not \(value)")
                    }
                case "CModule":
                    guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !(value.first?.isNumber ?? true) else {
                        throw CodegenError("protoc-gen-ova: CModule must be a Swift module name, not \(value)")
                    }
                    self.cModule = value
                default:
                    throw CodegenError("protoc-gen-ova: unknown option \(key)")
                }
            }
        }
    }

    /// Runs the plugin on serialized `CodeGeneratorRequest` bytes and returns the serialized
    /// `CodeGeneratorResponse` (errors are reported in it).
    public static func run(requestBytes: [UInt8]) -> [UInt8] {
        do {
            let request = try PluginIO.decodeRequest(requestBytes)
            let files = try Self.generate(request)
            return PluginIO.encodeResponse(files: files, error: nil)
        } catch {
            return PluginIO.encodeResponse(files: [], error: error.message)
        }
    }

    public static func generate(_ request: PluginRequest) throws(CodegenError) -> [GeneratedFile] {
        let options = try Options(parameter: request.parameter)
        let symbols = try SymbolTable(files: request.files)
        var filesByName: [String: ProtoFile] = [:]
        for file in request.files { filesByName[file.name] = file }

        var targets: [ProtoFile] = []
        for name in request.filesToGenerate.sorted() {
            guard let file = filesByName[name] else {
                throw CodegenError("protoc-gen-ova: \(name) is not among the request's files")
            }
            targets.append(file)
        }

        var output: [GeneratedFile] = []
        if options.python {
            for file in targets {
                if let content = try PythonRenderer.render(file, symbols: symbols) {
                    output.append(GeneratedFile(name: PythonRenderer.outputName(for: file.name), content: content))
                }
            }
            return output
        }
        var outputNames: [String: String] = [:]
        for file in targets {
            let name = Self.outputName(for: file.name)
            if let other = outputNames[name] {
                throw CodegenError("protoc-gen-ova: \(file.name) and \(other) would both generate \(name)")
            }
            if name == Self.registryFileName {
                throw CodegenError("protoc-gen-ova: \(file.name) would overwrite the registry \(name)")
            }
            outputNames[name] = file.name
            output.append(GeneratedFile(name: name, content: try Self.render(file, symbols: symbols, cModule: options.cModule)))
        }
        if options.registry && !targets.isEmpty {
            output.append(GeneratedFile(name: Self.registryFileName, content: try Self.renderRegistry(targets, symbols: symbols)))
        }
        return output
    }

    /// `ova/v1/echo.proto` → `echo.ova.swift`.
    public static func outputName(for protoFile: String) -> String {
        var base = protoFile.split(separator: "/").last.map(String.init) ?? protoFile
        if base.hasSuffix(".proto") { base.removeLast(".proto".count) }
        return base + ".ova.swift"
    }

    static func header(source: String) -> String {
        """
        // DO NOT EDIT.
        // swift-format-ignore-file
        // Generated by protoc-gen-ova from \(source)

        """
    }

    static func imports(cModule: String) -> String {
        """
        import CProtobufC
        import \(cModule)
        import NIOCore
        import OvaProtobuf
        import OvaRPC

        """
    }

    /// The Swift source for one `.proto` file.
    public static func render(_ file: ProtoFile, in request: PluginRequest) throws(CodegenError) -> String {
        try Self.render(file, symbols: SymbolTable(files: request.files))
    }

    static func render(_ file: ProtoFile, symbols: SymbolTable, cModule: String = "COvaProto") throws(CodegenError) -> String {
        if file.syntax != "proto3" {
            throw CodegenError("\(file.name): only proto3 schemas are supported (syntax is \"\(file.syntax)\")")
        }
        let messages = MessageRenderer(symbols: symbols)
        let services = ServiceRenderer(symbols: symbols)
        var messagePlans: [MessageRenderer.MessagePlan] = []
        for message in file.messages where !message.isMapEntry {
            messagePlans.append(try messages.makePlan(message))
        }
        try Self.checkNoValueCycles(file.messages, symbols: symbols)
        var servicePlans: [(ProtoService, [ServiceRenderer.MethodPlan])] = []
        for service in file.services {
            servicePlans.append((service, try services.plan(service)))
        }

        var p = CodePrinter()
        p.printLine(Self.header(source: file.name))
        p.printLine(Self.imports(cModule: cModule))
        for protoEnum in file.enums {
            p.print("// MARK: - \(protoEnum.fullName)", "")
            messages.render(protoEnum, into: &p)
            p.print("")
        }
        for plan in messagePlans {
            p.print("// MARK: - \(plan.message.fullName)", "")
            messages.render(plan, into: &p)
            p.print("")
        }
        for (service, methods) in servicePlans {
            p.print("// MARK: - \(service.fullName)", "")
            services.render(service, file: file, methods: methods, into: &p)
            p.print("")
        }
        var content = p.content
        while content.hasSuffix("\n\n") { content.removeLast() }
        return content
    }

    /// A message that contains itself through singular message fields (directly or not) would
    /// be a Swift struct of infinite size.
    static func checkNoValueCycles(_ messages: [ProtoMessage], symbols: SymbolTable) throws(CodegenError) {
        func singularMessageFields(_ message: ProtoMessage) -> [String] {
            message.fields.filter { $0.type == .message && !$0.isRepeated }.map(\.typeName)
        }
        func visit(_ name: String, _ path: [String]) throws(CodegenError) {
            if path.contains(name) {
                throw CodegenError("\(path.first ?? name): recursive message (\((path + [name]).joined(separator: " -> "))) is not supported")
            }
            guard let message = symbols.symbols[name]?.message else { return }
            for child in singularMessageFields(message) {
                try visit(child, path + [name])
            }
        }
        func all(_ messages: [ProtoMessage]) -> [ProtoMessage] {
            messages.flatMap { [$0] + all($0.nestedMessages) }
        }
        for message in all(messages) {
            try visit(message.fullName, [])
        }
    }

    /// `OvaSchema.ova.swift`: every service and message of the generated files.
    static func renderRegistry(_ files: [ProtoFile], symbols: SymbolTable) throws(CodegenError) -> String {
        var services: [(String, String)] = []  // full name, Swift descriptor
        var messages: [(String, String)] = []  // full name, Swift type
        func collect(_ message: ProtoMessage) {
            guard !message.isMapEntry else { return }
            if let symbol = symbols.symbols[message.fullName] {
                messages.append((message.fullName, symbol.swiftName))
            }
            for nested in message.nestedMessages { collect(nested) }
        }
        for file in files {
            for service in file.services {
                services.append((service.fullName, ServiceRenderer.namespace(service) + ".descriptor"))
            }
            for message in file.messages { collect(message) }
        }
        services.sort { $0.0 < $1.0 }
        messages.sort { $0.0 < $1.0 }

        var p = CodePrinter()
        p.printLine(Self.header(source: files.map(\.name).sorted().joined(separator: ", ")))
        p.printLine("""
            import OvaProtobuf
            import OvaRPC

            """)
        p.print("/// Everything the schema defines: services and message types, for reflection and tools.")
        p.block("public enum OvaSchema") { p in
            p.print("/// Every service, sorted by full name.")
            p.print("public static let services: [OvaRPC.ServiceDescriptor] = [")
            p.indent()
            for (_, descriptor) in services { p.print(descriptor + ",") }
            p.outdent()
            p.print("]")
            p.blankLine()
            p.print("/// Every generated message type (nested ones included), sorted by full name.")
            p.print("public static let messageTypes: [any OvaProtobuf.ProtobufMessage.Type] = [")
            p.indent()
            for (_, type) in messages { p.print(type + ".self,") }
            p.outdent()
            p.print("]")
            p.blankLine()
            p.block("private static let messageTypesByName: [String: any OvaProtobuf.ProtobufMessage.Type] =", closing: "}()") { p in
                p.print("var types: [String: any OvaProtobuf.ProtobufMessage.Type] = [:]")
                p.print("for type in messageTypes { types[type.protoMessageName] = type }")
                p.print("return types")
            }
            p.blankLine()
            p.print("/// The message type with the full name `fullName` (e.g. `ova.v1.EchoRequest`; a leading dot is ignored).")
            p.block("public static func messageType(named fullName: String) -> (any OvaProtobuf.ProtobufMessage.Type)?") { p in
                p.print("messageTypesByName[fullName.hasPrefix(\".\") ? String(fullName.dropFirst()) : fullName]")
            }
            p.blankLine()
            p.print("/// The service with the full name `name` (e.g. `ova.v1.Echo`).")
            p.block("public static func service(named name: String) -> OvaRPC.ServiceDescriptor?") { p in
                p.print("services.first { $0.name == name }")
            }
        }
        return p.content
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
