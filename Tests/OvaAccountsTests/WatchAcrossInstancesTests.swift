import Foundation
import Logging
import OvaProto
import OvaStore
import OvaRPC
import OvaServices
import OvaTestServer
import OvaTestSupport
import Testing

@testable import OvaServices

/// WatchMessages when several ova-server share one database, and resuming a watch.
@Suite("WatchMessages across instances and resumed", .timeLimit(.minutes(2)))
struct WatchAcrossInstancesTests {
    private static func send(_ channel: RPCChannel, _ subject: String) async throws -> ContactMessage {
        var send = SendMessageRequest()
        send.name = "Visitor"
        send.email = "visitor@example.com"
        send.subject = subject
        send.message = "A message for the watchers."
        return try await MessagesClient(channel: channel).sendMessage(send)
    }

    @Test("a message sent through instance A reaches a watcher on instance B")
    func acrossInstances() async throws {
        let secret = ["JWT_SECRET_KEY": String(repeating: "w", count: 48)]
        let first = try await AccountsServer.start(secret, backend: .mariadb)
        try await withAsyncCleanup {
            let second = try await AccountsServer.sibling(of: first, secret)
            try await withAsyncCleanup {
                let a = try first.makeChannel()
                let b = try second.makeChannel()
                try await withAsyncCleanup {
                    let root = try await rootOptions(b)
                    let received = try await MessagesClient(channel: b).watchMessages(WatchMessagesRequest(), options: root) { stream in
                        await second.running.accounts.broadcaster.waitForWatchers(atLeast: 1)
                        let sent = try await Self.send(a, "Through A")
                        for try await message in stream {
                            return (sent.id, message)
                        }
                        return (sent.id, ContactMessage())
                    }
                    #expect(received.1.id == received.0)
                    #expect(received.1.subject == "Through A")
                } cleanup: {
                    await a.close()
                    await b.close()
                }
            } cleanup: {
                await second.stop(keepData: true)
            }
        } cleanup: {
            await first.stop()
        }
    }

    @Test("after_id: the stored messages after it first, then new ones, each exactly once", arguments: TestBackend.allCases)
    func resume(backend: TestBackend) async throws {
        try await withAccountsServer(backend: backend) { server, channel in
            let root = try await rootOptions(channel)
            let first = try await Self.send(channel, "one")
            _ = try await Self.send(channel, "two")
            _ = try await Self.send(channel, "three")
            var request = WatchMessagesRequest()
            request.afterId = first.id
            let subjects = try await MessagesClient(channel: channel).watchMessages(request, options: root) { stream in
                var subjects: [String] = []
                var sentFour = false
                for try await message in stream {
                    subjects.append(message.subject)
                    if subjects.count == 2, !sentFour {
                        sentFour = true
                        _ = try await Self.send(channel, "four")
                    }
                    // Sent only after "four" arrived: a second "four" would come before it.
                    if subjects.count == 3 { _ = try await Self.send(channel, "five") }
                    if subjects.count == 4 { break }
                }
                return subjects
            }
            #expect(subjects == ["two", "three", "four", "five"])

            let invalid = await rpcError {
                var negative = WatchMessagesRequest()
                negative.afterId = -1
                return try await MessagesClient(channel: channel).watchMessages(negative, options: root) { stream in
                    for try await _ in stream {}
                }
            }
            #expect(invalid?.code == .invalidArgument)
            _ = server
        }
    }

    @Test("the tail hands each message over once: sent here (at once) or through another instance (by the poll)", arguments: TestBackend.allCases)
    func tailDeliversOnce(backend: TestBackend) async throws {
        try await backend.withFreshDatabase { location in
            let store = try await Store.open(location, logger: Logger(label: "test"))
            try await withAsyncCleanup {
                let broadcaster = MessageBroadcaster()
                let tail = MessageTail(repository: store.messages, broadcaster: broadcaster, logger: Logger(label: "test"))
                let before = try await store.messages.create(name: "Old", email: "o@example.com", subject: "before", message: "Sent before the watch.")
                let stream = broadcaster.subscribe()
                tail.begin(from: before.id)
                let here = try await store.messages.create(name: "Here", email: "h@example.com", subject: "here", message: "Sent through this one.")
                tail.deliver(here)
                _ = try await store.messages.create(name: "There", email: "t@example.com", subject: "there", message: "Sent through another one.")
                try await tail.poll()
                try await tail.poll()
                tail.deliver(here)
                broadcaster.finishAll()
                var subjects: [String] = []
                for await message in stream { subjects.append(message.subject) }
                #expect(subjects == ["here", "there"])
            } cleanup: {
                await store.database.close()
            }
        }
    }
}
