import Foundation
import NIOCore
import OvaFakeUpstream
import OvaProto
import OvaRPC
import OvaTestServer
import Testing

/// Runs `body` with a fresh `ova` environment (its own token file) and a real server.
private func withServer(
    _ environment: [String: String] = [:],
    _ body: (OvaProcess, AccountsServer, _ address: String) async throws -> Void
) async throws {
    let ova = try OvaProcess()
    defer { ova.remove() }
    try await withAccountsServer(environment) { server, _ in
        try await body(ova, server, "127.0.0.1:\(server.port)")
    }
}

@Suite("ova: connection failures name their fix")
struct ConnectionFailureTests {
    @Test("nothing listening: is ova-server running?")
    func nothingListening() async throws {
        let ova = try OvaProcess()
        defer { ova.remove() }
        let port = try await LoopbackPeers.closedPort()
        let result = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.1:\(port)", "--insecure"])
        #expect(result.status == 14)
        #expect(result.standardError == "ova: nothing is listening on 127.0.0.1:\(port): is ova-server running? `make run`\n")
    }

    @Test("--addr with several addresses: a dead one is skipped; none alive names each; a bad list is a usage error")
    func severalAddresses() async throws {
        // Ports 1 and 2: below the ephemeral range, so no server of a parallel test (listening
        // on port 0) can be handed one of them between here and the call, as a port closed a
        // moment ago can.
        let dead = 1
        let otherDead = 2
        try await withServer { ova, _, address in
            // Whichever address the random start picks, the call ends on the live one.
            for _ in 0..<3 {
                let result = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.1:\(dead), \(address)", "--insecure"])
                #expect(result.status == 0, "\(result.standardError)")
            }
        }
        let ova = try OvaProcess()
        defer { ova.remove() }
        let none = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.1:\(dead),127.0.0.1:\(otherDead)", "--insecure"])
        #expect(none.status == 14)
        #expect(none.standardError.hasPrefix("ova: UNAVAILABLE: no server address answered: "))
        #expect(none.standardError.contains("127.0.0.1:\(dead)") && none.standardError.contains("127.0.0.1:\(otherDead)"))
        let invalid = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.1:\(dead),", "--insecure"])
        #expect(invalid.status == 64)
        #expect(invalid.standardError.contains("expected host:port, or host:port,host:port,..."))
    }

    @Test("a plain HTTP listener is not an OVA server (WRONG_VERSION_NUMBER)")
    func httpListener() async throws {
        let ova = try OvaProcess()
        defer { ova.remove() }
        try await LoopbackPeers.withHTTPListener { port in
            let result = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.1:\(port)", "--insecure"])
            #expect(result.status == 14)
            #expect(result.standardError == "ova: 127.0.0.1:\(port) is not an OVA server (TLS said WRONG_VERSION_NUMBER)\n")
        }
    }

    @Test("the development certificate without --ca, one for another name, a TLS peer without ova/1")
    func certificates() async throws {
        try await withServer { ova, server, address in
            let certificate = server.running.tls.certificatePath
            let untrusted = try await ova.run(["call", "ova.v1.Health/Check", "--addr", address])
            #expect(untrusted.status == 14)
            #expect(untrusted.standardError == "ova: the server's certificate is not trusted: pass `--ca data/dev-cert.pem` "
                + "(the development server's certificate) or `--insecure` for a development server\n")
            #expect(!untrusted.standardError.contains("BoringSSL"))

            // The same certificate, trusted: the call works.
            let trusted = try await ova.run(["call", "ova.v1.Health/Check", "--addr", address, "--ca", certificate])
            #expect(trusted.status == 0)
            #expect(trusted.standardOutput == "{\"status\":\"SERVING\"}\n")

            // A TLS peer with that certificate on 127.0.0.2, an address the certificate does not
            // list; by the name it lists, the handshake passes and ALPN shows it is no OVA server.
            try await LoopbackPeers.withTLSServer(host: "127.0.0.2", certificate: certificate, key: server.running.tls.keyPath) { port in
                let otherName = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.2:\(port)", "--ca", certificate])
                #expect(otherName.status == 14)
                #expect(otherName.standardError.hasPrefix("ova: the certificate of 127.0.0.2:\(port) is not issued for 127.0.0.2: "))
                #expect(otherName.standardError.contains("`--server-name <a name it lists>`"))

                let result = try await ova.run(["call", "ova.v1.Health/Check", "--addr", "127.0.0.2:\(port)", "--ca", certificate, "--server-name", "localhost"])
                #expect(result.status == 14)
                #expect(result.standardError == "ova: 127.0.0.2:\(port) is not an OVA server (TLS negotiated no ALPN protocol instead of ova/1)\n")
            }
        }
    }

    @Test("a connect timeout and a refusal are told apart")
    func classification() {
        let timedOut = ConnectFailure.classify(ChannelError.connectTimeout(.seconds(3)), host: "10.0.0.9", port: 7443, connectTimeout: .seconds(3))
        #expect(timedOut == .timedOut(address: "10.0.0.9:7443", seconds: 3))
        #expect(timedOut.description == "10.0.0.9:7443 did not answer within 3 s")
        let refused = ConnectFailure.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect"), host: "::1", port: 7443, connectTimeout: .seconds(3))
        #expect(refused == .refused(address: "[::1]:7443"))
    }
}

