import Testing

@testable import GavelCore

@Suite struct AlertmanagerWebhookTests {
    func signals(_ body: String, _ sender: SenderFormat = .alertmanager, settings: SenderSettings = SenderSettings()) throws -> [Signal] {
        try SenderIntakeTests.intake(body, sender, settings: settings)
    }

    func alert(_ labels: String, status: String = "firing", extra: String = "") -> String {
        #"{"version":"4","groupKey":"k","alerts":[{"status":"\#(status)","labels":{\#(labels)},"startsAt":"2026-12-01T00:00:00Z"\#(extra)}]}"#
    }

    @Test func documentationExample() throws {
        let s = try #require(try signals(SenderFixtures.alertmanagerDocs).first)
        #expect(s.signalID == "1a30ba71cca2921f:2023-02-06T13:08:45.828Z")
        #expect(s.ruleName == "ProbeFailure" && s.severity == .critical)
        #expect(s.title == "BlackBox Probe Failure: https://server.example.org")
        // A blackbox probe's instance is a URL: its host is context.
        #expect(s.contextHosts == ["server.example.org"])
        #expect(s.ips.isEmpty && s.users.isEmpty)
        #expect(s.link == "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1")
        #expect(s.flags.isEmpty)
    }

    @Test func grafanaDocumentationExample() throws {
        let all = try signals(SenderFixtures.grafanaDocs, .grafana)
        #expect(all.map(\.signalID) == ["c6eadffa33fcdf37:2021-10-12T09:51:03.157076+02:00", "bc97ff14869b13e3:2021-10-12T09:56:03.157076+02:00"])
        #expect(all.map(\.ruleName) == ["High memory usage", "High CPU usage"])
        #expect(all.allSatisfy { $0.source == "grafana" && $0.ips.isEmpty && $0.severity == nil && $0.flags.isEmpty })
        #expect(all[0].attributes?["values"]?["C"] == .number("1"))
    }

