import Testing

@testable import OvaCodegen

@Suite("protoc-gen-ova options")
struct GeneratorOptionsTests {
    @Test("CModule names the C module of a user's own schema; bad values are refused")
    func cModule() throws {
        let options = try Generator.Options(parameter: "CModule=CGreeterProto,Registry=false")
        #expect(options.cModule == "CGreeterProto")
        #expect(options.registry == false)
        #expect(try Generator.Options(parameter: "").cModule == "COvaProto")
        #expect(Generator.imports(cModule: "CGreeterProto").contains("import CGreeterProto\n"))
        for bad in ["CModule=", "CModule=1abc", "CModule=a-b", "CModule=x;import Foundation", "Unknown=1"] {
            #expect(throws: CodegenError.self) { _ = try Generator.Options(parameter: bad) }
        }
    }
}
