import Testing

@testable import OvaProviders

@Suite("ProviderError")
struct ProviderErrorTests {
    @Test func retryableKinds() {
        #expect(ProviderError.connect("refused").isRetryable)
        #expect(ProviderError.timeout.isRetryable)
        #expect(ProviderError.modelLoading(estimatedSeconds: nil).isRetryable)
        for status in [429, 502, 503, 504] {
            #expect(ProviderError.http(status: status, message: "", retryAfter: nil).isRetryable)
        }
        for status in [400, 401, 403, 404, 413, 422, 500, 501] {
            #expect(!ProviderError.http(status: status, message: "", retryAfter: nil).isRetryable)
        }
        #expect(!ProviderError.notConfigured(setting: "HF_API_KEY").isRetryable)
        #expect(!ProviderError.malformedResponse("x").isRetryable)
        #expect(!ProviderError.cancelled.isRetryable)
        #expect(!ProviderError.tooLarge.isRetryable)
        #expect(!ProviderError.invalidRequest("x").isRetryable)
    }

    @Test func retryAfter() {
        #expect(ProviderError.http(status: 429, message: "", retryAfter: .seconds(7)).retryAfter == .seconds(7))
        #expect(ProviderError.modelLoading(estimatedSeconds: 1.5).retryAfter == .milliseconds(1500))
        #expect(ProviderError.modelLoading(estimatedSeconds: nil).retryAfter == nil)
        #expect(ProviderError.modelLoading(estimatedSeconds: -3).retryAfter == nil)
        #expect(ProviderError.modelLoading(estimatedSeconds: .infinity).retryAfter == nil)
        #expect(ProviderError.timeout.retryAfter == nil)
    }

    @Test(arguments: [
        ("7", Duration.seconds(7)), (" 120 ", .seconds(120)), ("0", .seconds(0)), ("999999999", .seconds(86_400)),
    ])
    func retryAfterSeconds(value: String, expected: Duration) {
        #expect(ProviderResponse.retryAfter(HTTPResponseHead(status: 429, headers: [("Retry-After", value)])) == expected)
    }

    @Test(arguments: ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", "", "12345678901234567890", "7s"])
    func retryAfterIgnoresWhatIsNotDeltaSeconds(value: String) {
        #expect(ProviderResponse.retryAfter(HTTPResponseHead(status: 429, headers: [("retry-after", value)])) == nil)
    }

    @Test func descriptionIsSafeToLog() {
        let error = ProviderError.http(status: 400, message: "bad\ninput\u{1B}[31m" + String(repeating: "z", count: 500), retryAfter: nil)
        let text = error.description
        #expect(!text.contains("\n"))
        #expect(!text.contains("\u{1B}"))
        #expect(text.count < 260)
        #expect(ProviderError.notConfigured(setting: "HF_API_KEY").description.contains("HF_API_KEY"))
    }

    @Test func errorMessageFields() {
        func message(_ json: String) -> String { ProviderResponse.errorMessage(Array(json.utf8), redacting: "KEY") }
        #expect(message(#"{"error": "plain"}"#) == "plain")
        #expect(message(#"{"error": {"message": "nested"}}"#) == "nested")
        #expect(message(#"{"error": ["one", "two"]}"#) == "one; two")
        #expect(message(#"{"message": "top"}"#) == "top")
        #expect(message(#"{"detail": "fastapi"}"#) == "fastapi")
        #expect(message(#"{"error": "has KEY inside"}"#) == "has [redacted] inside")
        #expect(message("  plain text body  ") == "plain text body")
        #expect(message(#"{"other": 1}"#) == #"{"other": 1}"#)
    }

    @Test func headLookupIsCaseInsensitive() {
        let head = HTTPResponseHead(status: 200, headers: [("Content-Type", "Audio/FLAC; rate=16000")])
        #expect(head.header("content-type") == "Audio/FLAC; rate=16000")
        #expect(head.header("CONTENT-TYPE") != nil)
        #expect(head.mediaType == "audio/flac")
        #expect(head.header("missing") == nil)
    }

    @Test func timeoutMilliseconds() {
        #expect(CurlTransfer.milliseconds(.milliseconds(500)) == 500)
        #expect(CurlTransfer.milliseconds(.zero) == 1)
        #expect(CurlTransfer.milliseconds(.seconds(-5)) == 1)
        #expect(CurlTransfer.milliseconds(.seconds(30)) == 30_000)
        #expect(CurlTransfer.milliseconds(.seconds(Int64.max)) == Int.max)
    }
}
