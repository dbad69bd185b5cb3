import OvaProto
import OvaRPC

/// The audit log's one vocabulary for `AuditEvent.action`: `service.verb` in lower snake case,
/// the service being the RPC service (`auth`, `admins`, ...) and the verb what was done to it.
///
/// `proto/ova/v1/audit.proto` lists these names (a test keeps the two in step), so an operator
/// filters with the documented name. An action names what was attempted, not how it ended: a
/// failed login is `auth.login` with outcome `UNAUTHENTICATED`, so one filter finds every attempt.
public enum AuditAction: String, Sendable, CaseIterable {
    case authLogin = "auth.login"
    case authLogout = "auth.logout"
    case authRefresh = "auth.refresh"
    case authRevokeSession = "auth.revoke_session"
    case authRevokeAllSessions = "auth.revoke_all_sessions"
    case authChangePassword = "auth.change_password"
    /// Recorded only when refused (`all_admins` without being a superadmin).
    case authListSessions = "auth.list_sessions"
    case adminsCreate = "admins.create"
    case adminsUpdate = "admins.update"
    case adminsSetActive = "admins.set_active"
    case adminsDelete = "admins.delete"
    /// `ova-server admin reset-password`; there is no RPC for it.
    case adminsResetPassword = "admins.reset_password"
    /// Recorded only when refused (the caller is not a superadmin).
    case adminsGet = "admins.get"
    /// Recorded only when refused (the caller is not a superadmin).
    case adminsList = "admins.list"
    case usersRegister = "users.register"
    case usersUpdate = "users.update"
    case usersDeactivate = "users.deactivate"
    case usersDelete = "users.delete"
    case messagesSend = "messages.send"
    case messagesMark = "messages.mark"
    case messagesDelete = "messages.delete"
    case messagesExport = "messages.export"
    case contactsDelete = "contacts.delete"
    /// Recorded only when refused (the caller is not a superadmin).
    case auditList = "audit.list"
    /// `ova-server import ova-web`, once per run that writes (not for `--dry-run`), with the
    /// counts per source table as detail; there is no RPC for it.
    case importOvaWeb = "import.ova_web"

    /// The RPC this action records; nil for an action only `ova-server admin` or
    /// `ova-server import` takes.
    public var method: MethodDescriptor? {
        switch self {
        case .authLogin: AuthService.Method.login
        case .authLogout: AuthService.Method.logout
        case .authRefresh: AuthService.Method.refresh
        case .authRevokeSession: AuthService.Method.revokeSession
        case .authRevokeAllSessions: AuthService.Method.revokeAllSessions
        case .authChangePassword: AuthService.Method.changePassword
        case .authListSessions: AuthService.Method.listSessions
        case .adminsCreate: AdminsService.Method.createAdmin
        case .adminsUpdate: AdminsService.Method.updateAdmin
        case .adminsSetActive: AdminsService.Method.setAdminActive
        case .adminsDelete: AdminsService.Method.deleteAdmin
        case .adminsResetPassword: nil
        case .adminsGet: AdminsService.Method.getAdmin
        case .adminsList: AdminsService.Method.listAdmins
        case .usersRegister: UsersService.Method.registerUser
        case .usersUpdate: UsersService.Method.updateUser
        case .usersDeactivate: UsersService.Method.deactivateUser
        case .usersDelete: UsersService.Method.deleteUser
        case .messagesSend: MessagesService.Method.sendMessage
        case .messagesMark: MessagesService.Method.markMessage
        case .messagesDelete: MessagesService.Method.deleteMessage
        case .messagesExport: MessagesService.Method.exportMessages
        case .contactsDelete: ContactsService.Method.deleteContact
        case .auditList: AuditService.Method.listAuditEvents
        case .importOvaWeb: nil
        }
    }

    /// Whether every call is recorded. The rest are reads, recorded only when refused with
    /// PERMISSION_DENIED, so the log stays a record of actions and of attempts beyond one's role.
    public var recordsEveryCall: Bool {
        switch self {
        case .authListSessions, .adminsGet, .adminsList, .auditList: false
        default: true
        }
    }

    private static let byPath: [String: AuditAction] = Dictionary(
        uniqueKeysWithValues: allCases.compactMap { action in action.method.map { ($0.path, action) } }
    )

    /// The action of a call of `method`, if the table names it.
    public init?(method: MethodDescriptor) {
        guard let action = Self.byPath[method.path] else { return nil }
        self = action
    }

    /// The paths of the methods whose every call is recorded.
    public static var recordedMethodPaths: Set<String> {
        Set(allCases.filter(\.recordsEveryCall).compactMap { $0.method?.path })
    }

    /// The name recorded for a call of `method`: the table's, or for a refused call of a method
    /// the table does not know, the same shape derived from the RPC (`ova.v1.Status/GetStatus` →
    /// `status.get_status`), so the log never falls back to a second vocabulary.
    public static func name(for method: MethodDescriptor) -> String {
        if let action = AuditAction(method: method) {
            return action.rawValue
        }
        let service = method.service.split(separator: ".").last.map(String.init) ?? method.service
        return service.lowercased() + "." + snakeCase(method.name)
    }

    /// `RevokeAllSessions` → `revoke_all_sessions`.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                if !result.isEmpty { result += "_" }
                result += character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// The `actor` of audit records that no administrator's email names.
public enum AuditActor {
    /// A public call (subscriber registration, the contact form) or a failed login.
    public static let anonymous = "anonymous"
    /// An `ova-server admin` or `ova-server import` command, run on the server's host with
    /// access to the database.
    public static let commandLine = "cli"
}