@Suite("ova: logins")
struct LoginMessageTests {
    @Test("no login: UNAUTHENTICATED names `ova login`")
    func noLogin() async throws {
        try await withServer { ova, _, address in
            let result = try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"])
            #expect(result.status == 16)
            #expect(result.standardError == "ova: UNAUTHENTICATED: this call needs an administrator's login: run `ova login --email <your email>` first\n")
        }
    }

    @Test("a saved login that the server ended, and one that expired, say to log in again")
    func endedAndExpiredLogins() async throws {
        try await withServer { ova, server, address in
            let login = try await ova.run(
                ["login", "--email", AccountsServer.rootEmail, "--password-stdin", "--addr", address, "--insecure"],
                input: AccountsServer.rootPassword + "\n"
            )
            #expect(login.status == 0)
            #expect(try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"]).status == 0)

            // The session ends elsewhere (another terminal's logout).
            let token = try savedAccessToken(ova)
            let channel = try server.makeChannel()
            _ = try await AuthClient(channel: channel).logout(LogoutRequest(), options: bearer(token))
            await channel.close()
            let ended = try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"])
            #expect(ended.status == 16)
            #expect(ended.standardError.hasPrefix(
                "ova: UNAUTHENTICATED: your login expired or was ended; run `ova login --email \(AccountsServer.rootEmail)` (the server said: "
            ))

            // A saved token past its expiry is not sent at all.
            let expired = #"{"address":"\#(address)","access_token":"\#(token)","email":"root@example.com","expires_at_unix_ms":1000}"#
            try Data(expired.utf8).write(to: ova.tokenFile)
            let stale = try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"])
            #expect(stale.status == 16)
            #expect(stale.standardError.hasPrefix("ova: UNAUTHENTICATED: your login as root@example.com expired at 1970-01-01"))
            #expect(stale.standardError.hasSuffix("; run `ova login --email root@example.com`\n"))
        }
    }

    @Test("`ova call ova.v1.Auth/Refresh` and `ova refresh` save the new token; the next call works")
    func refreshSavesTheToken() async throws {
        try await withServer { ova, _, address in
            _ = try await ova.run(
                ["login", "--email", AccountsServer.rootEmail, "--password-stdin", "--addr", address, "--insecure"],
                input: AccountsServer.rootPassword + "\n"
            )
            let first = try savedAccessToken(ova)
            let viaCall = try await ova.run(["call", "ova.v1.Auth/Refresh", "--addr", address, "--insecure"])
            #expect(viaCall.status == 0)
            let second = try savedAccessToken(ova)
            #expect(second != first)
            #expect(try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"]).status == 0)

            let viaCommand = try await ova.run(["refresh", "--addr", address, "--insecure"])
            #expect(viaCommand.status == 0)
            #expect(viaCommand.standardOutput.hasPrefix("login of root@example.com renewed until "))
            let third = try savedAccessToken(ova)
            #expect(third != second)
            #expect(try await ova.run(["call", "ova.v1.Admins/ListAdmins", "--addr", address, "--insecure"]).status == 0)
        }
    }

    private func savedAccessToken(_ ova: OvaProcess) throws -> String {
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: ova.tokenFile)) as? [String: Any]
        return try #require(saved?["access_token"] as? String)
    }
}

@Suite("ova: output and client-side errors")
struct OutputTests {
    @Test("streamed responses reach a pipe one by one, while the stream goes on")
    func streamingIsFlushed() async throws {
        try await withServer { ova, _, address in
            // 10,000 responses 50 ms apart: the stream outlasts the test; only a flushed first
            // line can be read before it is stopped.
            let line = try await ova.firstLineThroughPipe([
                "call", "ova.v1.Echo/ServerStream", "--data", #"{"text":"piped","responseCount":10000,"delayMs":50}"#,
                "--addr", address, "--insecure",
            ])
            #expect(line == #"{"text":"piped"}"#)
        }
    }

