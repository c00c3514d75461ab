import Testing

@testable import GavelCore

@Suite struct TargetValidatorTests {
    @Test(arguments: ["203.0.113.42", "2001:db8::17", "10.0.0.1", "::1"])
    func acceptsCanonicalIPs(_ ip: String) {
        #expect(TargetValidator.validate(ip, kind: .ip, pattern: nil) == .success(ip))
    }

    @Test(arguments: [
        "127.1", "0177.0.0.1", "010.8.8.8", "0x7f.0.0.1", "2130706433", "1.2.3.4 ", " 1.2.3.4",
        "fe80::1%eth0", "2001:DB8::17", "2001:db8:0:0:0:0:2:1", "::ffff:10.0.0.1", "", "1.2.3.4\n",
        "1.2.3.4;rm -rf /", "１.２.３.４", "-1.2.3.4", "AWS Internal",
    ])
    func refusesNonCanonicalIPs(_ text: String) {
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate(text, kind: .ip, pattern: nil).get() }
    }

    @Test(arguments: [
        "shopper.one@example.com", "alice", "_svc", "user+tag=1,2:3@example.com", "A-b_c.d", "42",
        // Real identity-provider ids: an apostrophe, plus addressing, an underscore in the domain,
        // Entra ID's ! # ^ ~.
        "o'brien@example.com", "ops+gavel@example.com", "svc@ex_ample.com", "d'arcy.o'neil+x@sub_domain.example.org", "a!b#c^d~e@example.com",
        String(repeating: "a", count: 256),
    ])
    func acceptsUserIDs(_ user: String) {
        #expect(TargetValidator.validate(user, kind: .user, pattern: nil) == .success(user))
    }

    static let hostile = [
        "$(touch pwned); -rf", "`id`", "a;b", "a|b", "a\nb", "a b", "../x", "a/../b", "-rf", "--help",
        "a\u{0}b", "а dmin", "аdmin", "admin\u{200B}", "admin\u{202E}", "a\rb", "a\tb", "a&b", "a>b",
        "a\"b", "a\\b", "a..b", "'quoted'@example.com", "a/b@example.com", "a%b", "a?b", "a(b)", "a{b}", "a<b", "",
        String(repeating: "a", count: 257), ".hidden", "x*",
    ]

    @Test(arguments: hostile)
    func refusesHostileUserIDs(_ text: String) {
        let result = TargetValidator.validate(text, kind: .user, pattern: nil)
        guard case .failure(let refusal) = result else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
        // The message quotes the value with escapes: never a raw control character.
        #expect(!refusal.message.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{202E}" })
    }

    @Test(arguments: hostile + ["sg-0a1b2c3d4e5f6078", "sg-0A1B2C3D", "sg-0a1b2c3g", "sg-", "SG-0a1b2c3d", "sg-0a1b2c3d ", "xsg-0a1b2c3d"])
    func refusesBadSecurityGroups(_ text: String) {
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate(text, kind: .securityGroup, pattern: nil).get() }
    }

    @Test(arguments: ["sg-0a1b2c3d", "sg-0a1b2c3d4e5f60789"])
    func acceptsSecurityGroups(_ id: String) {
        #expect(TargetValidator.validate(id, kind: .securityGroup, pattern: nil) == .success(id))
    }

    @Test func signalIDs() {
        #expect(TargetValidator.validate("AQAAAYxk1-example-0003", kind: .signal, pattern: nil) == .success("AQAAAYxk1-example-0003"))
        #expect(TargetValidator.validate("derived-0123abcd", kind: .signal, pattern: nil) == .success("derived-0123abcd"))
        for bad in ["$(id)", "a b", "../x", "-x", "a@b"] {
            #expect(throws: DispatchRefusal.self) { try TargetValidator.validate(bad, kind: .signal, pattern: nil).get() }
        }
    }

    @Test func patternReplacesTheDefaultButNotTheBaseline() {
        // An Azure-style NSG name: outside the AWS default, allowed by the action's pattern.
        let pattern = "nsg-[a-z0-9-]{1,40}"
        #expect(TargetValidator.validate("nsg-web-01", kind: .securityGroup, pattern: pattern) == .success("nsg-web-01"))
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate("sg-0a1b2c3d", kind: .securityGroup, pattern: pattern).get() }
        // The whole target must match, not a part of it.
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate("nsg-web-01;rm", kind: .securityGroup, pattern: pattern).get() }
        // A permissive pattern still cannot let control characters, blanks or a leading '-' through.
        for bad in ["a\nb", "a b", "-rf", "", "x\u{0}"] {
            #expect(throws: DispatchRefusal.self) { try TargetValidator.validate(bad, kind: .user, pattern: ".*").get() }
        }
    }

    @Test func patternAddsToTheIPCheck() {
        let ipv4Only = "[0-9.]+"
        #expect(TargetValidator.validate("203.0.113.42", kind: .ip, pattern: ipv4Only) == .success("203.0.113.42"))
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate("2001:db8::1", kind: .ip, pattern: ipv4Only).get() }
        #expect(throws: DispatchRefusal.self) { try TargetValidator.validate("127.1", kind: .ip, pattern: ".*").get() }
    }

    @Test func patternProblem() {
        #expect(TargetValidator.patternProblem("sg-[0-9a-f]{8}") == nil)
        #expect(TargetValidator.patternProblem("sg-[") != nil)
    }
}
