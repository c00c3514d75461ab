import Testing

@testable import GavelCore

@Suite struct GenericPayloadTests {
    func settings(_ config: String = SenderFixtures.elasticSenderConfig) throws -> SenderSettings { try loadTestConfig(config).senders }

    @Test func elasticSecurityWebhookConnector() throws {
        let all = try SenderIntakeTests.intake(SenderFixtures.elasticBody, .generic("elastic"), settings: try settings())
        #expect(all.count == 2)
        let first = all[0]
        #expect(first.source == "elastic")
        #expect(first.signalID == "e4c5b0f2a1d3c4b5a6978877665544332211aabbccddeeff0011223344556677")
        #expect(first.ruleName == "Multiple Logon Failure Followed by Logon Success")
        #expect(first.ruleID == "4e85dc8a-3e41-40d8-bc28-91af7ac6cf60")
        #expect(first.severity == .high)
        #expect(first.title?.hasPrefix("authentication event with source 203.0.113.90") == true)
        #expect(first.link == "https://kibana.example.com/app/security/alerts?filters=rule")
        #expect(first.ips.map(\.description) == ["203.0.113.90"])
        #expect(first.users == ["o'brien+ops@ex_ample.com"])
        #expect(first.contextIPs.map(\.description) == ["10.1.2.3", "fe80::1"])
        #expect(first.contextHosts == ["web-1"])
        #expect(first.flags.isEmpty)
        // Flattened ECS keys read like nested ones; the rule comes from beside the alert list.
        let second = all[1]
        #expect(second.ruleName == "Multiple Logon Failure Followed by Logon Success")
        #expect(second.severity == .critical)
        #expect(second.ips.map(\.description) == ["2001:db8::90"])
        #expect(second.users == ["svc_backup"])
        #expect(second.contextHosts == ["db-2"])
        // The user ids are real addresses and are valid targets.
        let planned = RemediationPlanner.propose(for: first, config: GavelConfig.builtInDefaults(databasePath: "gavel.db"), enabledActions: nil)
        #expect(
            planned.map { "\($0.action) \($0.target) \($0.suppressedBy ?? "-")" } == [
                "ban-ip 203.0.113.90 -", "disable-user o'brien+ops@ex_ample.com -",
            ])
    }

    @Test func wholeBodyAlertsArraysAndStatus() throws {
        let config = #"""
            {"senders":{"generic":{"siem":{"id":"alert_id","rule":"rule","severity":"prio","status":"state","resolved_values":["CLOSED","ok"],
              "severity_map":{"P1":"critical","P2":"high"},"ips":"src","users":["actor.login"],"resources":["sg"]}}}}
            """#
        let s = try settings(config)
        let one = try #require(
            try SenderIntakeTests.intake(
                #"{"alert_id":"a-1","rule":"R","prio":"P1","src":["192.0.2.1","192.0.2.2"],"actor":{"login":"ann"},"sg":"sg-0a1b2c3d"}"#,
                .generic("siem"), settings: s
            ).first)
        #expect(
            one.signalID == "a-1" && one.severity == .critical && one.ips.count == 2 && one.users == ["ann"] && one.securityGroups == ["sg-0a1b2c3d"])
        #expect(one.status == .firing)
        let list = try SenderIntakeTests.intake(
            #"[{"rule":"R","state":"closed","prio":"warning"},{"rule":"R","state":"OK"},{"rule":"R","state":"open"}]"#, .generic("siem"), settings: s)
        #expect(list.map(\.status) == [.resolved, .resolved, .firing])
        #expect(list[0].severity == .medium)
        #expect(list.allSatisfy { $0.signalID.hasPrefix("derived-") && $0.flags.contains(.derivedID) })
        // A body that is the alert derives its id from the raw bytes, like Datadog.
        let body = #"{"rule":"R"}"#
        #expect(
            try SenderIntakeTests.intake(body, .generic("siem"), settings: s).first?.signalID == "derived-"
                + String(SHA256.hex(Array(body.utf8)).prefix(32)))
    }

    @Test func nothingFoundIsUnrecognised() throws {
        let s = try #require(try SenderIntakeTests.intake(#"{"other":1}"#, .generic("elastic"), settings: try settings()).first)
        #expect(s.flags.contains(.unrecognised))
        let empty = try SenderIntakeTests.intake(#"{"alerts":[]}"#, .generic("elastic"), settings: try settings())
        #expect(empty.count == 1 && empty[0].flags.contains(.unrecognised))
    }

    @Test func fieldPaths() throws {
        let doc = try JSONValue.literal(
            #"{"a":{"b":{"c":1}},"a.b":{"c":2},"a.b.c":3,"list":[{"x":"p"},{"x":["q","r"]},{"y":1}],"n":[[{"x":"deep"}]],"@k":4}"#)
        func texts(_ path: String) -> [String] { FieldPath(path)!.values(in: doc).compactMap(\.scalarText) }
        #expect(texts("a.b.c") == ["1", "2", "3"])
        #expect(texts("list.x") == ["p", "q", "r"])
        #expect(texts("list.1.x") == ["q", "r"])
        #expect(texts("list.7.x") == [])
        #expect(texts("n.x") == ["deep"])
        #expect(texts("@k") == ["4"])
        #expect(texts("missing") == [])
        for bad in ["", ".a", "a.", "a..b", String(repeating: "a.", count: 16) + "a", String(repeating: "x", count: 257)] {
            #expect(FieldPath(bad) == nil, "\(bad)")
        }
        #expect(FieldPath("kibana.alert.rule.name")?.components == ["kibana", "alert", "rule", "name"])
        let many = try JSONValue.literal("[" + Array(repeating: "1", count: 5000).joined(separator: ",") + "]")
        #expect(FieldPath("x")!.values(in: ["x": many]).count == FieldPath.maxValues)
    }

    @Test func bigBodiesStayCheap() throws {
        // 1000 alerts missing every field, beside 20 000 other keys: the body-level lookups
        // are made once, not once per alert.
        let noise = (0..<20_000).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let alerts = Array(repeating: #"{"x":1}"#, count: 1000).joined(separator: ",")
        let body = #"{\#(noise),"alerts":[\#(alerts)]}"#
        let clock = ContinuousClock()
        let start = clock.now
        let all = try SenderIntakeTests.intake(body, .generic("elastic"), settings: try settings())
        #expect(all.count == 1000)
        #expect(all.allSatisfy { $0.flags.contains(.unrecognised) })
        #expect(clock.now - start < .seconds(20))
    }
}
