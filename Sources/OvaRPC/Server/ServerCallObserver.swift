/// Told about every finished call, for metrics an operator scrapes.
///
/// The server calls it on the connection's event loop once per call: when the call's stream is
/// removed, or when the call is refused before a handler runs (unknown method, too many streams,
/// shutting down). It must be cheap and must not block; `path` is what the client sent, so an
/// implementation that labels by it must bound the label's values itself.
public protocol ServerCallObserver: Sendable {
    func callFinished(path: String, code: StatusCode, duration: Duration)
}
