import NIOCore

/// The age at which one server connection is asked to leave (`maxConnectionAge`): the
/// configured maximum spread by ±10 %, so that connections opened together (after a restart
/// or a failover) do not all reconnect at the same moment and land together again.
enum ConnectionAgeLimit {
    /// The spread around the configured age, as a fraction of it.
    static let jitterFraction = 0.1

    /// - Parameter unit: where in the spread this connection falls, -1...1 (random in
    ///   production, chosen by tests); values outside are clamped.
    static func jittered(_ maxAge: TimeAmount, unit: Double) -> TimeAmount {
        let clamped = unit.isNaN ? 0 : min(1, max(-1, unit))
        let nanoseconds = Double(maxAge.nanoseconds) * (1 + Self.jitterFraction * clamped)
        return .nanoseconds(max(1, Int64(nanoseconds.rounded())))
    }

    /// The production source of `unit`.
    static func randomUnit() -> Double {
        Double.random(in: -1...1)
    }
}
