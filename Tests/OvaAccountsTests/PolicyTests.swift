import Foundation
import OvaTestServer
import OvaProto
import OvaRPC
import Testing

@testable import OvaServices

@Suite("Access policy and validation")
struct PolicyTests {
    @Test("only the intended methods are public, and admin management and audit need a superadmin")
    func policy() {
        let policy = AccessPolicy.ova
        var open: [String] = []
        var superadmin: [String] = []
        for service in OvaSchema.services {
            for method in service.methods {
                switch policy.level(for: method) {
                case .open: open.append(method.path)
                case .superadmin: superadmin.append(method.path)
                case .admin: break
                }
            }
        }
        let openOutsideDiagnostics = open.filter {
            !$0.hasPrefix("ova.v1.Health/") && !$0.hasPrefix("ova.v1.Echo/") && !$0.hasPrefix("ova.v1.Reflection/")
        }
        #expect(openOutsideDiagnostics.sorted() == ["ova.v1.Auth/Login", "ova.v1.Messages/SendMessage", "ova.v1.Users/RegisterUser"])
        #expect(superadmin.allSatisfy { $0.hasPrefix("ova.v1.Admins/") || $0.hasPrefix("ova.v1.Audit/") })
        #expect(superadmin.contains("ova.v1.Admins/CreateAdmin"))
        #expect(superadmin.contains("ova.v1.Audit/ListAuditEvents"))
        // A method nobody classified is protected by default.
        let unknown = MethodDescriptor(service: "ova.v1.Future", name: "Thing", kind: .unary, inputType: "x", outputType: "y")
        #expect(policy.level(for: unknown) == .admin)
    }

    @Test("the audit vocabulary: every name audit.proto lists is in AuditAction and back, and each names its RPC")
    func auditVocabulary() throws {
        let proto = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("proto/ova/v1/audit.proto")
        let text = try String(contentsOf: proto, encoding: .utf8)
        // The comment block above `string action = 5;`.
        let lines = text.components(separatedBy: "\n")
        let actionLine = try #require(lines.firstIndex { $0.contains("string action = 5;") })
        var comment: [String] = []
        for line in lines[..<actionLine].reversed() {
            guard line.trimmingCharacters(in: .whitespaces).hasPrefix("//") else { break }
            comment.append(line)
        }
        // Names are `word.word_word`; a sentence's final period is not part of one.
        let documented = Set(comment.joined(separator: " ").split { !($0.isLetter || $0 == "_" || $0 == ".") }.map {
            String($0.hasSuffix(".") ? $0.dropLast() : $0)
        }.filter { token in
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 == "_" || ("a"..."z").contains($0) } }
        })
        let table = Set(AuditAction.allCases.map(\.rawValue))
        // "service.verb" describes the shape; status.reset_circuit_breaker is the example of a derived name.
        #expect(documented.subtracting(["service.verb", "status.reset_circuit_breaker"]) == table)

        for action in AuditAction.allCases {
            if let method = action.method {
                #expect(AuditAction(method: method) == action)
                #expect(AuditAction.name(for: method) == action.rawValue)
                // The service part is the RPC's service.
                #expect(action.rawValue.hasPrefix(method.service.dropFirst("ova.v1.".count).lowercased() + "."))
            }
        }
        #expect(AuditAction.adminsResetPassword.method == nil)
        // A refusal can come from any method of a superadmin service: each has a table name.
        let policy = AccessPolicy.ova
        for method in OvaSchema.services.flatMap(\.methods) where policy.level(for: method) == .superadmin {
            #expect(AuditAction(method: method) != nil, "\(method.path)")
        }
        #expect(AuditAction.recordedMethodPaths.contains(AuthService.Method.login.path))
        #expect(!AuditAction.recordedMethodPaths.contains(AdminsService.Method.listAdmins.path))
        #expect(AuditAction.name(for: StatusService.Method.resetCircuitBreaker) == "status.reset_circuit_breaker")
        #expect(AuditAction.name(for: AuthService.Method.whoAmI) == "auth.who_am_i")
    }

    @Test("email syntax")
    func emails() {
        for valid in ["a@b.co", "first.last+tag@sub.example.org", "x_y-z@example-domain.com"] {
            #expect(EmailAddress.isValid(valid), "\(valid)")
        }
        for invalid in ["", "a", "a@b", "a@b.c", "@b.co", "a@.co", "a@b..co", ".a@b.co", "a.@b.co", "a b@c.co", "a@b_c.co",
                        "a@-b.co", "a@b.co\u{0}", "' OR 1=1 --@x.co", String(repeating: "a", count: 65) + "@b.co"] {
            #expect(!EmailAddress.isValid(invalid), "\(invalid)")
        }
    }

    @Test("the validator trims, counts characters and rejects control characters")
    func validator() {
        var validator = RequestValidator()
        #expect(validator.text("  ñandú  ", field: "name", length: 2...10) == "ñandú")
        #expect(validator.violations.isEmpty)
        _ = validator.text("   ", field: "empty", length: 1...10)
        _ = validator.text("bell\u{7}", field: "control", length: 1...10)
        _ = validator.text(String(repeating: "x", count: 11), field: "long", length: 1...10)
        #expect(validator.violations.map(\.field) == ["empty", "control", "long"])
        #expect(throws: RPCError.self) { try validator.check() }
    }

    @Test("CSV cells are quoted per RFC 4180 and formulas are neutralized")
    func csv() {
        #expect(CSVEncoder.record(["a", "b,c", "say \"hi\"", "line\nbreak"]) == "a,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\"\r\n")
        #expect(CSVEncoder.field("=1+1") == "'=1+1")
        #expect(CSVEncoder.field("+1") == "'+1")
        #expect(CSVEncoder.field("-1") == "'-1")
        #expect(CSVEncoder.field("@x") == "'@x")
        #expect(CSVEncoder.field("plain") == "plain")
    }

    @Test("peer addresses reduce to their host")
    func peers() {
        #expect(peerHost("127.0.0.1:5000") == "127.0.0.1")
        #expect(peerHost("[::1]:5000") == "::1")
        #expect(peerHost("unix") == "unix")
    }
}
