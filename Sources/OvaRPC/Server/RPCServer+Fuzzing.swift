import Logging
import NIOCore

extension RPCServer {
    /// For tests and fuzzing only: adds to `channel`'s pipeline the handler that serves one
    /// server connection with `router`, exactly what ``start()`` adds after the TLS handler,
    /// so a test can drive a connection over an `EmbeddedChannel` in plaintext.
    ///
    /// Public because the fuzz targets (Fuzz/) are a separate package and cannot use
    /// `@testable import`. Call it on the channel's event loop.
    public static func addServerConnectionHandlerForTesting(
        to channel: any Channel,
        router: RPCRouter,
        limits: ConnectionLimits = ConnectionLimits(),
        logger: Logger = Logger(label: "ova.server.test")
    ) throws {
        let dispatcher = ServerDispatcher(
            router: router,
            connectionID: "0000000000000000",
            peerAddress: "test",
            callLogger: logger,
            metrics: ServerMetrics()
        )
        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
            role: .server(dispatcher),
            limits: limits,
            logger: logger
        ))
    }
}
