import OvaResilience
import Testing

@Suite("Bulkhead", .timeLimit(.minutes(1)))
struct BulkheadTests {
    @Test("grants up to maxConcurrentCalls at once, then rejects when nobody may wait")
    func limitWithoutQueue() async throws {
        let bulkhead = Bulkhead(name: "provider", maxConcurrentCalls: 2, maxWaitingCalls: 0)
        let first = try await bulkhead.acquire()
        let second = try #require(bulkhead.tryAcquire())
        #expect(bulkhead.inFlight == 2)
        #expect(bulkhead.tryAcquire() == nil)
        await #expect(throws: BulkheadFull(bulkheadName: "provider", reason: .queueFull)) {
            try await bulkhead.acquire()
        }
        first.release()
        #expect(bulkhead.inFlight == 1)
        second.release()
        #expect(bulkhead.inFlight == 0)
    }

    @Test("waiters get slots in arrival order; beyond the queue, callers are rejected")
    func fifo() async throws {
        let bulkhead = Bulkhead(name: "provider", maxConcurrentCalls: 1, maxWaitingCalls: 2)
        let held = try await bulkhead.acquire()
        let first = Task { try await bulkhead.acquire() }
        #expect(await eventually { bulkhead.waiting == 1 })
        let second = Task { try await bulkhead.acquire() }
        #expect(await eventually { bulkhead.waiting == 2 })
        await #expect(throws: BulkheadFull(bulkheadName: "provider", reason: .queueFull)) {
            try await bulkhead.acquire()
        }

        held.release()
        // The slot went straight to the first waiter.
        #expect(bulkhead.waiting == 1)
        #expect(bulkhead.inFlight == 1)
        let firstPermit = try await first.value
        firstPermit.release()
        let secondPermit = try await second.value
        #expect(bulkhead.waiting == 0)
        #expect(bulkhead.inFlight == 1)
        secondPermit.release()
        #expect(bulkhead.inFlight == 0)
    }

    @Test("cancelling a waiter removes it from the queue without taking a slot")
    func cancelWaiter() async throws {
        let bulkhead = Bulkhead(name: "provider", maxConcurrentCalls: 1, maxWaitingCalls: 1)
        let held = try await bulkhead.acquire()
        let waiter = Task { try await bulkhead.acquire() }
        #expect(await eventually { bulkhead.waiting == 1 })
        waiter.cancel()
        let result = await waiter.result
        #expect(throws: BulkheadFull(bulkheadName: "provider", reason: .cancelled)) { try result.get() }
        #expect(bulkhead.waiting == 0)
        #expect(bulkhead.inFlight == 1)
        held.release()
        #expect(bulkhead.inFlight == 0)
    }

    @Test("releasing twice frees one slot; a dropped permit frees its slot")
    func releaseOnce() async throws {
        let bulkhead = Bulkhead(name: "provider", maxConcurrentCalls: 2, maxWaitingCalls: 0)
        let kept = try await bulkhead.acquire()
        let permit = try await bulkhead.acquire()
        permit.release()
        permit.release()
        #expect(bulkhead.inFlight == 1)
        _ = try await bulkhead.acquire()
        #expect(bulkhead.inFlight == 1)
        kept.release()
        #expect(bulkhead.inFlight == 0)
    }
}
