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
