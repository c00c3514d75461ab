import Foundation
import Testing

@testable import GavelCore

/// Every sender's body through the one entry point the receiver calls.
@Suite struct SenderIntakeTests {
    static func intake(_ body: [UInt8], _ sender: SenderFormat?, settings: SenderSettings = SenderSettings(), format: PayloadFormat = .json)
        throws(PayloadError) -> [Signal]
    {
        try SenderIntake.signals(body: body, format: format, sender: sender, settings: settings)
    }

    static func intake(_ body: String, _ sender: SenderFormat?, settings: SenderSettings = SenderSettings()) throws(PayloadError) -> [Signal] {
        try intake(Array(body.utf8), sender, settings: settings)
    }

    static func error(_ body: [UInt8], _ sender: SenderFormat?, settings: SenderSettings = SenderSettings(), format: PayloadFormat = .json)
        -> PayloadError?
    {
        do {
            _ = try intake(body, sender, settings: settings, format: format)
            return nil
        } catch {
            return error
        }
    }

    static func ips(_ list: [IPAddress]) -> [String] { list.map(\.description) }

    let defaults = GavelConfig.builtInDefaults(databasePath: "gavel.db")

    /// (action, target) of each unsuppressed proposal with no rule config.
    func proposals(_ s: Signal) -> [String] {
        RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil).filter { $0.suppressedBy == nil }.map {
            "\($0.action) \($0.target)"
        }
    }

    // MARK: the shared fixtures, each exactly as fixtures/README.md says

    @Test func alertmanagerFixture() throws {
        for sender in [SenderFormat.alertmanager, nil] {
            let signals = try Self.intake(try SenderFixtures.file("alertmanager.json"), sender)
            #expect(signals.count == 2)
            let firing = signals[0]
            let resolved = signals[1]
            #expect(firing.source == "alertmanager" && resolved.source == "alertmanager")
            #expect(firing.ruleName == "SSHBruteForce" && resolved.ruleName == "SSHBruteForce")
            #expect(firing.severity == .critical && resolved.severity == .critical)
            #expect(firing.signalID == "5f1e0c2a9b7d4e31:2026-12-02T21:14:05.512Z")
            #expect(resolved.signalID == "a03c77e14b2d9f60:2026-12-02T20:51:44.001Z")
            #expect(firing.status == .firing && !firing.isResolved)
            #expect(resolved.status == .resolved && resolved.isResolved)
            #expect(Self.ips(firing.ips) == ["203.0.113.131"])
            #expect(firing.users == ["deploy"])
            #expect(firing.securityGroups.isEmpty)
            // `instance` is the monitored host: context, never a target.
            #expect(firing.contextHosts == ["bastion-1.example.com"])
            #expect(Self.ips(resolved.contextIPs) == ["10.0.4.17"])
            #expect(Self.ips(resolved.ips) == ["198.51.100.140"])
            #expect(firing.title == "41 failed SSH logins from 203.0.113.131 in 5m")
            #expect(firing.message == "Failed password for deploy from 203.0.113.131 port 52114")
            #expect(firing.link?.hasPrefix("http://prometheus.example.com:9090/graph") == true)
            #expect(firing.firstSeen == "2026-12-02T21:14:05.512Z" && firing.lastSeen == nil)
            #expect(resolved.lastSeen == "2026-12-02T21:06:44.001Z")
            #expect(firing.flags.isEmpty && resolved.flags.isEmpty)
            #expect(proposals(firing) == ["ban-ip 203.0.113.131", "disable-user deploy"])
            #expect(proposals(resolved).isEmpty)
            #expect(RemediationPlanner.propose(for: resolved, config: defaults, enabledActions: nil).isEmpty)
        }
    }

    @Test func grafanaFixture() throws {
        for sender in [SenderFormat.grafana, nil] {
            let signals = try Self.intake(try SenderFixtures.file("grafana.json"), sender)
            let s = try #require(signals.first)
            #expect(signals.count == 1)
            #expect(s.source == "grafana")
            #expect(s.ruleName == "Credential stuffing on /login")
            #expect(s.signalID == "c1d2e3f4a5b60718:2026-12-02T22:03:10Z")
            #expect(Self.ips(s.ips) == ["2001:db8:77::9"])
            #expect(s.users.isEmpty && s.contextIPs.isEmpty && s.contextHosts.isEmpty)
            #expect(s.severity == nil)
            #expect(s.status == .firing)
            #expect(s.title == "380 failed logins from 2001:db8:77::9 in 10m")
            #expect(s.attributes?["values"]?["B"] == .number("380"))
            #expect(s.attributes?["valueString"] == .string("[ var='B' labels={client_ip=2001:db8:77::9} value=380 ]"))
            #expect(s.flags.isEmpty)
            #expect(proposals(s) == ["ban-ip 2001:db8:77::9"])
        }
    }

    @Test func guardDutyFixture() throws {
        for sender in [SenderFormat.guardduty, nil] {
            let signals = try Self.intake(try SenderFixtures.file("guardduty.json"), sender)
            let s = try #require(signals.first)
            #expect(signals.count == 1)
            #expect(s.source == "guardduty")
            #expect(s.signalID == "8ac6e5f1b2d34c7f9e0a1b2c3d4e5f60")
            #expect(s.ruleName == "UnauthorizedAccess:EC2/SSHBruteForce")
            #expect(s.severity == .medium)
            #expect(Self.ips(s.ips) == ["198.51.100.203"])
            #expect(s.users.isEmpty)
            // The instance, its group and its addresses are context, never targets.
            #expect(s.securityGroups.isEmpty)
            #expect(s.contextSecurityGroups == ["sg-0fedcba9876543210"])
            #expect(s.contextResources == ["i-0a1b2c3d4e5f60789"])
            #expect(Self.ips(s.contextIPs) == ["10.0.2.15", "192.0.2.80"])
            #expect(s.eventCount == 7)
            #expect(s.firstSeen == "2026-12-02T22:40:03Z" && s.lastSeen == "2026-12-02T23:09:41Z")
            #expect(s.title?.hasPrefix("198.51.100.203 is performing SSH brute force attacks") == true)
            #expect(s.attributes?["id"] == .string("8ac6e5f1b2d34c7f9e0a1b2c3d4e5f60"))
            #expect(s.flags.isEmpty)
            // No rule config: ban the remote address only (the group is not a target).
            #expect(proposals(s) == ["ban-ip 198.51.100.203"])
        }
    }

    @Test func crowdSecFixture() throws {
        for sender in [SenderFormat.crowdsec, nil] {
            let signals = try Self.intake(try SenderFixtures.file("crowdsec.json"), sender)
            let s = try #require(signals.first)
            #expect(signals.count == 1)
            #expect(s.source == "crowdsec")
            #expect(s.ruleName == "crowdsecurity/http-bf-wordpress_bf")
            #expect(Self.ips(s.ips) == ["192.0.2.161"])
            #expect(s.suggestedDurationSeconds == 4 * 3600)
            #expect(s.eventCount == 6)
            #expect(s.ipRanges.isEmpty && s.contextIPs.isEmpty)
            #expect(s.signalID.hasPrefix("derived-") && s.flags == [.derivedID])
            #expect(proposals(s) == ["ban-ip 192.0.2.161"])
        }
    }

    @Test func fixtureCopiesMatchTheSharedOnes() throws {
        // The repository keeps its own copies (CI has no ../shared); when the shared folder is
        // there, they must still be byte-identical.
        for name in ["alertmanager.json", "grafana.json", "guardduty.json", "crowdsec.json"] {
            let shared = "/work/shared/fixtures/senders/" + name
            guard let original = FileManager.default.contents(atPath: shared) else { continue }
            #expect(try SenderFixtures.file(name) == Array(original), "\(name) differs from \(shared)")
        }
    }

    // MARK: Datadog through the same entry point

    @Test func datadogOnEveryDatadogRoute() throws {
        let body = #"{"SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ID":"x1","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":"203.0.113.5"}}}}"#
        for sender in [SenderFormat.datadog, nil] {
            let s = try #require(try Self.intake(body, sender).first)
            #expect(s.source == "datadog" && s.signalID == "x1" && Self.ips(s.ips) == ["203.0.113.5"])
            #expect(s == (try SignalPayload.decode(body: Array(body.utf8), format: .json)))
        }
        let form = try Self.intake(Array("SECURITY_SIGNAL_ID=f1&SECURITY_RULE_NAME=r".utf8), nil, format: .form)
        #expect(form.map(\.signalID) == ["f1"] && form[0].source == "datadog" && form[0].flags == [.formEncoded])
        #expect(try Self.intake(Array("SECURITY_SIGNAL_ID=f1".utf8), .datadog, format: .form).count == 1)
    }

    @Test func formBodiesAreDatadogsOnly() {
        for sender in [SenderFormat.alertmanager, .grafana, .guardduty, .crowdsec] {
            #expect(Self.error(Array("a=b".utf8), sender, format: .form) == .unsupportedFormat(sender: sender.source))
        }
    }

    // MARK: recognition on plain /webhook

    @Test func recognitionBySHape() throws {
        func recognise(_ text: String) throws -> SenderFormat { SenderIntake.recognise(try JSONValue.literal(text)) }
        #expect(try recognise(SenderFixtures.alertmanagerDocs) == .alertmanager)
        #expect(try recognise(SenderFixtures.grafanaDocs) == .grafana)
        #expect(try recognise(SenderFixtures.guardDutySample) == .guardduty)
        #expect(try recognise(SenderFixtures.guardDutyPortProbe) == .guardduty)
        #expect(try recognise(#"{"Findings":[\#(SenderFixtures.guardDutyIAM)]}"#) == .guardduty)
        #expect(try recognise("[\(SenderFixtures.guardDutyPortProbe)]") == .guardduty)
        #expect(try recognise(SenderFixtures.crowdSecMixed) == .crowdsec)
        // Datadog unless clearly another sender's.
        #expect(try recognise(#"{"SECURITY_SIGNAL_ID":"x","alerts":[]}"#) == .datadog)
        #expect(try recognise(#"{"version":"4"}"#) == .datadog)
        #expect(try recognise(#"{"detail-type":"GuardDuty Finding","source":"aws.ec2"}"#) == .datadog)
        #expect(try recognise(#"{"scenario":"x","source":{"scope":"Ip","value":"192.0.2.1"}}"#) == .datadog)
        #expect(try recognise("[]") == .datadog)
        #expect(try recognise("[1]") == .datadog)
        #expect(try recognise("7") == .datadog)
        #expect(try recognise(#"{"alerts":[],"groupKey":"{}"}"#) == .alertmanager)
        #expect(try recognise(#"{"alerts":[],"orgId":1}"#) == .grafana)
        // A recognised body is normalized as its sender's; an unrecognised array is still refused as Datadog's.
        #expect(Self.error(Array("[1,2]".utf8), nil) == .notAnObject(found: "array"))
    }

    @Test func routes() {
        #expect(WebhookRoute(path: "/webhook")?.sender == nil)
        #expect(WebhookRoute(path: "/webhook") != nil)
        #expect(WebhookRoute(path: "/webhook/datadog")?.sender == .datadog)
        #expect(WebhookRoute(path: "/webhook/alertmanager")?.sender == .alertmanager)
        #expect(WebhookRoute(path: "/webhook/grafana")?.sender == .grafana)
        #expect(WebhookRoute(path: "/webhook/guardduty")?.sender == .guardduty)
        #expect(WebhookRoute(path: "/webhook/crowdsec")?.sender == .crowdsec)
        #expect(WebhookRoute(path: "/webhook/generic/elastic")?.sender == .generic("elastic"))
        for bad in [
            "/webhook/", "/webhook/generic/", "/webhook/generic/a/b", "/webhook/generic/a b", "/webhook/other", "/webhooks", "/webhook/generic/../x",
        ] {
            #expect(WebhookRoute(path: bad) == nil, "\(bad)")
        }
        #expect(SenderFormat.generic("elastic").source == "elastic")
        #expect(SenderFormat.generic("elastic").description == "generic:elastic")
    }

    // MARK: refusals and limits

    @Test func unknownGenericSenderIsAnError() {
        #expect(Self.error(Array("{}".utf8), .generic("nope")) == .unknownSender("nope"))
        #expect(PayloadError.unknownSender("nope").description.contains("senders.generic"))
    }

    @Test func wrongJSONTypesNameTheExpectedShape() {
        #expect(
            Self.error(Array("[]".utf8), .alertmanager)
                == .unexpectedJSON(expected: "a JSON object (alertmanager webhook notification)", found: "array"))
        #expect(Self.error(Array(#""x""#.utf8), .crowdsec) == .unexpectedJSON(expected: "a JSON array of CrowdSec alerts", found: "string"))
        #expect(Self.error(Array("3".utf8), .guardduty) != nil)
        #expect(Self.error([0x5B, 0xFF, 0x5D], .crowdsec) == .notUTF8(offset: 1))
        guard case .invalidJSON? = Self.error(Array("[1,]".utf8), .crowdsec) else {
            Issue.record("expected invalidJSON")
            return
        }
        #expect(
            PayloadError.unexpectedJSON(expected: "a JSON array of CrowdSec alerts", found: "string").description
                == "body is a JSON string, expected a JSON array of CrowdSec alerts")
    }

    @Test func tenThousandAlertsAreRefusedNamingTheLimit() {
        let alert = #"{"status":"firing","labels":{"alertname":"A","src_ip":"203.0.113.1"},"startsAt":"2026-01-01T00:00:00Z"}"#
        let am = #"{"version":"4","groupKey":"k","alerts":["# + Array(repeating: alert, count: 10_000).joined(separator: ",") + "]}"
        let error = Self.error(Array(am.utf8), .alertmanager)
        #expect(error == .tooManyAlerts(count: 10_000, limit: 1000))
        #expect(error?.description == "body holds 10000 alerts; at most 1000 are accepted in one post")
        let crowdsec =
            "[" + Array(repeating: #"{"scenario":"s","source":{"scope":"Ip","value":"192.0.2.1"}}"#, count: 1001).joined(separator: ",") + "]"
        #expect(Self.error(Array(crowdsec.utf8), .crowdsec) == .tooManyAlerts(count: 1001, limit: 1000))
        #expect(Self.error(Array(crowdsec.utf8), nil) == .tooManyAlerts(count: 1001, limit: 1000))
        let findings = #"{"Findings":["# + Array(repeating: "{}", count: 1001).joined(separator: ",") + "]}"
        #expect(Self.error(Array(findings.utf8), .guardduty) == .tooManyAlerts(count: 1001, limit: 1000))
        // Exactly the limit is fine.
        let thousand = #"{"version":"4","alerts":["# + Array(repeating: alert, count: 1000).joined(separator: ",") + "]}"
        #expect((try? Self.intake(thousand, .alertmanager))?.count == 1000)
    }

    @Test func emptyOrAlertlessBodiesAreKeptAsUnrecognised() throws {
        let cases: [(String, SenderFormat)] = [
            (#"{"version":"4","alerts":[]}"#, .alertmanager), (#"{"receiver":"x"}"#, .grafana), ("[]", .crowdsec),
            (#"{"hello":"world"}"#, .guardduty), (#"{"Findings":[]}"#, .guardduty), ("{}", .datadog),
        ]
        for (body, sender) in cases {
            let signals = try Self.intake(body, sender)
            #expect(signals.count == 1, "\(body)")
            let s = try #require(signals.first)
            #expect(s.source == sender.source)
            #expect(s.flags.contains(.unrecognised), "\(body): \(s.flags)")
            #expect(s.signalID == "derived-" + String(SHA256.hex(Array(body.utf8)).prefix(32)))
            #expect(proposals(s).isEmpty)
        }
    }

    @Test func hostileValuesAreKeptAsSentAndNeverTargets() throws {
        let body = #"""
            {"version":"4","alerts":[{"status":"firing","fingerprint":"\u001b[2J","startsAt":"\u202e",
              "labels":{"alertname":"$(rm -rf /)\n","src_ip":"203.0.113.9; rm -rf /","user":"-rf","instance":"\u0000:1"},
              "annotations":{"summary":"\u001b]0;pwned\u0007"}}]}
            """#
        let s = try #require(try Self.intake(body, .alertmanager).first)
        #expect(s.signalID == "\u{1B}[2J:\u{202E}")
        #expect(s.ruleName == "$(rm -rf /)\n")
        #expect(s.title == "\u{1B}]0;pwned\u{07}")
        #expect(s.ips.isEmpty && s.invalidIPs == ["203.0.113.9; rm -rf /"])
        #expect(s.users == ["-rf"])
        #expect(s.flags.contains(.invalidIP))
        // Kept for the analyst, refused as targets.
        let planned = RemediationPlanner.propose(for: s, config: defaults, enabledActions: nil)
        #expect(planned.map(\.target) == ["-rf"])
        #expect(planned.allSatisfy { $0.suppressedBy?.hasPrefix("invalid target") == true })
    }

    @Test func hugeLabelSetsAreBounded() throws {
        let labels = (0..<5000).map { #""l\#($0)":"v\#($0)""# }.joined(separator: ",")
        let body = #"{"version":"4","alerts":[{"status":"firing","labels":{\#(labels),"src_ip":"203.0.113.8","alertname":"Big"}}]}"#
        let s = try #require(try Self.intake(body, .alertmanager).first)
        // Only the first 256 labels are read: alertname and src_ip came after them.
        #expect(s.ruleName == nil && s.ips.isEmpty)
        #expect(s.flags.contains(.entitiesTruncated))
        #expect(s.flags.contains(.derivedID))
        // The alert is kept as sent.
        guard case .object(let members)? = s.attributes?["labels"] else {
            Issue.record("labels not kept")
            return
        }
        #expect(members.count == 5002)
    }

    @Test func longIDsAreReplacedByDerivedOnes() throws {
        let fp = String(repeating: "f", count: 600)
        let s = try #require(try Self.intake(#"{"version":"4","alerts":[{"fingerprint":"\#(fp)","labels":{"alertname":"A"}}]}"#, .alertmanager).first)
        #expect(s.signalID.hasPrefix("derived-") && s.signalID.utf8.count == 40)
        #expect(s.flags.contains(.signalIDTooLong) && s.flags.contains(.derivedID))
    }

    @Test func everySignalCarriesItsSource() throws {
        let settings = try loadTestConfig(SenderFixtures.elasticSenderConfig).senders
        let bodies: [(String, SenderFormat)] = [
            (SenderFixtures.alertmanagerDocs, .alertmanager), (SenderFixtures.grafanaDocs, .grafana),
            (SenderFixtures.guardDutySample, .guardduty), (SenderFixtures.crowdSecMixed, .crowdsec),
            (SenderFixtures.elasticBody, .generic("elastic")),
        ]
        for (body, sender) in bodies {
            let signals = try Self.intake(body, sender, settings: settings)
            #expect(!signals.isEmpty)
            #expect(signals.allSatisfy { $0.source == sender.source }, "\(sender)")
        }
    }
}
