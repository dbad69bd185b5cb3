import CProtobufC
import CProtocPlugin

/// Decodes protoc's `CodeGeneratorRequest` (with the protoc-c code for plugin.proto) into the
/// neutral model, and encodes the `CodeGeneratorResponse`.
public enum PluginIO {
    /// Decodes a serialized `CodeGeneratorRequest`.
    public static func decodeRequest(_ bytes: [UInt8]) throws(CodegenError) -> PluginRequest {
        let decoded: UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorRequest>? = bytes.withUnsafeBufferPointer { buffer in
            google__protobuf__compiler__code_generator_request__unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let request = decoded else {
            throw CodegenError("protoc-gen-ova: could not decode the CodeGeneratorRequest (\(bytes.count) bytes)")
        }
        defer { google__protobuf__compiler__code_generator_request__free_unpacked(request, nil) }

        let filesToGenerate = strings(request.pointee.file_to_generate, request.pointee.n_file_to_generate)
        var files: [ProtoFile] = []
        for file in pointers(request.pointee.proto_file, request.pointee.n_proto_file) {
            files.append(try Self.file(file))
        }
        return PluginRequest(files: files, filesToGenerate: filesToGenerate, parameter: string(request.pointee.parameter))
    }

    /// Decodes a serialized `FileDescriptorSet` (e.g. `protoc --descriptor_set_out`).
    public static func decodeFileDescriptorSet(_ bytes: [UInt8]) throws(CodegenError) -> [ProtoFile] {
        let decoded: UnsafeMutablePointer<Google__Protobuf__FileDescriptorSet>? = bytes.withUnsafeBufferPointer { buffer in
            google__protobuf__file_descriptor_set__unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let set = decoded else {
            throw CodegenError("could not decode the FileDescriptorSet (\(bytes.count) bytes)")
        }
        defer { google__protobuf__file_descriptor_set__free_unpacked(set, nil) }
        var files: [ProtoFile] = []
        for file in pointers(set.pointee.file, set.pointee.n_file) {
            files.append(try Self.file(file))
        }
        return files
    }

    /// Encodes a `CodeGeneratorResponse` with `files`, or with `error` set.
    public static func encodeResponse(files: [GeneratedFile], error: String?) -> [UInt8] {
        var response = Google__Protobuf__Compiler__CodeGeneratorResponse()
        google__protobuf__compiler__code_generator_response__init(&response)

        // Every C string and struct lives until packing is done.
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        defer { for pointer in cStrings { pointer.deallocate() } }
        func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
            let pointer = strdupSwift(text)
            cStrings.append(pointer)
            return pointer
        }

        if let error {
            response.error = cString(error)
        }
        let entries = UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>.allocate(capacity: max(files.count, 1))
        let entryPointers = UnsafeMutablePointer<UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>?>.allocate(capacity: max(files.count, 1))
        defer {
            entries.deallocate()
            entryPointers.deallocate()
        }
        if error == nil {
            for (index, file) in files.enumerated() {
                let entry = entries + index
                google__protobuf__compiler__code_generator_response__file__init(entry)
                entry.pointee.name = cString(file.name)
                entry.pointee.content = cString(file.content)
                entryPointers[index] = entry
            }
            response.n_file = files.count
            response.file = entryPointers
        }

        return withUnsafePointer(to: &response) { pointer in
            let size = google__protobuf__compiler__code_generator_response__get_packed_size(pointer)
            var output = [UInt8](repeating: 0, count: size)
            let written = output.withUnsafeMutableBufferPointer { buffer in
                google__protobuf__compiler__code_generator_response__pack(pointer, buffer.baseAddress)
            }
            return Array(output.prefix(written))
        }
    }

    // MARK: - Descriptor protos to the model

    static func file(_ file: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) throws(CodegenError) -> ProtoFile {
        let name = string(file.pointee.name)
        let package = string(file.pointee.package)
        let prefix = package.isEmpty ? "" : package + "."
        var messages: [ProtoMessage] = []
        for message in pointers(file.pointee.message_type, file.pointee.n_message_type) {
            messages.append(try Self.message(message, scope: prefix))
        }
        var enums: [ProtoEnum] = []
        for protoEnum in pointers(file.pointee.enum_type, file.pointee.n_enum_type) {
            enums.append(Self.protoEnum(protoEnum, scope: prefix))
        }
        var services: [ProtoService] = []
        for service in pointers(file.pointee.service, file.pointee.n_service) {
            let serviceName = string(service.pointee.name)
            var methods: [ProtoMethod] = []
            for method in pointers(service.pointee.method, service.pointee.n_method) {
                methods.append(ProtoMethod(
                    name: string(method.pointee.name),
                    inputType: typeName(string(method.pointee.input_type)),
                    outputType: typeName(string(method.pointee.output_type)),
                    clientStreaming: method.pointee.has_client_streaming != 0 && method.pointee.client_streaming != 0,
                    serverStreaming: method.pointee.has_server_streaming != 0 && method.pointee.server_streaming != 0
                ))
            }
            services.append(ProtoService(name: serviceName, fullName: prefix + serviceName, methods: methods))
        }
        return ProtoFile(
            name: name,
            package: package,
            syntax: string(file.pointee.syntax),
            dependencies: strings(file.pointee.dependency, file.pointee.n_dependency),
            messages: messages,
            enums: enums,
            services: services
        )
    }

    static func message(_ message: UnsafeMutablePointer<Google__Protobuf__DescriptorProto>, scope: String) throws(CodegenError) -> ProtoMessage {
        let name = string(message.pointee.name)
        let fullName = scope + name
        var fields: [ProtoField] = []
        for field in pointers(message.pointee.field, message.pointee.n_field) {
            let fieldName = string(field.pointee.name)
            guard field.pointee.has_type != 0, let type = ProtoFieldType(rawValue: Int32(truncatingIfNeeded: field.pointee.type.rawValue)) else {
                throw CodegenError("\(fullName).\(fieldName): unknown field type")
            }
            let labelRaw = field.pointee.has_label != 0 ? Int32(truncatingIfNeeded: field.pointee.label.rawValue) : 1
            let label = ProtoFieldLabel(rawValue: labelRaw) ?? .optional
            fields.append(ProtoField(
                name: fieldName,
                number: field.pointee.number,
                label: label,
                type: type,
                typeName: typeName(string(field.pointee.type_name)),
                jsonName: string(field.pointee.json_name),
                oneofIndex: field.pointee.has_oneof_index != 0 ? Int(field.pointee.oneof_index) : nil,
                isProto3Optional: field.pointee.has_proto3_optional != 0 && field.pointee.proto3_optional != 0
            ))
        }
        let oneofs = pointers(message.pointee.oneof_decl, message.pointee.n_oneof_decl).map { string($0.pointee.name) }
        var nested: [ProtoMessage] = []
        for child in pointers(message.pointee.nested_type, message.pointee.n_nested_type) {
            nested.append(try Self.message(child, scope: fullName + "."))
        }
        let enums = pointers(message.pointee.enum_type, message.pointee.n_enum_type).map {
            Self.protoEnum($0, scope: fullName + ".")
        }
        var isMapEntry = false
        if let options = message.pointee.options {
            isMapEntry = options.pointee.has_map_entry != 0 && options.pointee.map_entry != 0
        }
        return ProtoMessage(
            name: name,
            fullName: fullName,
            fields: fields,
            oneofs: oneofs,
            nestedMessages: nested,
            nestedEnums: enums,
            isMapEntry: isMapEntry
        )
    }

    static func protoEnum(_ protoEnum: UnsafeMutablePointer<Google__Protobuf__EnumDescriptorProto>, scope: String) -> ProtoEnum {
        let name = string(protoEnum.pointee.name)
        let values = pointers(protoEnum.pointee.value, protoEnum.pointee.n_value).map {
            ProtoEnumValue(name: string($0.pointee.name), number: $0.pointee.number)
        }
        return ProtoEnum(name: name, fullName: scope + name, values: values)
    }
}

// MARK: - C helpers

/// ".ova.v1.Foo" → "ova.v1.Foo".
private func typeName(_ name: String) -> String {
    name.hasPrefix(".") ? String(name.dropFirst()) : name
}

private func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

private func strings(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int) -> [String] {
    guard let pointer else { return [] }
    return (0..<count).map { string(pointer[$0]) }
}

private func pointers<T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [UnsafeMutablePointer<T>] {
    guard let pointer else { return [] }
    return (0..<count).compactMap { pointer[$0] }
}

/// A NUL-terminated copy (release with `deallocate()`).
private func strdupSwift(_ text: String) -> UnsafeMutablePointer<CChar> {
    var text = text
    return text.withUTF8 { utf8 in
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        utf8.withMemoryRebound(to: CChar.self) { source in
            if let base = source.baseAddress {
                pointer.initialize(from: base, count: source.count)
            }
        }
        pointer[utf8.count] = 0
        return pointer
    }
}
