import OvaProto
import OvaRPC

/// Who may call each method. Anything not listed needs an active administrator, so a new
/// method is protected until someone decides otherwise.
public struct AccessPolicy: Sendable {
    public enum Level: Sendable, Equatable {
        /// No token needed (a token, if sent, is still checked and attached).
        case open
        case admin
        case superadmin
    }

    private let openMethods: Set<String>
    private let openServices: Set<String>
    private let superadminServices: Set<String>

    /// OVA's policy: login, the contact form, subscriber registration and health are public;
    /// so are the diagnostics Echo (what `ova-bench` drives) and Reflection (the schema,
    /// which is public anyway). Managing administrators and reading the audit log need a
    /// superadmin; everything else an administrator.
    public static let ova = AccessPolicy(
        openMethods: [
            AuthService.Method.login.path,
            MessagesService.Method.sendMessage.path,
            UsersService.Method.registerUser.path,
        ],
        openServices: [HealthService.descriptor.name, EchoService.descriptor.name, ReflectionService.descriptor.name],
        superadminServices: [AdminsService.descriptor.name, AuditService.descriptor.name]
    )

    public init(openMethods: Set<String>, openServices: Set<String>, superadminServices: Set<String>) {
        self.openMethods = openMethods
        self.openServices = openServices
        self.superadminServices = superadminServices
    }

    /// Services open as a whole (diagnostics): nothing about the caller matters to them.
    public func isOpenService(_ method: MethodDescriptor) -> Bool {
        self.openServices.contains(method.service)
    }

    public func level(for method: MethodDescriptor) -> Level {
        if self.openMethods.contains(method.path) || self.openServices.contains(method.service) {
            return .open
        }
        if self.superadminServices.contains(method.service) {
            return .superadmin
        }
        return .admin
    }
}
