import Testing

@testable import GavelCore

@Suite struct RemediationPlannerTests {
    /// The signals the receiver extracts from the three fixtures in ../shared/fixtures.
    static var securityGroupSignal: Signal {
        var s = Signal(signalID: "AQAAAYxk1-example-0003")
        s.ruleName = "AWS security group open to the world"
        s.severity = .critical
        s.securityGroups = ["sg-0a1b2c3d4e5f60789"]
        s.ips = [IPAddress(parsing: "192.0.2.10")!]
        s.actor = "arn:aws:iam::111122223333:user/dev-sandbox"
        return s
    }

    static var banIPSignal: Signal {
        var s = Signal(signalID: "AQAAAYxk1-example-0001")
        s.ruleName = "Request from unexpected IP address"
        s.severity = .high
        s.ips = [IPAddress(parsing: "203.0.113.42")!]
        return s
    }

    static var cardFraudSignal: Signal {
        var s = Signal(signalID: "AQAAAYxk1-example-0002")
        s.ruleName = "Fraudulent Credit Card Authorizations"
        s.severity = .medium
        s.users = ["shopper.one@example.com"]
        s.ips = [IPAddress(parsing: "198.51.100.23")!]
        return s
    }

    let defaults = GavelConfig.builtInDefaults(databasePath: "gavel.db")

    func example() throws -> GavelConfig {
        try GavelConfig.load(path: exampleConfigPath, environment: ["GAVEL_TOKEN": "t"], databasePath: "gavel.db")
    }

