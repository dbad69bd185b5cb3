import OvaProto
import OvaRPC

/// The requests of the `send-message` and `list-messages` modes: the real write and read paths
/// of the contact inbox (`ova.v1.Messages`), through the database, the interceptors and auth.
enum MessagesWorkload {
    /// Messages per ListMessages page: the server's default page.
    static let pageSize = 50

    /// A contact-form message as a visitor writes one: accented names, a one-line subject and a
    /// paragraph of 412 characters, 423 bytes (the form takes 10 to 5,000 characters).
    /// Each worker writes as its own sender, so the inbox groups them as distinct people.
    static func sendRequest(worker: Int) -> SendMessageRequest {
        SendMessageRequest(
            name: "María José Pérez Núñez",
            email: "maria.perez.\(worker)@example.com",
            subject: "Consulta sobre el asistente de voz",
            message: """
                Hola, les escribo porque me gustaría saber si la plataforma permite usar el asistente de voz \
                en español desde el navegador del móvil. Lo he probado en casa y la transcripción funciona muy \
                bien, pero en la oficina la conexión se corta a menudo y no sé si es un problema de la red o de \
                la configuración. ¿Podrían indicarme qué requisitos tiene y si hay alguna guía para \
                administradores? Muchas gracias de antemano.
                """
        )
    }

    /// The first page of the inbox, newest first: what the back office opens.
    static let listRequest = ListMessagesRequest(page: PageRequest(pageSize: UInt32(pageSize)))

    /// Call options that carry `token` as the server expects it (as `ova` sends it).
    static func authorized(token: String) -> CallOptions {
        var metadata = Metadata()
        metadata.addString("Bearer \(token)", forKey: "authorization")
        return CallOptions(metadata: metadata)
    }

    /// Before the clock starts: one ListMessages call, so a refused token or an inbox too small
    /// to fill a page is one clear error rather than a run of failures or of short pages.
    static func checkReady(_ client: MessagesClient, options: CallOptions, addr: String) async throws {
        let response: ListMessagesResponse
        do {
            response = try await client.listMessages(self.listRequest, options: options)
        } catch let error as RPCError where error.code == .unauthenticated || error.code == .permissionDenied {
            throw BenchError(
                "list-messages: the server refused the token (\(error.code.name): \(error.message)); "
                    + "log in with `ova login --addr \(addr)` or pass a fresh --token"
            )
        }
        let total = response.page?.totalSize ?? 0
        guard response.messages.count >= self.pageSize else {
            throw BenchError(
                "list-messages: the server holds \(total) message(s), less than a page of \(self.pageSize); fill it first, "
                    + "e.g. `ova-bench --addr \(addr) --mode send-message --requests 1000 --warmup 0` "
                    + "(see Benchmarks/README.md)"
            )
        }
    }
}
