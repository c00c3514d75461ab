import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, intake: every engine stores deliveries, dedupes, attaches and applies the
/// intake plan the same way. Written against the protocols only.
@Suite(.serialized) struct IntakeContractTests {
    @Test(arguments: EngineKind.available)
    func aNewSignalIsStoredWithItsEntitiesAndProposes(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let out = try h.post(signalJSON("s1", ips: ["203.0.113.42"], users: ["shopper.one@example.com"]))
        #expect(!out.record.duplicate && out.remediations.count == 2 && out.autoApproved.isEmpty)
        let store = try h.store()
        let signals = try store.signals(limit: 0, before: nil)
        #expect(signals.count == 1)
        #expect(signals[0].signal.signalID == "s1" && signals[0].deliveries == 1 && signals[0].source == "datadog")
        #expect(signals[0].signal.ips.map(\.description) == ["203.0.113.42"])
        let listed = try store.remediations(RemediationFilter(), limit: 0, before: nil)
        #expect(Set(listed.map(\.action)) == ["ban-ip", "disable-user"])
        #expect(listed.allSatisfy { $0.state == .pending && $0.signalIDs == ["s1"] && $0.signalCount == 1 })
        #expect(Set(listed.map(\.idempotencyKey)).count == 2)
        let audit = try store.auditEntries(limit: 0, before: nil, subject: nil)
        #expect(audit.filter { $0.action == "propose" }.count == 2)
    }

    @Test(arguments: EngineKind.available)
    func aRetryOfTheSameBodyIsOneSignalAndProposesNothing(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let body = signalJSON("s1", ips: ["203.0.113.42"])
        let first = try h.post(body)
        let again = try h.post(body)
        #expect(again.record.duplicate && !again.record.updated && again.remediations.isEmpty)
        #expect(again.record.rowID == first.record.rowID)
        let store = try h.store()
        #expect(try store.signals(limit: 0, before: nil).map(\.deliveries) == [2])
        #expect(try store.remediations(RemediationFilter(), limit: 0, before: nil).count == 1)
    }

