/// Runs `body`, then awaits `cleanup` whether `body` returned or threw.
///
/// The awaited replacement for `defer { Task { await cleanup() } }`: that task is never
/// awaited, so the test can end (and the next one start) while a server is still stopping or
/// a channel still closing, and a cleanup that hangs goes unnoticed.
public func withAsyncCleanup<Result>(
    _ body: () async throws -> Result,
    cleanup: () async -> Void
) async throws -> Result {
    let result: Result
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}
