import Foundation
import Logging
import NIOCore
import OvaProto
import OvaServer
import OvaServices
import OvaTestServer
import Testing

@testable import OvaRPC

@Suite("Deadlines, cancellation, limits, shutdown")
struct LifecycleTests {
    @Test func deadlineExceededCancelsTheHandler() async throws {
        try await withServer { server, channel in
            let start = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary(
                    ProbeRecorder.hang, request: EchoRequest(), responseType: EchoResponse.self,
                    options: CallOptions(timeout: .milliseconds(200))
                )
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(ContinuousClock.now - start < .seconds(30))
            #expect(await server.probes.waitUntil { $0.cancelled == 1 }, "the handler never saw the cancellation")
        }
    }

    @Test func clientCancellationReachesTheHandler() async throws {
        try await withServer { server, channel in
            let call = Task {
                try await channel.unary(ProbeRecorder.hang, request: EchoRequest(), responseType: EchoResponse.self)
            }
            #expect(await server.probes.waitUntil { $0.started == 1 })
            call.cancel()
            let result = await call.result
            #expect(throws: RPCError.self) { try result.get() }
            if case .failure(let error as RPCError) = result {
                #expect(error.code == .cancelled)
            }
            #expect(await server.probes.waitUntil { $0.cancelled == 1 }, "the handler never saw the cancellation")
            #expect(await server.probes.waitUntil { _ in server.server.metrics.activeCalls == 0 }, "a cancelled call is still counted as active")
            // The connection is still good.
            var request = EchoRequest()
            request.text = "after cancel"
            let observed1 = try await EchoClient(channel: channel).unary(request).text
            #expect(observed1 == "after cancel")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func bindingATakenPortThrowsAndTheServerCountsAsStopped() async throws {
        try await withTestServer { running in
            let logger = Logger(label: "ova.test")
            let configuration = try TestServerSetup.configuration(dataDirectory: running.base.directory)
            let tls = try TLSMaterial.resolve(configuration: configuration, logger: logger)
            let rpcConfiguration = RPCServer.Configuration(host: "127.0.0.1", port: running.port, tls: try tls.makeServerTLSConfiguration())
            do {
                let second = RPCServer(configuration: rpcConfiguration, router: ServiceRegistry().router, logger: logger)
                let error = await #expect(throws: (any Error).self) { try await second.start() }
                #expect(String(describing: error).lowercased().contains("address already in use"), "\(String(describing: error))")
                // Returns at once for a server that never listened (it used to wait forever, and a
                // debug build trapped on the never-completed promise when the server was dropped).
                await second.waitUntilStopped()
            }
            try await running.assertStillServing()
        }
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        try await withServer { _, channel in
            let method = MethodDescriptor(service: "ova.v1.Echo", name: "Nope", kind: .unary, inputType: "ova.v1.EchoRequest", outputType: "ova.v1.EchoResponse")
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary(method, request: EchoRequest(), responseType: EchoResponse.self)
            }
            #expect(error?.code == .unimplemented)
            #expect(error?.message.contains("ova.v1.Echo/Nope") == true)
        }
    }

