import OvaCodegen
import Testing

@Suite struct NamingTests {
    @Test(arguments: [
        ("fail_with", "failWith"),
        ("response_count", "responseCount"),
        ("load_average_1m", "loadAverage1m"),
        ("text", "text"),
        ("Unary", "unary"),
        ("WhoAmI", "whoAmI"),
        ("ListServices", "listServices"),
        ("URLFetch", "urlFetch"),
        ("ID", "id"),
    ])
    func lowerCamelCase(input: String, expected: String) {
        #expect(Naming.lowerCamelCase(input) == expected)
    }

    @Test func upperCamelCaseAndSnakeCase() {
        #expect(Naming.upperCamelCase("request") == "Request")
        #expect(Naming.upperCamelCase("serving_status") == "ServingStatus")
        #expect(Naming.upperSnakeCase("AudioEncoding") == "AUDIO_ENCODING")
        #expect(Naming.upperSnakeCase("ServingStatus") == "SERVING_STATUS")
        #expect(Naming.upperSnakeCase("HTTPMethod") == "HTTP_METHOD")
    }

    @Test(arguments: [
        ("AUDIO_ENCODING_LINEAR16", "AudioEncoding", "linear16"),
        ("AUDIO_ENCODING_UNSPECIFIED", "AudioEncoding", "unspecified"),
        ("SERVING", "ServingStatus", "serving"),
        ("NOT_SERVING", "ServingStatus", "notServing"),
        ("CIRCUIT_STATE_HALF_OPEN", "CircuitState", "halfOpen"),
        ("FINISH_REASON_CONTENT_FILTER", "FinishReason", "contentFilter"),
        // A prefix that would leave a digit first is kept.
        ("PORT_8080", "Port", "port8080"),
    ])
    func enumCaseNames(value: String, enumName: String, expected: String) {
        #expect(Naming.enumCaseName(value, enumName: enumName) == expected)
    }

    @Test func keywordEscaping() {
        #expect(Naming.escaped("default") == "`default`")
        #expect(Naming.escaped("class") == "`class`")
        #expect(Naming.escaped("text") == "text")
        #expect(Naming.memberName("self") == "self_")
        #expect(Naming.memberName("Type") == "Type_")
        #expect(Naming.memberName("value") == "value")
    }

    @Test func protocCNames() {
        #expect(Naming.cTypeName("ova.v1.EchoRequest") == "Ova__V1__EchoRequest")
        #expect(Naming.cTypeName("ova.v1.EchoResponse.MetadataEntry") == "Ova__V1__EchoResponse__MetadataEntry")
        #expect(Naming.cFunctionPrefix("ova.v1.WhoAmIRequest") == "ova__v1__who_am_irequest")
        #expect(Naming.cFunctionPrefix("ova.v1.HealthCheckResponse.ServingStatus") == "ova__v1__health_check_response__serving_status")
        #expect(Naming.cFieldName("fail_with") == "fail_with")
        #expect(Naming.cFieldName("class") == "class_")
    }

    @Test func stringLiterals() {
        #expect(Naming.swiftStringLiteral("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"")
        #expect(Naming.pythonStringLiteral("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"")
    }

    /// Swift and Python spell other controls differently: Swift has no `\x01`, Python no `\u{1}`.
    @Test func controlCharactersInEachLanguage() {
        #expect(Naming.swiftStringLiteral("\u{01}\u{7F}é") == #""\u{1}\u{7f}é""#)
        #expect(Naming.pythonStringLiteral("\u{01}\u{7F}é") == #""\x01\x7fé""#)
    }

    @Test func outputNames() {
        #expect(Generator.outputName(for: "ova/v1/echo.proto") == "echo.ova.swift")
        #expect(Generator.outputName(for: "x.proto") == "x.ova.swift")
    }
}