    @Test func fingerprintIsDerivedFromLabelsLikeAlertmanager() throws {
        // prometheus/common model: labelSetToFingerprint({name: "garland, briggs", fear: "love is not enough"})
        // = 5799056148416392346 = 0x507a62d79ee76c9a; the empty set is the FNV offset basis.
        let labels: JSONValue = ["name": "garland, briggs", "fear": "love is not enough"]
        guard case .object(let members) = labels else { return }
        #expect(AlertmanagerWebhook.labelFingerprint(members) == "507a62d79ee76c9a")
        #expect(AlertmanagerWebhook.labelFingerprint([]) == String(14_695_981_039_346_656_037 as UInt64, radix: 16))
        let s = try #require(
            try signals(#"{"version":"4","alerts":[{"labels":{"name":"garland, briggs","fear":"love is not enough"},"startsAt":"T"}]}"#).first)
        #expect(s.signalID == "507a62d79ee76c9a:T")
        #expect(s.flags.contains(.derivedID))
    }

    @Test func resolvedAlertsProposeNothingAndKeepTheFiringID() throws {
        let firing = try #require(try signals(alert(#""alertname":"A","src_ip":"203.0.113.4""#, extra: #","fingerprint":"ab""#)).first)
        let resolved = try #require(
            try signals(
                alert(#""alertname":"A","src_ip":"203.0.113.4""#, status: "resolved", extra: #","fingerprint":"ab","endsAt":"2026-12-01T00:05:00Z""#)
            ).first)
        #expect(firing.signalID == resolved.signalID)
        #expect(resolved.isResolved && resolved.lastSeen == "2026-12-01T00:05:00Z")
        #expect(resolved.ips.map(\.description) == ["203.0.113.4"])
        let config = GavelConfig.builtInDefaults(databasePath: "gavel.db")
        #expect(RemediationPlanner.propose(for: resolved, config: config, enabledActions: nil).isEmpty)
        #expect(RemediationPlanner.propose(for: firing, config: config, enabledActions: nil).map(\.target) == ["203.0.113.4"])
        // An alert without its own status takes the notification's.
        let inherited = try #require(try signals(#"{"version":"4","status":"resolved","alerts":[{"labels":{"alertname":"A"}}]}"#).first)
        #expect(inherited.isResolved)
    }

    @Test(arguments: [
        ("203.0.113.7:52114", "203.0.113.7"), ("[2001:db8::7]:443", "2001:db8::7"), ("2001:db8::7", "2001:db8::7"),
        ("http://203.0.113.7:8080/login", "203.0.113.7"), ("https://user@[2001:db8::8]/x", "2001:db8::8"),
    ])
    func hostPortValuesYieldTheHostsAddress(_ value: String, _ expected: String) throws {
        let s = try #require(try signals(alert(#""alertname":"A","remote_addr":"\#(value)""#)).first)
        #expect(s.ips.map(\.description) == [expected])
        #expect(s.invalidIPs.isEmpty)
    }

    @Test func targetIPLabelsThatAreNotAddressesAreNeverResolved() throws {
        let s = try #require(try signals(alert(#""alertname":"A","src_ip":"attacker.example.com","client_ip":"127.1""#)).first)
        #expect(s.ips.isEmpty)
        #expect(s.invalidIPs == ["attacker.example.com", "127.1"])
        #expect(s.flags == [.derivedID, .invalidIP])
    }

    @Test func instanceIsNeverATargetEvenWhenATargetLabelRepeatsIt() throws {
        let s = try #require(try signals(alert(#""alertname":"A","instance":"198.51.100.9:9100","src_ip":"198.51.100.9","user":"root""#)).first)
        #expect(s.ips.isEmpty)
        #expect(s.contextIPs.map(\.description) == ["198.51.100.9"])
        #expect(s.flags.contains(.targetWasContext))
        #expect(s.users == ["root"])
    }

    @Test func configuredLabels() throws {
        var settings = SenderSettings()
        settings.alertmanager = LabelSenderSettings(
            ipLabels: ["attacker"], userLabels: ["account"], resourceLabels: ["sg"], contextLabels: ["node"], severityLabel: "priority")
        let s = try #require(
            try signals(
                alert(
                    #""alertname":"A","attacker":"192.0.2.9","src_ip":"192.0.2.10","account":"o'brien@example.com","sg":"sg-0a1b2c3d","node":"10.9.8.7","instance":"x:1","priority":"P1""#
                ),
                settings: settings
            ).first)
        #expect(s.ips.map(\.description) == ["192.0.2.9"])
        #expect(s.users == ["o'brien@example.com"])
        #expect(s.securityGroups == ["sg-0a1b2c3d"])
        #expect(s.contextIPs.map(\.description) == ["10.9.8.7"])
        #expect(s.contextHosts.isEmpty)
        #expect(s.severity == nil)
        // Grafana keeps its own (default) settings.
        let g = try #require(try signals(alert(#""alertname":"A","attacker":"192.0.2.9","src_ip":"192.0.2.10""#), .grafana, settings: settings).first)
        #expect(g.ips.map(\.description) == ["192.0.2.10"])
    }

    @Test(arguments: [
        ("critical", Severity.critical), ("page", .critical), ("error", .high), ("HIGH", .high), ("warning", .medium),
        ("minor", .low), ("info", .info), ("none", .info), ("3", .high),
    ])
    func severityLabelWords(_ word: String, _ expected: Severity) throws {
        #expect(try signals(alert(#""alertname":"A","severity":"\#(word)""#)).first?.severity == expected)
    }

    @Test func alertsThatAreNotObjectsAreKeptAsUnrecognised() throws {
        let all = try signals(#"{"version":"4","alerts":[1,"x",null,{"labels":{"alertname":"A"}}]}"#)
        #expect(all.count == 4)
        #expect(all.prefix(3).allSatisfy { $0.flags.contains(.unrecognised) && $0.signalID.hasPrefix("derived-") })
        #expect(all[3].ruleName == "A" && !all[3].flags.contains(.unrecognised))
        #expect(Set(all.map(\.signalID)).count == 4)
    }
}