    @Test func undecodableProtobufIsInvalidArgument() async throws {
        try await withServer { _, channel in
            // A length-delimited field whose length runs past the end of the message.
            let garbage = RawMessage(bytes: [0x0A, 0x7F, 0x01, 0x02])
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary(EchoService.Method.unary, request: garbage, responseType: EchoResponse.self)
            }
            #expect(error?.code == .invalidArgument)
            var request = EchoRequest()
            request.text = "still fine"
            let observed2 = try await EchoClient(channel: channel).unary(request).text
            #expect(observed2 == "still fine")
        }
    }

    @Test func oversizedMessageFailsOnlyItsOwnStream() async throws {
        var limits = ConnectionLimits()
        limits.settings.maxMessageSize = 64 * 1024
        try await withTestServer(limits: limits) { server in
            // The typed client refuses to send what the server declared it will not accept.
            let channel = try server.makeChannel()
            var big = EchoRequest()
            big.payload = [UInt8](repeating: 1, count: 100 * 1024)
            let local = await #expect(throws: RPCError.self) { try await EchoClient(channel: channel).unary(big) }
            #expect(local?.code == .resourceExhausted)
            await channel.close()

            // A peer that sends it anyway (in fragments) gets RESOURCE_EXHAUSTED on that stream,
            // while another stream on the same connection completes.
            let raw = try await RawConnection.connect(port: server.port)
            try await raw.send([.settings(Settings())], preface: true)
            var bigBytes = ByteBuffer()
            big.serialize(into: &bigBytes)
            var frames: [Frame] = [.requestHeaders(streamID: 1, RequestHeaders(path: "ova.v1.Echo/Unary"), endStream: false)]
            while bigBytes.readableBytes > 0 {
                let chunk = bigBytes.readSlice(length: min(16 * 1024, bigBytes.readableBytes))!
                frames.append(.message(streamID: 1, payload: chunk, flags: bigBytes.readableBytes > 0 ? .continued : .endStream))
            }
            var small = EchoRequest()
            small.text = "small"
            frames.append(.requestHeaders(streamID: 3, RequestHeaders(path: "ova.v1.Echo/Unary"), endStream: false))
            frames.append(.message(streamID: 3, payload: ByteBuffer(bytes: small.serializedBytes()), flags: .endStream))
            try await raw.send(frames)

            var trailers: [UInt32: Trailers] = [:]
            var smallResponse: EchoResponse?
            while trailers.count < 2, let frame = try await raw.nextFrame() {
                switch frame {
                case .trailers(let streamID, let value): trailers[streamID] = value
                case .message(3, let payload, _): smallResponse = try EchoResponse(serializedBytes: payload)
                default: break
                }
            }
            #expect(trailers[1]?.code == .resourceExhausted)
            #expect(trailers[3]?.code == .ok)
            #expect(smallResponse?.text == "small")
            await raw.close()
        }
    }

    @Test func slowReaderKeepsServerBufferingBounded() async throws {
        try await withServer { server, channel in
            var request = EchoRequest()
            request.responseCount = 2_000
            request.responseSize = 64 * 1024  // 128 MB in total if nothing pushed back
            let received = try await channel.serverStreaming(ProbeRecorder.flood, request: request, responseType: EchoResponse.self) { responses in
                // Read nothing: the server's writer must stall (it waits for the peer).
                #expect(await server.probes.waitUntil { _ in server.server.metrics.waitingWriters == 1 }, "the writer never stalled")
                let stalledAt = server.probes.writesCompleted
                // Window (1 MiB) + the writer's queue (256 KiB) hold ~20 messages of 64 KiB.
                #expect(stalledAt < 40, "server accepted \(stalledAt) writes with nobody reading")
                var count = 0
                for try await response in responses {
                    #expect(response.sequence == UInt64(count))
                    count += 1
                }
                return count
            }
            #expect(received == 2_000)
            #expect(server.probes.writesCompleted == 2_000)
        }
    }

    @Test func gracefulShutdownFinishesInFlightCallsAndRefusesNewOnes() async throws {
        try await withTestServer { server in
            let channel = try server.makeChannel()
            var slow = EchoRequest()
            slow.text = "in flight"
            slow.delayMs = 2_000
            let inFlight = Task { try await EchoClient(channel: channel).unary(slow) }
            // Generous: on a loaded machine the first call's TLS handshake can take seconds, and
            // the wait ends as soon as the call is in flight.
            // (totalCalls, not activeCalls: a condition that stays true once met.)
            #expect(await server.probes.waitUntil(seconds: 60) { _ in server.server.metrics.totalCalls >= 1 })
            server.server.beginGracefulShutdown()
            let response = try await inFlight.value
            #expect(response.text == "in flight")
            await server.server.waitUntilStopped()
            let error = await #expect(throws: RPCError.self) { try await EchoClient(channel: channel).unary(EchoRequest()) }
            #expect(error?.code == .unavailable)
            await channel.close()
        }
    }
}

