import Foundation
import Logging
import NIOCore
import OvaRPC
import OvaServer
import OvaTestSupport

/// A server started for one test: a client can reach it, and stopping it is awaited.
///
/// `run` is the scaffold every end-to-end suite shares (the runtime's, the accounts', a custom
/// service's): a channel for the body, then the channel closed and the server stopped, awaited
/// also when the body throws.
public protocol RunningTestServer: Sendable {
    func makeChannel() throws -> RPCChannel
    func stop() async
}

extension RunningTestServer {
    /// Runs `body` with a channel to this server, then closes the channel and stops the server.
    @discardableResult
    public func run<Result>(_ body: (Self, RPCChannel) async throws -> Result) async throws -> Result {
        try await withAsyncCleanup {
            let channel = try self.makeChannel()
            return try await withAsyncCleanup {
                try await body(self, channel)
            } cleanup: {
                await channel.close()
            }
        } cleanup: {
            await self.stop()
        }
    }
}

/// What test servers are made of.
public enum TestServerSetup {
    /// A new, empty data directory under the temporary directory.
    public static func makeDataDirectory(prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The one place tests build a `ServerConfiguration`: from variables, as an operator
    /// would, listening on an ephemeral port of 127.0.0.1 with its data in `dataDirectory`;
    /// `settings` adds or overrides variables.
    public static func configuration(dataDirectory: URL, _ settings: [String: String] = [:]) throws -> ServerConfiguration {
        let base = ["OVA_LISTEN": "127.0.0.1:0", "OVA_DATA_DIR": dataDirectory.path]
        return try ServerConfiguration.load(environment: base.merging(settings) { $1 })
    }

    /// A client that trusts the server's development certificate (issued for `localhost`).
    public static func makeChannel(
        port: Int,
        certificatePath: String,
        limits: ConnectionLimits = ConnectionLimits()
    ) throws -> RPCChannel {
        var configuration = RPCChannel.Configuration(
            host: "127.0.0.1",
            port: port,
            tls: ClientTLSConfiguration(trust: .certificateFile(certificatePath), serverHostname: "localhost")
        )
        configuration.limits = limits
        return try RPCChannel(configuration: configuration)
    }
}

/// An `RPCServer` serving a router over TLS with a fresh development certificate: for tests of
/// the runtime and of custom services, without the rest of ova-server.
public struct RouterTestServer: RunningTestServer {
    public let server: RPCServer
    public let port: Int
    public let certificatePath: String
    public let directory: URL

    /// - Parameter sharingCertificateWith: a server whose development certificate and key this
    ///   one serves too, so one trusted certificate covers both (instances of one service).
    public static func start(
        router: RPCRouter,
        limits: ConnectionLimits = ConnectionLimits(),
        grace: TimeAmount = .seconds(5),
        logger: Logger = Logger(label: "ova.test"),
        sharingCertificateWith other: RouterTestServer? = nil
    ) async throws -> RouterTestServer {
        let directory = try TestServerSetup.makeDataDirectory(prefix: "ova-test")
        do {
            if let other {
                for name in [DevelopmentCertificate.certificateFileName, DevelopmentCertificate.keyFileName] {
                    try FileManager.default.copyItem(
                        at: other.directory.appendingPathComponent(name), to: directory.appendingPathComponent(name)
                    )
                }
            }
            let configuration = try TestServerSetup.configuration(dataDirectory: directory)
            let tls = try TLSMaterial.resolve(configuration: configuration, logger: logger)
            var rpcConfiguration = RPCServer.Configuration(host: "127.0.0.1", port: 0, tls: try tls.makeServerTLSConfiguration())
            rpcConfiguration.limits = limits
            rpcConfiguration.shutdownGracePeriod = grace
            let server = RPCServer(configuration: rpcConfiguration, router: router, logger: logger)
            let address = try await server.start()
            return RouterTestServer(server: server, port: address.port ?? 0, certificatePath: tls.certificatePath, directory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    public func makeChannel() throws -> RPCChannel {
        try self.makeChannel(limits: ConnectionLimits())
    }

    public func makeChannel(limits: ConnectionLimits) throws -> RPCChannel {
        try TestServerSetup.makeChannel(port: self.port, certificatePath: self.certificatePath, limits: limits)
    }

    public func stop() async {
        await self.server.shutdownGracefully()
        try? FileManager.default.removeItem(at: self.directory)
    }
}