    @Test func defaultsForTheThreeScenarios() {
        #expect(
            RemediationPlanner.propose(for: Self.securityGroupSignal, config: defaults, enabledActions: nil) == [
                ProposedRemediation(action: "delete-security-group", targetKind: .securityGroup, target: "sg-0a1b2c3d4e5f60789")
            ])
        #expect(
            RemediationPlanner.propose(for: Self.banIPSignal, config: defaults, enabledActions: nil) == [
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "203.0.113.42")
            ])
        // Without a rule config the fraud signal also proposes a ban of its IP.
        #expect(
            RemediationPlanner.propose(for: Self.cardFraudSignal, config: defaults, enabledActions: nil) == [
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "198.51.100.23"),
                ProposedRemediation(action: "disable-user", targetKind: .user, target: "shopper.one@example.com"),
            ])
    }

    @Test func exampleConfigForTheThreeScenarios() throws {
        let config = try example()
        #expect(
            RemediationPlanner.propose(for: Self.securityGroupSignal, config: config, enabledActions: nil) == [
                ProposedRemediation(action: "delete-security-group", targetKind: .securityGroup, target: "sg-0a1b2c3d4e5f60789")
            ])
        #expect(
            RemediationPlanner.propose(for: Self.banIPSignal, config: config, enabledActions: nil) == [
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "203.0.113.42")
            ])
        #expect(
            RemediationPlanner.propose(for: Self.cardFraudSignal, config: config, enabledActions: nil) == [
                ProposedRemediation(action: "disable-user", targetKind: .user, target: "shopper.one@example.com")
            ])
        #expect(RemediationPlanner.mode(for: Self.banIPSignal, config: config) == .manual)
    }

    @Test func ruleLookupPrefersTheRuleID() throws {
        let config = try loadTestConfig(
            #"""
            {"rules": {"rule-abc": {"actions": ["disable-user"], "mode": "auto"},
                       "Fraudulent Credit Card Authorizations": {"actions": ["ban-ip"], "mode": "dry-run"}}}
            """#)
        var signal = Self.cardFraudSignal
        #expect(RemediationPlanner.propose(for: signal, config: config, enabledActions: nil).map(\.action) == ["ban-ip"])
        #expect(RemediationPlanner.mode(for: signal, config: config) == .dryRun)
        signal.ruleID = "rule-abc"
        #expect(RemediationPlanner.propose(for: signal, config: config, enabledActions: nil).map(\.action) == ["disable-user"])
        #expect(RemediationPlanner.mode(for: signal, config: config) == .auto)
        signal.ruleID = "other"
        signal.ruleName = "other"
        #expect(RemediationPlanner.mode(for: signal, config: config) == .manual)
    }

    @Test func ruleActionsApplyToEveryEntityOfTheirKind() throws {
        let config = try loadTestConfig(
            #"""
            {"actions": {"forward": {"target": "signal", "outbox": {}}},
             "rules": {"Multi": {"actions": ["disable-user", "ban-ip", "forward", "delete-security-group"]}}}
            """#)
        var signal = Signal(signalID: "sig-1")
        signal.ruleName = "Multi"
        signal.ips = [IPAddress(parsing: "203.0.113.1")!, IPAddress(parsing: "2001:db8::17")!]
        signal.users = ["alice", "bob"]
        signal.securityGroups = ["sg-0a1b2c3d"]
        let proposals = RemediationPlanner.propose(for: signal, config: config, enabledActions: nil)
        #expect(
            proposals.map { "\($0.action) \($0.target)" } == [
                "disable-user alice", "disable-user bob", "ban-ip 203.0.113.1", "ban-ip 2001:db8::17", "forward sig-1",
                "delete-security-group sg-0a1b2c3d",
            ])
        #expect(proposals.allSatisfy { $0.suppressedBy == nil })
        // The analyst's narrowed set filters the rule's actions.
        #expect(RemediationPlanner.propose(for: signal, config: config, enabledActions: ["ban-ip"]).map(\.target) == ["203.0.113.1", "2001:db8::17"])
        #expect(RemediationPlanner.propose(for: signal, config: config, enabledActions: []).isEmpty)
    }

    @Test func allowlistedTargetsAreSuppressed() throws {
        var signal = Self.banIPSignal
        signal.ips = [IPAddress(parsing: "10.1.2.3")!, IPAddress(parsing: "203.0.113.42")!, IPAddress(parsing: "198.51.100.5")!]
        let config = try example()  // allowlists 198.51.100.0/28 and break-glass-admin@example.com
        #expect(
            RemediationPlanner.propose(for: signal, config: config, enabledActions: nil) == [
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "10.1.2.3", suppressedBy: "allowlist: 10.0.0.0/8 (RFC 1918)"),
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "203.0.113.42"),
                ProposedRemediation(action: "ban-ip", targetKind: .ip, target: "198.51.100.5", suppressedBy: "allowlist: 198.51.100.0/28"),
            ])
        var fraud = Self.cardFraudSignal
        fraud.users = ["Break-Glass-Admin@example.com"]
        #expect(
            RemediationPlanner.propose(for: fraud, config: config, enabledActions: nil).first?.suppressedBy
                == "allowlist: user Break-Glass-Admin@example.com")
    }

    @Test func invalidTargetsAreProposedSuppressed() {
        var signal = Signal(signalID: "sig-2")
        signal.users = ["$(touch pwned); -rf", "alice", "alice"]
        signal.securityGroups = []
        signal.invalidIPs = ["AWS Internal"]
        let proposals = RemediationPlanner.propose(for: signal, config: defaults, enabledActions: nil)
        #expect(proposals.count == 2)  // de-duplicated; "AWS Internal" is never a target
        #expect(proposals[0].target == "$(touch pwned); -rf")
        #expect(proposals[0].suppressedBy?.hasPrefix("invalid target: user target") == true)
        #expect(proposals[1] == ProposedRemediation(action: "disable-user", targetKind: .user, target: "alice"))

        var group = Signal(signalID: "sig-3")
        group.securityGroups = ["sg-../../etc"]
        #expect(
            RemediationPlanner.propose(for: group, config: defaults, enabledActions: nil).first?.suppressedBy?.hasPrefix("invalid target") == true)
    }

    @Test func emptySignalProposesNothing() {
        #expect(RemediationPlanner.propose(for: Signal(signalID: "x"), config: defaults, enabledActions: nil).isEmpty)
    }

    @Test func resolvedSignalsProposeNothingWhateverTheConfig() throws {
        var s = Self.cardFraudSignal
        s.status = .resolved
        #expect(RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil).isEmpty)
        #expect(RemediationPlanner.propose(for: s, config: try example(), enabledActions: nil).isEmpty)
    }

    @Test func contextEntitiesAreNeverTargets() {
        var s = Signal(signalID: "gd")
        s.ruleName = "UnauthorizedAccess:EC2/SSHBruteForce"
        s.ips = [IPAddress(parsing: "198.51.100.203")!]
        s.contextIPs = [IPAddress(parsing: "192.0.2.80")!]
        s.contextSecurityGroups = ["sg-0fedcba9876543210"]
        s.contextResources = ["i-0a1b2c3d4e5f60789"]
        let planned = RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil)
        #expect(planned.map { "\($0.action) \($0.target)" } == ["ban-ip 198.51.100.203"])
    }
}