    @Test(arguments: EngineKind.available)
    func concurrentDeliveriesOfOneSignalMakeOneSignal(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let intake = try h.intake()
        let input = try StoreHarness.incoming(signalJSON("same", ips: ["203.0.113.9"]))
        let duplicates = Tally()
        let failures = Tally()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            do {
                if try intake.intake(input).record.duplicate { duplicates.add() }
            } catch {
                failures.add()
            }
        }
        #expect(failures.total == 0 && duplicates.total == 15)
        let store = try h.store()
        #expect(try store.signals(limit: 0, before: nil).map(\.deliveries) == [16])
        #expect(try store.remediations(RemediationFilter(), limit: 0, before: nil).count == 1)
    }

    @Test(arguments: EngineKind.available)
    func anUpdateProposesOnlyForItsNewEntities(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        try h.post(signalJSON("s1", ips: ["203.0.113.1"]))
        let update = try h.post(signalJSON("s1", ips: ["203.0.113.1", "203.0.113.2"]))
        #expect(update.record.duplicate && update.record.updated)
        #expect(update.record.newEntities == [EntityValue("ip", "203.0.113.2")])
        let targets = try h.store().remediations(RemediationFilter(), limit: 0, before: nil).map(\.target)
        #expect(targets.sorted() == ["203.0.113.1", "203.0.113.2"])
    }

    @Test(arguments: EngineKind.available)
    func aSecondSignalForAnOpenTargetAttachesToIt(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let a = try h.post(signalJSON("s1", severity: "low", ips: ["203.0.113.42"]))
        let b = try h.post(signalJSON("s2", severity: "critical", ips: ["203.0.113.42", "198.51.100.7"]))
        #expect(b.remediations.contains(a.remediations[0]))
        let store = try h.store()
        let r = try #require(try store.remediation(id: a.remediations[0]))
        #expect(r.signalCount == 2 && r.severity == .critical && r.signalIDs == ["s2", "s1"])
        #expect(r.ips == ["203.0.113.42", "198.51.100.7"])
        #expect(try store.latestSignal(ofRemediation: r.id)?.signalID == "s2")
        #expect(try store.signals(ofRemediation: r.id, limit: 10).map(\.signal.signalID) == ["s2", "s1"])
        #expect(try store.signalCount(naming: "203.0.113.42", kind: "ip") == 2)
    }

    @Test(arguments: EngineKind.available)
    func allowlistedAndInvalidTargetsAreSuppressedWithTheReason(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let out = try h.post(signalJSON("s1", ips: ["10.1.2.3"], users: ["-rf"]))
        let store = try h.store()
        let rows = try out.remediations.compactMap { try store.remediation(id: $0) }
        #expect(rows.count == 2 && rows.allSatisfy { $0.state == .suppressed })
        #expect(rows.contains { $0.suppressedBy?.contains("10.0.0.0/8") == true })
        #expect(rows.contains { $0.suppressedBy?.hasPrefix("invalid target") == true })
        // A second sight of the same suppressed target gathers into the same row.
        let again = try h.post(signalJSON("s2", ips: ["10.1.2.3"]))
        #expect(again.remediations.allSatisfy { out.remediations.contains($0) })
    }

    @Test(arguments: EngineKind.available)
    func aRuleInDryRunRecordsTheRequestItWouldSend(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: contractHTTPConfig)
        defer { h.close() }
        let store = try h.store()
        try store.setMode(rule: "Request from unexpected IP address", to: .dryRun, by: "alice", at: .now)
        let out = try h.post(signalJSON("s1", ips: ["203.0.113.42"]))
        let r = try #require(try store.remediation(id: out.remediations[0]))
        #expect(r.state == .simulated)
        guard case .http(let request)? = r.boundRequest else {
            Issue.record("no request recorded: \(String(describing: r.boundRequest))")
            return
        }
        #expect(request.url == "http://127.0.0.1:9/ban/203.0.113.42")
        #expect(String(decoding: request.body, as: UTF8.self).contains(#""by":"dry-run:Request from unexpected IP address""#))
        #expect(throws: StoreError.self) { try store.decide([r.id], .approve, by: "alice", config: h.config, at: .now) }
    }

    @Test(arguments: EngineKind.available)
    func autoModeApprovesWithinTheBudgetThenThrottles(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: #"{"auto_limits": {"per_rule": 3, "global": 50}}"#)
        defer { h.close() }
        let store = try h.store()
        try store.setMode(rule: "Request from unexpected IP address", to: .auto, by: "alice", at: .now)
        var approved = 0
        for i in 1...5 { approved += try h.post(signalJSON("a\(i)", ips: ["203.0.113.\(i)"])).autoApproved.count }
        #expect(approved == 3)
        let rows = try store.remediations(RemediationFilter(), limit: 0, before: nil)
        #expect(rows.filter { $0.state == .approved && $0.decidedBy == "auto:Request from unexpected IP address" }.count == 3)
        #expect(rows.filter { $0.state == .pending }.count == 2)
        #expect(try store.rule(named: "Request from unexpected IP address")?.throttledAt != nil)
        #expect(try store.auditEntries(limit: 0, before: nil, subject: nil).filter { $0.action == "throttled" }.count == 2)
    }

    @Test(arguments: EngineKind.available)
    func aRuleKeepsItsModeAndBudgetHoweverItsSignalsNameIt(_ kind: EngineKind) throws {
        // Issue 16 item 4: fifteen signals with an auto rule's name and fifteen made-up rule ids.
        let h = try StoreHarness(kind, configJSON: #"{"rules": {"Brute force": {"mode": "auto"}}, "auto_limits": {"per_rule": 10}}"#)
        defer { h.close() }
        var approved = 0
        for i in 1...15 {
            approved += try h.post(signalJSON("b\(i)", rule: "Brute force", ruleID: "made-up-\(i)", ips: ["203.0.113.\(i)"])).autoApproved.count
        }
        #expect(approved == 10)
        let store = try h.store()
        #expect(try store.rules().count == 1)
        // Off by name: nothing of the rule stays automatic, whatever id the next signal brings.
        try store.setMode(rule: "Brute force", to: .manual, by: "alice", at: .now)
        #expect(try store.remediations(RemediationFilter(states: [.approved]), limit: 0, before: nil).isEmpty)
        let later = try h.post(signalJSON("b16", rule: "Brute force", ruleID: "made-up-16", ips: ["198.51.100.16"]))
        #expect(later.autoApproved.isEmpty)
        #expect(try store.rule(named: "made-up-16")?.mode == .manual)
    }

    /// The second attacker pass: a configured key that is one signal's rule name and another
    /// signal's rule id made two rule rows — `auto … off` switched one, and the budget was
    /// spent twice. Both are one rule now, in either order.
    @Test(arguments: EngineKind.available)
    func aConfiguredKeyIsOneRuleAsAnIdOrAsAName(_ kind: EngineKind) throws {
        for nameFirst in [true, false] {
            let h = try StoreHarness(kind, configJSON: #"{"rules": {"limited": {"mode": "auto"}}, "auto_limits": {"per_rule": 4}}"#)
            defer { h.close() }
            var approved = 0
            for i in 1...6 {
                let byName = (i % 2 == 1) == nameFirst
                let json =
                    byName
                    ? signalJSON("n\(i)", rule: "limited", ruleID: "idX", ips: ["203.0.113.\(i)"])
                    : signalJSON("i\(i)", rule: "Y", ruleID: "limited", ips: ["198.51.100.\(i)"])
                approved += try h.post(json).autoApproved.count
            }
            #expect(approved == 4, "name first: \(nameFirst)")
            let store = try h.store()
            #expect(try store.rules().count == 1, "name first: \(nameFirst)")
            try store.setMode(rule: "limited", to: .manual, by: "alice", at: .now)
            #expect(try store.rules().allSatisfy { $0.mode == .manual })
            #expect(try h.post(signalJSON("n9", rule: "limited", ruleID: "idX2", ips: ["203.0.113.99"])).autoApproved.isEmpty)
            #expect(try h.post(signalJSON("i9", rule: "Z", ruleID: "limited", ips: ["198.51.100.99"])).autoApproved.isEmpty)
        }
    }

    @Test(arguments: EngineKind.available)
    func theKillSwitchAndStaleSignalsLeaveAutoRemediationsPending(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let store = try h.store()
        try store.setMode(rule: "Request from unexpected IP address", to: .auto, by: "alice", at: .now)
        let now = Timestamp.now
        #expect(try h.post(signalJSON("fresh", ips: ["203.0.113.1"], date: now.milliseconds - 1000)).autoApproved.count == 1)
        for (id, date) in [("old", now.milliseconds - 7_200_000), ("seconds", now.milliseconds / 1000), ("future", now.milliseconds + 86_400_000)] {
            #expect(try h.post(signalJSON(id, ips: ["198.51.100.\(id.count)"], date: date)).autoApproved.isEmpty, "\(id)")
        }
        try store.setAutomaticDispatch(enabled: false, by: "alice", at: .now)
        #expect(try store.automaticDispatchDisabled())
        #expect(try h.post(signalJSON("off", ips: ["203.0.113.99"])).autoApproved.isEmpty)
        // The kill switch also took back the automatic approval not yet sent.
        #expect(try store.remediations(RemediationFilter(states: [.approved]), limit: 0, before: nil).isEmpty)
    }

    @Test(arguments: EngineKind.available)
    func aBodyTheReceiverRefusedIsKeptAsAnIntakeError(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let body = Array("{not json \u{1B}[2J".utf8)
        try h.intake().recordIntakeError(
            IntakeErrorEntry(peer: "192.0.2.1:5", status: 400, reason: "bad", contentType: "application/json", body: body))
        let errors = try h.store().intakeErrors(limit: 10, before: nil)
        #expect(errors.count == 1 && errors[0].body == body && errors[0].status == 400 && errors[0].bodySize == body.count)
    }
}