    @Test("a file mistake is one line without the usage text; a real usage error keeps it")
    func clientSideErrors() async throws {
        let ova = try OvaProcess()
        defer { ova.remove() }
        let directory = ova.directory.path
        let missing = ova.directory.appendingPathComponent("missing.wav").path

        let sttDirectory = try await ova.run(["stt", directory, "--insecure"])
        #expect(sttDirectory.status == 64)
        #expect(sttDirectory.standardError == "ova: \(directory) is a directory; pass a WAV file or - for standard input\n")

        let sttMissing = try await ova.run(["stt", missing, "--insecure"])
        #expect(sttMissing.status == 64)
        #expect(sttMissing.standardError == "ova: \(missing) does not exist; pass a WAV file or - for standard input\n")

        let vision = try await ova.run(["vision", directory, "--insecure"])
        #expect(vision.status == 64)
        #expect(vision.standardError == "ova: \(directory) is a directory; pass a JPEG, PNG or WebP image\n")

        let unknown = try await ova.run(["call", "ova.v1.Nope/Nothing", "--insecure"])
        #expect(unknown.status == 64)
        #expect(!unknown.standardError.contains("Usage"))
        #expect(unknown.standardError.hasPrefix("ova: unknown method ova.v1.Nope/Nothing"))

        let missingCA = try await ova.run(["call", "ova.v1.Health/Check", "--ca", missing])
        #expect(missingCA.status == 64)
        #expect(missingCA.standardError == "ova: \(missing) does not exist; pass a PEM file of certificates to trust, e.g. data/dev-cert.pem (--ca or OVA_CA)\n")

        let notPEM = ova.directory.appendingPathComponent("notes.txt").path
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        let badCA = try await ova.run(["call", "ova.v1.Health/Check", "--ca", notPEM])
        #expect(badCA.status == 64)
        #expect(badCA.standardError == "ova: \(notPEM): no usable PEM certificate or key; pass PEM files (e.g. --ca data/dev-cert.pem)\n")

        let usage = try await ova.run(["call", "--insecure"])
        #expect(usage.status == 64)
        #expect(usage.standardError.contains("Usage: ova call"))
    }

    @Test("`ova voice` without an LLM: one FAILED_PRECONDITION line, no answer label before it")
    func voiceWithoutProvider() async throws {
        try await withServer { ova, _, address in
            _ = try await ova.run(
                ["login", "--email", AccountsServer.rootEmail, "--password-stdin", "--addr", address, "--insecure"],
                input: AccountsServer.rootPassword + "\n"
            )
            let question = ova.directory.appendingPathComponent("question.wav").path
            let tts = try await ova.run(["tts", "open the door", "--language", "en", "-o", question, "--addr", address, "--insecure"])
            #expect(tts.status == 0)
            let result = try await ova.run(["voice", question, "--no-realtime", "--phrases", "open the door", "--addr", address, "--insecure"])
            #expect(result.status == 9)
            #expect(result.standardOutput == "")
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.last?.hasPrefix("ova: FAILED_PRECONDITION: ") == true)
            #expect(!result.standardError.contains("ova: ova:"))
        }
    }

    @Test("`ova chat` ends a normal answer with a newline only, and says when it was cut off")
    func chatFinish() async throws {
        let upstream = try await FakeHTTPServer.start()
        do {
            let settings = [
                "HF_API_KEY": "hf_test_key", "OVA_HF_BASE_URL": upstream.baseURL, "OVA_LLM_BASE_URL": upstream.baseURL + "/v1",
                "HF_MODELO_LLM": "test/chat-model", "OVA_PROVIDER_RETRIES": "0",
            ]
            try await withServer(settings) { ova, _, address in
                _ = try await ova.run(
                    ["login", "--email", AccountsServer.rootEmail, "--password-stdin", "--addr", address, "--insecure"],
                    input: AccountsServer.rootPassword + "\n"
                )
                upstream.route("/v1/chat/completions", chatAnswer(["Hello", " there"], finishReason: "stop"))
                let stopped = try await ova.run(["chat", "hi", "--addr", address, "--insecure"])
                #expect(stopped.status == 0)
                #expect(stopped.standardOutput == "Hello there\n")
                #expect(stopped.standardError == "")

                upstream.route("/v1/chat/completions", chatAnswer(["Once"], finishReason: "length"))
                let cut = try await ova.run(["chat", "hi", "--addr", address, "--insecure"])
                #expect(cut.status == 0)
                #expect(cut.standardOutput == "Once\n")
                #expect(cut.standardError.hasPrefix("chat: the answer was cut off at the token limit (--max-tokens)"))
            }
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    /// An OpenAI-style streamed answer.
    private func chatAnswer(_ tokens: [String], finishReason: String) -> [FakeHTTPServer.Step] {
        let chunks = tokens.map { token in
            FakeHTTPServer.Step.text(#"data: {"id":"c1","choices":[{"index":0,"delta":{"content":"\#(token)"},"finish_reason":null}]}"# + "\n\n")
        }
        return [.head(status: 200, headers: [("Content-Type", "text/event-stream")])] + chunks + [
            .text(#"data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"\#(finishReason)"}]}"# + "\n\n"),
            .text("data: [DONE]\n\n"),
            .end,
        ]
    }
}