@Suite("Hostile peers")
struct RobustnessTests {
    @Test func garbagePrefaceClosesTheConnection() async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port)
            try await raw.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let frames = try await raw.readUntilClosed()
            // At most the server's SETTINGS and a GOAWAY before it closes.
            #expect(frames.allSatisfy { if case .settings = $0 { return true }; if case .goAway = $0 { return true }; return false })
            try await server.assertStillServing()
        }
    }

    @Test func plaintextToTheTLSPortIsClosed() async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port, plaintext: true)
            var bytes = ConnectionPreface.bytes
            var settings = ByteBuffer()
            FrameEncoder.encode(.settings(Settings()), into: &settings)
            bytes += settings.readableBytesView
            try await raw.send(bytes)
            // Whatever comes back is a TLS alert, never frames; then the server closes.
            while try await raw.nextRawChunk() != nil {}
            try await server.assertStillServing()
        }
    }

    /// §2: a client that does not negotiate ALPN `ova/1` (it offers only `h2`, or no ALPN at
    /// all) completes TLS but is closed without a single frame, whatever it sends.
    @Test(arguments: [["h2"], []])
    func clientWithoutOvaALPNIsClosedWithoutAFrame(alpn: [String]) async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port, alpn: alpn)
            try? await raw.send([.settings(Settings())], preface: true)
            var received = 0
            while let chunk = try await raw.nextRawChunk() { received += chunk.readableBytes }
            #expect(received == 0)
            try await server.assertStillServing()
        }
    }

    @Test func truncatedFrameThenCloseIsHandled() async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port)
            try await raw.send([.settings(Settings())], preface: true)
            // A HEADERS frame header announcing 100 bytes, followed by only 5 of them.
            try await raw.send([0x00, 0x00, 0x64, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5])
            await raw.close()
            try await server.assertStillServing()
        }
    }

    @Test func oversizedFrameHeaderIsRejectedBeforeItsPayload() async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port)
            try await raw.send([.settings(Settings())], preface: true)
            // Announces 16 MiB - 1 (over the 64 KiB default) and sends no payload at all.
            try await raw.send([0xFF, 0xFF, 0xFF, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01])
            let frames = try await raw.readUntilClosed()
            let goAway = frames.compactMap { frame -> StatusCode? in
                if case .goAway(_, let code, _) = frame { return code }
                return nil
            }
            #expect(goAway == [.resourceExhausted])
            try await server.assertStillServing()
        }
    }

    @Test func pingFloodIsCutOff() async throws {
        try await withTestServer { server in
            let raw = try await RawConnection.connect(port: server.port)
            try await raw.send([.settings(Settings())], preface: true)
            try await raw.send((0..<200).map { Frame.ping(data: UInt64($0), ack: false) })
            let frames = try await raw.readUntilClosed()
            let acks = frames.filter { if case .ping(_, true) = $0 { return true }; return false }.count
            #expect(acks < 200)
            #expect(frames.contains { if case .goAway(_, .resourceExhausted, _) = $0 { return true }; return false })
            try await server.assertStillServing()
        }
    }

    @Test func idleConnectionIsClosedAfterItsLastCall() async throws {
        var limits = ConnectionLimits()
        limits.idleTimeout = .milliseconds(300)
        try await withTestServer(limits: limits) { server in
            let raw = try await RawConnection.connect(port: server.port)
            var request = EchoRequest()
            request.text = "one"
            // One write: the idle timer starts with the settings, and a slow test machine must not
            // let it expire before the call arrives.
            try await raw.send([
                .settings(Settings()),
                .requestHeaders(streamID: 1, RequestHeaders(path: "ova.v1.Echo/Unary"), endStream: false),
                .message(streamID: 1, payload: ByteBuffer(bytes: request.serializedBytes()), flags: .endStream),
            ], preface: true)
            let frames = try await raw.readUntilClosed()
            #expect(frames.contains { if case .trailers(1, let trailers) = $0 { return trailers.code == .ok }; return false })
            #expect(frames.contains { if case .goAway(1, .ok, "idle timeout") = $0 { return true }; return false })
        }
    }
}
