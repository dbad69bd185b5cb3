import OvaProto
import Testing

@testable import OvaRPC

@Suite("Flow control")
struct FlowControlTests {
    /// 64 streams × 1 MiB stream windows oversubscribe the 16 MiB connection window: credit held
    /// by consumers that wait must still be returned, or every stream stalls.
    @Test func manyUploadingStreamsShareTheConnectionWindow() async throws {
        try await withServer { _, channel in
            let client = EchoClient(channel: channel)
            let chunk = EchoRequest(payload: [UInt8](repeating: 3, count: 3200))
            let totals = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        let summary = try await client.clientStream(options: CallOptions(timeout: .seconds(60))) { writer in
                            for _ in 0..<300 { try await writer.write(chunk) }
                        }
                        return summary.byteCount
                    }
                }
                var totals: [UInt64] = []
                for try await total in group { totals.append(total) }
                return totals
            }
            #expect(totals == [UInt64](repeating: 300 * 3200, count: 64))
        }
    }

    /// A message larger than the whole stream window arrives in fragments that are credited as
    /// they come, so it completes.
    @Test func messageLargerThanTheStreamWindow() async throws {
        var limits = ConnectionLimits()
        limits.settings.initialStreamWindow = 64 * 1024
        limits.settings.initialConnectionWindow = 128 * 1024
        try await withTestServer(limits: limits) { server in
            let channel = try server.makeChannel(limits: limits)
            var request = EchoRequest()
            request.payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let response = try await EchoClient(channel: channel).unary(request, options: CallOptions(timeout: .seconds(30)))
            #expect(response.payload == request.payload)
            // And many of them on a bidi stream, each echoed back through the same small windows.
            // The responses are read while the requests are written: flow control holds at most a
            // window of an unread stream (§9), so a client that wrote all five before reading would
            // wait for the server, and the server for it.
            let sent = request
            let count = try await EchoClient(channel: channel).bidi(options: CallOptions(timeout: .seconds(30))) { writer, responses in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask {
                        for _ in 0..<5 { try await writer.write(sent) }
                        writer.finish()
                        return 0
                    }
                    group.addTask {
                        var count = 0
                        for try await response in responses {
                            #expect(response.payload.count == sent.payload.count)
                            count += 1
                        }
                        return count
                    }
                    return try await group.reduce(0, +)
                }
            }
            #expect(count == 5)
            await channel.close()
        }
    }
}
