/// Yields until `condition` holds, for state another task reaches without touching a clock
/// (a bulkhead queue). Bounded by a number of yields, never by time; returns whether it held.
func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<1_000_000 {
        if condition() { return true }
        await Task.yield()
    }
    return condition()
}
