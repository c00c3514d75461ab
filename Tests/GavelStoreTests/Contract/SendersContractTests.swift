import Foundation
import GavelCore
import GavelStore
import GavelTestSupport
import Testing

/// The store contract, every sender (issue 13): a post of several alerts is one transaction with
/// one signal each; the sender's status, counts, suggested duration and context entities are
/// stored; context is shown, never proposed; a resolved alert proposes nothing; a GuardDuty
/// redelivery is one signal; an unrecognised body is kept, flagged and listed as an intake error.
@Suite(.serialized) struct SendersContractTests {
    /// Reads `body` as `sender`'s and stores the post through the ingest path.
    @discardableResult
    static func post(
        _ h: StoreHarness, _ body: String, sender: SenderFormat?, at: Timestamp = .now, config: GavelConfig? = nil
    ) throws -> [IntakeOutcome] {
        let settings = (config ?? h.config).senders
        let signals = try SenderIntake.signals(body: Array(body.utf8), format: .json, sender: sender, settings: settings)
        let post = IncomingPost(signals: signals, rawBody: Array(body.utf8), contentType: "application/json", peer: "127.0.0.1:9", receivedAt: at)
        return try h.intake(config: config).intake(post: post)
    }

    @Test(arguments: EngineKind.available)
    func anAlertmanagerGroupIsOneSignalPerAlertAndOnlyTheFiringOneProposes(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let outcomes = try Self.post(h, SenderSamples.text("alertmanager"), sender: .alertmanager)
        #expect(outcomes.count == 2 && outcomes.allSatisfy { !$0.record.duplicate })
        #expect(outcomes[0].remediations.count == 2 && outcomes[1].remediations.isEmpty)
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.count == 2 && signals.allSatisfy { $0.source == "alertmanager" && $0.signal.source == "alertmanager" })
        let firing = try #require(signals.first { $0.signal.signalID.hasPrefix("5f1e0c2a9b7d4e31:") })
        #expect(firing.signal.status == .firing && firing.signal.ruleName == "SSHBruteForce" && firing.signal.severity == .critical)
        #expect(firing.signal.ips.map(\.description) == ["203.0.113.131"] && firing.signal.users == ["deploy"])
        #expect(firing.signal.contextHosts == ["bastion-1.example.com"] && firing.signal.contextIPs.isEmpty)
        let resolved = try #require(signals.first { $0.signal.signalID.hasPrefix("a03c77e14b2d9f60:") })
        #expect(resolved.signal.status == .resolved && resolved.signal.ips.map(\.description) == ["198.51.100.140"])
        #expect(resolved.signal.contextIPs.map(\.description) == ["10.0.4.17"])
        let targets = try store.remediations(RemediationFilter(), limit: 0, before: nil).map { "\($0.action) \($0.target)" }
        #expect(Set(targets) == ["ban-ip 203.0.113.131", "disable-user deploy"])
        // Context never counts as an entity a remediation could act on.
        #expect(try store.signalCount(naming: "10.0.4.17", kind: "ip") == 0)
        #expect(try store.signalCount(naming: "10.0.4.17", kind: "context_ip") == 1)
    }

    @Test(arguments: EngineKind.available)
    func aResolvedNotificationIsRecordedOnTheFiringSignalAndProposesNothing(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let firing = """
            {"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"WAFBlock","src_ip":"203.0.113.7"},
             "startsAt":"2026-12-02T21:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"00aa11bb22cc33dd"}]}
            """
        let first = try Self.post(h, firing, sender: .alertmanager)
        #expect(first.map(\.remediations.count) == [1])
        let resolved = firing.replacingOccurrences(of: "firing", with: "resolved").replacingOccurrences(
            of: "0001-01-01T00:00:00Z", with: "2026-12-02T21:10:00Z")
        let again = try Self.post(h, resolved, sender: .alertmanager)
        #expect(again.count == 1 && again[0].record.duplicate && again[0].remediations.isEmpty)
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.count == 1 && signals[0].deliveries == 2)
        #expect(signals[0].signal.status == .resolved && signals[0].signal.lastSeen == "2026-12-02T21:10:00Z")
        #expect(try store.remediations(RemediationFilter(), limit: 0, before: nil).count == 1)
    }

    @Test(arguments: EngineKind.available)
    func aGuardDutyFindingRedeliveredWithAHigherCountIsOneSignalWithTwoDeliveries(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let first = try Self.post(h, SenderSamples.guardDuty(count: 7), sender: .guardduty)
        let second = try Self.post(h, SenderSamples.guardDuty(count: 12), sender: .guardduty)
        #expect(!first[0].record.duplicate && second[0].record.duplicate && second[0].record.updated)
        #expect(first[0].record.rowID == second[0].record.rowID && second[0].remediations.isEmpty)
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.count == 1)
        let s = try #require(signals.first)
        #expect(s.deliveries == 2 && s.source == "guardduty" && s.signal.eventCount == 12)
        #expect(s.signal.signalID == "8ac6e5f1b2d34c7f9e0a1b2c3d4e5f60" && s.signal.severity == .medium)
        #expect(s.signal.ips.map(\.description) == ["198.51.100.203"])
        #expect(Set(s.signal.contextIPs.map(\.description)) == ["10.0.2.15", "192.0.2.80"])
        #expect(s.signal.contextResources == ["i-0a1b2c3d4e5f60789"] && s.signal.contextSecurityGroups == ["sg-0fedcba9876543210"])
        let targets = try store.remediations(RemediationFilter(), limit: 0, before: nil).map { "\($0.action) \($0.target)" }
        #expect(targets == ["ban-ip 198.51.100.203"])
    }

    @Test(arguments: EngineKind.available)
    func aCrowdSecDecisionsDurationIsHowLongTheBanStaysInForce(_ kind: EngineKind) throws {
        let config = """
            { "allow_internal_action_urls": true,
              "actions": { "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/ban/{{ip}}" },
                                       "revert": { "http": { "method": "DELETE", "url": "http://127.0.0.1:9/ban/{{ip}}" } } } } }
            """
        let h = try StoreHarness(kind, configJSON: config)
        defer { h.close() }
        let t0 = Timestamp.now
        let out = try Self.post(h, SenderSamples.text("crowdsec"), sender: .crowdsec, at: t0)
        let id = try #require(out.first?.remediations.first)
        let store = try h.store()
        #expect(try store.signals(limit: 0, before: nil).first?.signal.suggestedDurationSeconds == 4 * 3600)
        try store.decide([id], .approve, by: "alice", config: h.config, at: t0)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: t0).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200), config: h.config, at: t0)
        let r = try #require(try store.remediation(id: id))
        #expect(r.target == "192.0.2.161" && r.durationMs == 4 * DurationText.hour)
        #expect(r.expiresAt == t0.adding(milliseconds: 4 * DurationText.hour))
    }

    @Test(arguments: EngineKind.available)
    func anUnrecognisedBodyIsKeptFlaggedAndListedAsAnIntakeErrorOnce(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let body = #"{"version":"4","groupKey":"{}:{}","status":"firing","alerts":[]}"#
        let out = try Self.post(h, body, sender: .alertmanager)
        #expect(out.count == 1 && out[0].remediations.isEmpty)
        try Self.post(h, body, sender: .alertmanager)  // a retry: no second intake error
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.count == 1 && signals[0].deliveries == 2)
        #expect(signals[0].signal.flags.contains(.unrecognised) && signals[0].source == "alertmanager")
        let errors = try store.intakeErrors(limit: 0, before: nil)
        #expect(errors.count == 1)
        #expect(errors.first?.status == 202 && errors.first?.reason.contains("unrecognised") == true)
        #expect(errors.first?.reason.contains(signals[0].signal.signalID) == true)
        #expect(errors.first?.body == Array(body.utf8))
    }

    @Test(arguments: EngineKind.available)
    func aGenericSenderConfiguredForElasticStoresEachAlertWithItsTargetsAndContext(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: #"{"senders": \#(SenderSamples.elasticSenderConfig)}"#)
        defer { h.close() }
        let out = try Self.post(h, SenderSamples.elasticBody, sender: .generic("elastic"))
        #expect(out.count == 2)
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.allSatisfy { $0.source == "elastic" && $0.signal.ruleName == "SSH brute force from the internet" })
        let byID = Dictionary(uniqueKeysWithValues: signals.map { ($0.signal.signalID, $0.signal) })
        let nested = try #require(byID["0f7c2d1e9a8b7c6d5e4f3a2b1c0d9e8f"])
        #expect(nested.ips.map(\.description) == ["203.0.113.55"] && nested.users == ["root"] && nested.severity == .high)
        #expect(nested.contextIPs.map(\.description) == ["10.1.2.3"] && nested.contextHosts == ["web-1"])
        let flat = try #require(byID["1a2b3c4d5e6f70819283746556473829"])
        #expect(flat.ips.map(\.description) == ["2001:db8:5::66"] && flat.users == ["admin"] && flat.contextHosts == ["web-2"])
        let targets = Set(try store.remediations(RemediationFilter(), limit: 0, before: nil).map { "\($0.action) \($0.target)" })
        #expect(targets == ["ban-ip 203.0.113.55", "disable-user root", "ban-ip 2001:db8:5::66", "disable-user admin"])
    }

    @Test(arguments: EngineKind.available)
    func aGroupResentWithOneMoreAlertIsARetryOfTheOthers(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        func alert(_ fp: String, _ ip: String) -> String {
            #"{"status":"firing","labels":{"alertname":"WAFBlock","src_ip":"\#(ip)"},"startsAt":"2026-12-02T21:00:00Z","fingerprint":"\#(fp)"}"#
        }
        let one = #"{"version":"4","alerts":[\#(alert("0000000000000001", "203.0.113.1")),\#(alert("0000000000000002", "203.0.113.2"))]}"#
        let two =
            #"{"version":"4","alerts":[\#(alert("0000000000000001", "203.0.113.1")),\#(alert("0000000000000002", "203.0.113.2")),\#(alert("0000000000000003", "203.0.113.3"))]}"#
        try Self.post(h, one, sender: .alertmanager)
        let again = try Self.post(h, two, sender: .alertmanager)
        #expect(again.map(\.record.duplicate) == [true, true, false] && again.map(\.record.updated) == [false, false, false])
        let store = try h.store()
        #expect(try store.signals(limit: 0, before: nil).map(\.deliveries).sorted() == [1, 2, 2])
        #expect(try store.remediations(RemediationFilter(), limit: 0, before: nil).count == 3)
    }
}
