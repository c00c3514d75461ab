import Testing

@testable import GavelCore

@Suite struct GuardDutyFindingTests {
    func signals(_ body: String) throws -> [Signal] { try SenderIntakeTests.intake(body, .guardduty) }
    let defaults = GavelConfig.builtInDefaults(databasePath: "gavel.db")

    @Test func awsSampleFindingIsProcessedAndFlagged() throws {
        let s = try #require(try signals(SenderFixtures.guardDutySample).first)
        #expect(s.signalID == "2ab35569068ee10579b5abdbe10e679f")
        #expect(s.ruleName == "UnauthorizedAccess:EC2/SSHBruteForce")
        #expect(s.severity == .low)
        #expect(s.flags.contains(.sampleFinding))
        #expect(s.eventCount == 11)
        // AWS's sample uses one documentation address for the attacker and the instance's public
        // address: the instance's own address is never a target.
        #expect(s.ips.isEmpty)
        #expect(s.flags.contains(.targetWasContext))
        #expect(s.contextIPs.map(\.description) == ["10.0.0.1", "198.51.100.0"])
        #expect(s.contextHosts == ["GeneratedFindingPrivateDnsName", "GeneratedFindingPublicDNSName"])
        #expect(s.contextSecurityGroups == ["GeneratedFindingSecurityId"])
        #expect(s.contextResources == ["i-99999999"])
        #expect(RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil).isEmpty)
    }

    @Test func portProbeFindingTargetsEveryProbingHost() throws {
        let s = try #require(try signals(SenderFixtures.guardDutyPortProbe).first)
        #expect(s.signalID == "7e4b1d2c3a5f60718293a4b5c6d7e8f9")
        #expect(s.ruleName == "Recon:EC2/PortProbeUnprotectedPort")
        #expect(s.ips.map(\.description) == ["203.0.113.201", "2001:db8:ffff::7"])
        #expect(s.contextIPs.map(\.description) == ["172.31.5.9", "192.0.2.44", "2001:db8:1::44"])
        #expect(s.contextSecurityGroups == ["sg-0123456789abcdef0"])
        #expect(s.securityGroups.isEmpty)
        #expect(s.eventCount == 23)
        #expect(s.flags.isEmpty)
        // The group is context: no rule config proposes bans only, never deleting the group.
        let planned = RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil)
        #expect(planned.map(\.action) == ["ban-ip", "ban-ip"])
    }

    @Test func iamFindingNamesTheUserToDisable() throws {
        let s = try #require(try signals(SenderFixtures.guardDutyIAM).first)
        #expect(s.users == ["ci-deployer"])
        #expect(s.ips.map(\.description) == ["198.51.100.77"])
        #expect(s.contextResources == ["AKIAIOSFODNN7EXAMPLE"])
        #expect(s.severity == .high)
        #expect(s.eventCount == 4)
        let planned = RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil).map { "\($0.action) \($0.target)" }
        #expect(planned == ["ban-ip 198.51.100.77", "disable-user ci-deployer"])
    }

    @Test func aRedeliveryWithAHigherCountKeepsTheID() throws {
        let first = try #require(try signals(SenderFixtures.guardDutyPortProbe).first)
        let again = try #require(
            try signals(SenderFixtures.guardDutyPortProbe.replacingOccurrences(of: #""count": 23"#, with: #""count": 31"#)).first)
        #expect(first.signalID == again.signalID)
        #expect(again.eventCount == 31)
    }

    @Test func findingsListsAndArrays() throws {
        let list = try signals(#"{"Findings":[\#(SenderFixtures.guardDutyIAM),\#(SenderFixtures.guardDutySample)]}"#)
        #expect(list.map(\.signalID) == ["30bf285e52a1e405084ff6ec28e06e17", "2ab35569068ee10579b5abdbe10e679f"])
        let array = try signals("[\(SenderFixtures.guardDutyPortProbe),\(SenderFixtures.guardDutyIAM)]")
        #expect(array.map(\.signalID) == ["7e4b1d2c3a5f60718293a4b5c6d7e8f9", "30bf285e52a1e405084ff6ec28e06e17"])
    }

    @Test(arguments: [
        ("10", Severity.critical), ("9.0", .critical), ("8.9", .high), ("7", .high), ("6.9", .medium), ("4.0", .medium),
        ("3.9", .low), ("1.0", .low), ("0.1", .low),
    ])
    func severityBands(_ score: String, _ expected: Severity) throws {
        #expect(Severity(guardDutyScore: score) == expected)
        let body = #"{"id":"x","type":"T","severity":\#(score),"resource":{},"service":{"serviceName":"guardduty"}}"#
        #expect(try signals(body).first?.severity == expected)
    }

    @Test func severitiesOutsideTheBandsAreNil() {
        for bad in ["0", "-1", "10.1", "nan", "inf", "", "high"] { #expect(Severity(guardDutyScore: bad) == nil, "\(bad)") }
    }

    @Test func missingIDIsDerivedFromTheBody() throws {
        let body =
            #"{"type":"T","resource":{},"service":{"serviceName":"guardduty","action":{"networkConnectionAction":{"remoteIpDetails":{"ipAddressV4":"203.0.113.3"}}}}}"#
        let s = try #require(try signals(body).first)
        #expect(s.signalID == "derived-" + String(SHA256.hex(Array(body.utf8)).prefix(32)))
        #expect(s.flags == [.derivedID])
        #expect(s.ips.map(\.description) == ["203.0.113.3"])
    }

    @Test func kubernetesSourceIPsAreTargets() throws {
        let body = #"""
            {"id":"k1","type":"Discovery:Kubernetes/MaliciousIPCaller","resource":{"resourceType":"EKSCluster","eksClusterDetails":{"name":"prod"}},
             "service":{"serviceName":"guardduty","action":{"kubernetesApiCallAction":{"requestUri":"/api","sourceIps":["192.0.2.200"],
               "remoteIpDetails":{"ipAddressV4":"192.0.2.201"}}}}}
            """#
        let s = try #require(try signals(body).first)
        #expect(Set(s.ips.map(\.description)) == ["192.0.2.200", "192.0.2.201"])
        #expect(s.contextResources == ["prod"])
    }
}
