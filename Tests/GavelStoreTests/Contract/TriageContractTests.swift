import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, the word back to Datadog (`TriageQueue`): updates are queued with the
/// event they report, only for Datadog signals Datadog knows, claimed under a lease, retried,
/// recorded as `triage` attempts — and never move the remediation.
@Suite(.serialized) struct TriageContractTests {
    static let config = """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/ban/{{ip}}" },
                                   "revert": { "http": { "method": "DELETE", "url": "http://127.0.0.1:9/ban/{{ip}}" } } } },
          "datadog": { "site": "datadoghq.eu", "triage": { "reverted": { "state": "open" } } } }
        """

    /// Proposes (two Datadog signals for one IP), approves by alice, claims and dispatches a ban.
    func dispatchedBan(_ h: StoreHarness, at now: Timestamp) throws -> Int64 {
        let id = try h.post(signalJSON("AQAAAYxk1-dd-0001", ips: ["203.0.113.42"]), at: now).remediations[0]
        try h.post(signalJSON("AQAAAYxk1-dd-0002", ips: ["203.0.113.42"]), at: now)
        let store = try h.store()
        try store.decide([id], .approve, by: "alice", config: h.config, at: now)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: now).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200), config: h.config, at: now)
        return id
    }

    @Test(arguments: EngineKind.available)
    func aDispatchQueuesAnArchiveForEachDatadogSignalNamingTheRemediationAndAnalyst(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config)
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try dispatchedBan(h, at: t0)
        let store = try h.store()
        let updates = try store.triageUpdates(ofRemediation: id)
        #expect(Set(updates.map(\.signalID)) == ["AQAAAYxk1-dd-0001", "AQAAAYxk1-dd-0002"])
        #expect(updates.allSatisfy { $0.event == .dispatched && $0.state == .queued && $0.change == "archived (remediated)" })
        let body = try JSONValue.parse(try #require(updates.first?.body))
        #expect(body["data"]?["type"] == .string("signal_metadata"))
        #expect(body["data"]?["attributes"]?["state"] == .string("archived"))
        #expect(body["data"]?["attributes"]?["archive_reason"] == .string("remediated"))
        #expect(
            body["data"]?["attributes"]?["archive_comment"]
                == .string("gavel remediation \(id) (ban-ip 203.0.113.42) dispatched, approved by alice"))
        // Claimed once each, under a lease; the remediation does not move.
        let claims = try store.claimTriageUpdates(worker: "h:1:t", limit: 10, leaseMs: 60_000, at: t0)
        #expect(claims.count == 2 && claims.allSatisfy { $0.attempt == 1 && $0.update.state == .sending })
        #expect(try store.claimTriageUpdates(worker: "h:2:t", limit: 10, leaseMs: 60_000, at: t0).isEmpty)
        try store.finishTriageUpdate(claims[0], AttemptReport(result: .dispatched, status: 200, durationMs: 3), at: t0)
        try store.finishTriageUpdate(claims[1], AttemptReport(result: .failed, status: 403, error: "HTTP 403"), at: t0)
        #expect(Set(try store.triageUpdates(ofRemediation: id).map(\.state)) == [.sent, .failed])
        let r = try #require(try store.remediation(id: id))
        #expect(r.state == .dispatched && r.attempts == 1)
        let attempts = try store.attempts(ofRemediation: id)
        #expect(attempts.map(\.kind) == [.dispatch, .triage, .triage])
        #expect(attempts.filter { $0.kind == .triage }.allSatisfy { $0.number == 1 && $0.subject?.contains("→ archived (remediated)") == true })
        let audit = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").filter { $0.action == "triage" }
        #expect(Set(audit.compactMap(\.after)) == ["sent", "failed"])
    }

    @Test(arguments: EngineKind.available)
    func aRetryWaitsForItsTimeAndALapsedLeaseIsTakenOver(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config)
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try dispatchedBan(h, at: t0)
        let store = try h.store()
        let first = try #require(try store.claimTriageUpdates(worker: "h:1:t", limit: 1, leaseMs: 60_000, at: t0).first)
        try store.finishTriageUpdate(
            first, AttemptReport(result: .retry(at: t0.adding(milliseconds: 5000)), error: "connection refused"), at: t0)
        let waiting = try store.triageUpdates(ofRemediation: id).first { $0.id == first.update.id }
        #expect(waiting?.state == .queued && waiting?.nextAttemptAt == t0.adding(milliseconds: 5000) && waiting?.lastError == "connection refused")
        // The other update is due now; this one only at its time.
        let other = try store.claimTriageUpdates(worker: "h:1:t", limit: 5, leaseMs: 60_000, at: t0.adding(milliseconds: 1000))
        #expect(other.count == 1 && other[0].update.id != first.update.id)
        let second = try #require(
            try store.claimTriageUpdates(worker: "h:1:t", limit: 5, leaseMs: 1000, at: t0.adding(milliseconds: 5000)).first)
        #expect(second.update.id == first.update.id && second.attempt == 2)
        // Its sender stalls: after the lease another takes it over; the late finish is recorded on
        // its own attempt (what it did), not on the update, which the new holder finishes.
        let taken = try #require(
            try store.claimTriageUpdates(worker: "h:2:t", limit: 5, leaseMs: 60_000, at: t0.adding(milliseconds: 7000)).first)
        #expect(taken.update.id == first.update.id && taken.attempt == 3)
        #expect(try store.triageUpdates(ofRemediation: id).first { $0.id == first.update.id }?.attempts == 3)
        #expect(try store.attempts(ofRemediation: id).first { $0.id == second.attemptID }?.outcome == .interrupted)
        #expect(try !store.finishTriageUpdate(second, AttemptReport(result: .dispatched, status: 200), at: t0.adding(milliseconds: 7001)))
        #expect(try store.triageUpdates(ofRemediation: id).first { $0.id == first.update.id }?.state == .sending)
        try store.finishTriageUpdate(taken, AttemptReport(result: .dispatched, status: 200), at: t0.adding(milliseconds: 7002))
        let attempts = try store.attempts(ofRemediation: id).filter { $0.subject?.contains("AQAAAYxk1") == true }
        let mine = attempts.filter { $0.subject == "signal \(first.update.signalID) → archived (remediated)" }
        #expect(mine.map(\.outcome) == [.retry, .success, .success] && mine.map(\.number) == [1, 2, 3])
        #expect(try store.remediation(id: id)?.state == .dispatched)
    }

    @Test(arguments: EngineKind.available)
    func aFalsePositiveRejectionArchivesAsSuchAndAPlainOneSendsNothing(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config)
        defer { h.close() }
        let a = try h.post(signalJSON("AQAAAYxk1-fp-0001", ips: ["203.0.113.50"])).remediations[0]
        let b = try h.post(signalJSON("AQAAAYxk1-fp-0002", ips: ["203.0.113.51"])).remediations[0]
        let store = try h.store()
        try store.decide([a], .reject("office VPN exit", falsePositive: true), by: "bob", config: h.config, at: .now)
        try store.decide([b], .reject("not now"), by: "bob", config: h.config, at: .now)
        let ra = try #require(try store.remediation(id: a))
        #expect(ra.state == .rejected && ra.falsePositive && ra.reason == "office VPN exit")
        #expect(try store.remediation(id: b)?.falsePositive == false)
        let updates = try store.triageUpdates(ofRemediation: a)
        #expect(updates.map(\.signalID) == ["AQAAAYxk1-fp-0001"] && updates.map(\.event) == [.falsePositive])
        let attributes = try JSONValue.parse(updates[0].body)["data"]?["attributes"]
        #expect(attributes?["archive_reason"] == .string("false_positive") && attributes?["state"] == .string("archived"))
        #expect(
            attributes?["archive_comment"]
                == .string("gavel remediation \(a) (ban-ip 203.0.113.50) rejected as a false positive by bob: office VPN exit"))
        #expect(try store.triageUpdates(ofRemediation: b).isEmpty)
        let audit = try store.auditEntries(limit: 1, before: nil, subject: "remediation \(a)")
        #expect(audit.first?.detail == "false positive: office VPN exit")
    }

    @Test(arguments: EngineKind.available)
    func aRevertTellsWhatTheMappingSaysAndOnlySignalsDatadogKnowsAreTold(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config)
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try h.post(signalJSON("AQAAAYxk1-rv-0001", ips: ["203.0.113.60"]), at: t0).remediations[0]
        // A signal without an id of its own (derived) and another sender's alert for the same IP.
        try h.post(
            #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.60"]}}}}"#,
            at: t0)
        let crowdsec = #"[{"scenario":"crowdsecurity/ssh-bf","source":{"scope":"Ip","value":"203.0.113.60"},"decisions":[]}]"#
        try SendersContractTests.post(h, crowdsec, sender: .crowdsec, at: t0)
        let store = try h.store()
        #expect(try store.remediation(id: id)?.signalCount == 3)
        try store.decide([id], .approve, by: "alice", config: h.config, at: t0)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: t0).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200), config: h.config, at: t0)
        try store.revert([id], reason: "customer asked", by: "carol", config: h.config, at: t0)
        let revert = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: t0).first)
        try store.finish(revert, AttemptReport(result: .dispatched, status: 204), config: h.config, at: t0)
        let updates = try store.triageUpdates(ofRemediation: id)
        #expect(updates.map(\.signalID) == ["AQAAAYxk1-rv-0001", "AQAAAYxk1-rv-0001"])
        #expect(updates.map(\.event) == [.dispatched, .reverted] && updates.map(\.change) == ["archived (remediated)", "open"])
        #expect(
            try JSONValue.parse(updates[1].body)
                == .object([
                    JSONMember(
                        "data",
                        .object([
                            JSONMember("type", .string("signal_metadata")), JSONMember("attributes", .object([JSONMember("state", .string("open"))])),
                        ]))
                ]))
    }

    @Test(arguments: EngineKind.available)
    func withoutTheDatadogSectionNothingIsQueued(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: contractHTTPConfig)
        defer { h.close() }
        let id = try h.post(signalJSON("AQAAAYxk1-none-0001", ips: ["203.0.113.70"])).remediations[0]
        let store = try h.store()
        try store.decide([id], .approve, by: "alice", config: h.config, at: .now)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: .now).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200), config: h.config, at: .now)
        #expect(try store.triageUpdates(ofRemediation: id).isEmpty)
        #expect(try store.claimTriageUpdates(worker: "h:1:t", limit: 5, leaseMs: 60_000, at: .now).isEmpty)
    }
}
