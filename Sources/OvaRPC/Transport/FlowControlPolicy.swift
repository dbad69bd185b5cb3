/// The flow-control decisions of docs/PROTOCOL.md §9, as pure functions of the windows and
/// settings, so that the rules are tested on their own and applied alike on both sides.
enum FlowControlPolicy {
    /// T, the fragment threshold of a receiver with these (advertised) settings: the smallest
    /// non-final fragment a sender may send it, and the window (stream or connection) below
    /// which it returns the credit of a message under reassembly when nothing else waits to be
    /// read. Half of either window at most, so that a window with nothing owed always has room
    /// for a fragment of T.
    static func fragmentThreshold(_ settings: Settings) -> Int {
        max(1, min(settings.maxFrameSize, settings.initialStreamWindow / 2, settings.initialConnectionWindow / 2))
    }

    /// How many bytes of the rest of a message to send now; 0 means wait for WINDOW_UPDATE.
    ///
    /// The rest goes whole when it fits. Otherwise a fragment goes only if it is at least the
    /// peer's threshold: sending whatever sliver the windows allow is TCP's silly window
    /// syndrome, a storm of tiny frames each answered by a tiny WINDOW_UPDATE.
    static func nextFragmentSize(
        remaining: Int,
        peerMaxFrameSize: Int,
        streamWindow: Int,
        connectionWindow: Int,
        peerThreshold: Int
    ) -> Int {
        let room = max(0, min(peerMaxFrameSize, streamWindow, connectionWindow))
        if remaining <= room { return remaining }
        return room >= peerThreshold ? room : 0
    }

    /// Consumed bytes a stream's consumer accumulates before returning them as credit. At most
    /// the fragment threshold, so that with nothing waiting the window is always at least
    /// `INITIAL_STREAM_WINDOW - T >= T` and a sender following ``nextFragmentSize`` can always
    /// send (no deadlock); at most 32 KiB so that many streams sharing the connection window
    /// keep it open.
    static func creditReportThreshold(_ settings: Settings) -> Int {
        max(1, min(Self.fragmentThreshold(settings), 32 * 1024))
    }
}
