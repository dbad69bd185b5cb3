import Logging
import OvaStore

extension AuditRepository {
    /// Appends `event`; when the store refuses, the record is logged at error level instead.
    ///
    /// The audited operation's own outcome stands either way (it already happened), so a lost
    /// audit record must at least reach the log.
    func append(_ event: AuditEventRecord, orLogTo logger: Logger) async {
        do {
            try await self.append(event)
        } catch {
            logger.error(
                "could not write an audit record",
                metadata: ["action": "\(event.action)", "actor": "\(event.actor)", "outcome": "\(event.outcome)", "error": "\(error)"]
            )
        }
    }
}
