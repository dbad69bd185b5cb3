import OvaProto
import OvaRPC
import OvaServices

/// The services this server implements, assembled in one place.
public struct ServiceRegistry: Sendable {
    public let router: RPCRouter
    public let health: HealthStatusBoard
    public let interceptors: [any ServerInterceptor]

    /// - Parameters:
    ///   - accounts: the back-office services; nil serves only Echo, Health and Reflection.
    ///   - multimodal: speech, chat, voice, vision, sign and status (needs `accounts`).
    public init(accounts: AccountServices? = nil, multimodal: MultimodalServices? = nil, configuration: ServerConfiguration? = nil) {
        var router = RPCRouter()
        router.register(EchoServiceHandler())
        if let accounts, let configuration {
            accounts.register(into: &router, configuration: configuration)
            multimodal?.register(into: &router, configuration: configuration, accounts: accounts)
        }
        // Reflection and Health describe the final set, so they are registered with its names.
        let implemented = Set(router.registeredMethods.map(\.service))
            .union([HealthService.descriptor.name, ReflectionService.descriptor.name])
        let health = HealthStatusBoard(services: implemented.sorted())
        router.register(HealthServiceHandler(board: health))
        router.register(ReflectionServiceHandler(implementedServices: implemented))
        self.router = router
        self.health = health
        self.interceptors = accounts?.interceptors ?? []
    }
}
