import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, decisions: compare-and-set through the state machine, all or none,
/// naming who decided, and the request bound at approval.
@Suite(.serialized) struct DecisionContractTests {
    @Test(arguments: EngineKind.available)
    func anApprovalIsCompareAndSetAndALateOneNamesWhoDecided(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"])).remediations[0]
        let alice = try h.store()
        let bob = try h.store()
        let after = try alice.decide([id], .approve, by: "alice", config: h.config, at: .now)
        #expect(after.map(\.state) == [.approved] && after[0].decidedBy == "alice")
        let late = Result { () throws(StoreError) in try bob.decide([id], .reject("looks benign"), by: "bob", config: h.config, at: .now) }
        guard case .failure(.conflict(let c)) = late else {
            Issue.record("bob's late decision: \(late)")
            return
        }
        #expect(c.id == id && c.state == .approved && c.decidedBy == "alice" && c.decidedAt != nil)
        #expect(c.description.contains("already approved by alice"))
        #expect(try bob.remediation(id: id)?.decidedBy == "alice")
    }

    @Test(arguments: EngineKind.available)
    func racingAnalystsDecideOnceBetweenThem(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        var made: [Int64] = []
        for i in 1...20 { made += try h.post(signalJSON("s\(i)", ips: ["203.0.113.\(i)"])).remediations }
        let ids = made
        let wins = Tally()
        let conflicts = Tally()
        let engine = h.engine
        let config = h.config
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            guard let store = try? engine.open(.existing) else { return }
            for id in ids {
                do {
                    try store.decide([id], n % 2 == 0 ? .approve : .reject("no"), by: "analyst-\(n)", config: config, at: .now)
                    wins.add()
                } catch {
                    if case StoreError.conflict = error { conflicts.add() }
                }
            }
        }
        #expect(wins.total == 20 && conflicts.total == 60)
        let audit = try h.store().auditEntries(limit: 0, before: nil, subject: nil).filter { $0.action == "approve" || $0.action == "reject" }
        #expect(audit.count == 20)
    }

    @Test(arguments: EngineKind.available)
    func decisionsOnSeveralIDsApplyAllOrNone(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let a = try h.post(signalJSON("s1", ips: ["203.0.113.1"])).remediations[0]
        let b = try h.post(signalJSON("s2", ips: ["203.0.113.2"])).remediations[0]
        let store = try h.store()
        try store.decide([b], .reject("benign"), by: "bob", config: h.config, at: .now)
        #expect(throws: StoreError.self) { try store.decide([a, b], .approve, by: "alice", config: h.config, at: .now) }
        #expect(try store.remediation(id: a)?.state == .pending)
        #expect(throws: StoreError.self) { try store.decide([a, 999_999], .approve, by: "alice", config: h.config, at: .now) }
        #expect(try store.remediation(id: a)?.state == .pending)
    }

    @Test(arguments: EngineKind.available)
    func anApprovalBindsTheRequestThePreviewRenders(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: contractHTTPConfig)
        defer { h.close() }
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"])).remediations[0]
        let store = try h.store()
        let pending = try #require(try store.remediation(id: id))
        let action = try #require(h.config.actions["ban-ip"])
        let preview = try pending.request(action: action, signal: try store.latestSignal(ofRemediation: id), decidedBy: "alice")
        try store.decide([id], .approve, by: "alice", config: h.config, at: .now)
        #expect(try store.remediation(id: id)?.boundRequest == preview)
        // A later signal attaches as context and never rewrites what was approved.
        try h.post(signalJSON("s2", severity: "critical", ips: ["203.0.113.42"]))
        let after = try #require(try store.remediation(id: id))
        #expect(after.boundRequest == preview && after.signalCount == 2)
    }

    @Test(arguments: EngineKind.available)
    func retryWithdrawAndRejectFollowTheStateMachine(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"])).remediations[0]
        let store = try h.store()
        #expect(throws: StoreError.self) { try store.decide([id], .retry, by: "alice", config: h.config, at: .now) }
        #expect(throws: StoreError.self) { try store.decide([id], .withdraw, by: "alice", config: h.config, at: .now) }
        try store.decide([id], .approve, by: "alice", config: h.config, at: .now)
        let back = try store.decide([id], .withdraw, by: "alice", config: h.config, at: .now)
        #expect(back[0].state == .pending && back[0].decidedBy == nil && back[0].boundRequest == nil)
        let rejected = try store.decide([id], .reject("false positive"), by: "bob", config: h.config, at: .now)
        #expect(rejected[0].state == .rejected && rejected[0].reason == "false positive")
        let trail = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").map(\.action)
        #expect(trail == ["reject", "withdraw", "approve", "propose"])
    }

    /// The second attacker pass: retrying a failed remediation whose target had been proposed
    /// again answered a raw unique-constraint error. It is refused naming the open one, and
    /// nothing changes.
    @Test(arguments: EngineKind.available)
    func aRetryWhileTheTargetIsOpenAgainIsRefusedNamingTheOpenOne(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let first = try h.post(signalJSON("s1", ips: ["203.0.113.42"])).remediations[0]
        let store = try h.store()
        try store.decide([first], .approve, by: "alice", config: h.config, at: .now)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: .now).first)
        try store.finish(claim, AttemptReport(result: .failed, status: 400, error: "HTTP 400"), config: h.config, at: .now)
        let again = try h.post(signalJSON("s2", ips: ["203.0.113.42"])).remediations[0]
        #expect(again != first)
        do throws(StoreError) {
            try store.decide([first], .retry, by: "alice", config: h.config, at: .now)
            Issue.record("a second open remediation for one target")
        } catch {
            #expect(
                error
                    == .refused(
                        "remediation \(again) (ban-ip 203.0.113.42) is pending for the same target: "
                            + "decide that one; retry of remediation \(first) is refused while it is open"))
        }
        #expect(try store.remediation(id: first)?.state == .failed)
        #expect(try store.remediation(id: again)?.state == .pending)
    }

    /// Issue 16: an approval whose request cannot be rendered safely (here the signal id `..`
    /// would be a dot segment in the URL path) binds the refusal: the claim carries it, the audit
    /// entry says it, and a later signal with a harmless id never makes it sendable.
    @Test(arguments: EngineKind.available)
    func anApprovalThatCannotBeRenderedBindsItsRefusal(_ kind: EngineKind) throws {
        let config = """
            { "allow_internal_action_urls": true,
              "actions": { "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/v1/signals/{{signal_id}}/ban/{{ip}}" } } } }
            """
        let h = try StoreHarness(kind, configJSON: config)
        defer { h.close() }
        let id = try h.post(signalJSON("..", ips: ["203.0.113.42"])).remediations[0]
        let store = try h.store()
        let approved = try store.decide([id], .approve, by: "alice", config: h.config, at: .now)
        #expect(approved[0].state == .approved && approved[0].boundRequest == nil)
        #expect(approved[0].bindingRefusal?.message.contains("dot segment") == true)
        #expect(approved[0].recordedRequestText?.hasPrefix("refused: URL path segment") == true)
        let audit = try store.auditEntries(limit: 1, before: nil, subject: "remediation \(id)")
        #expect(audit.first?.action == "approve" && audit.first?.detail?.contains("dot segment") == true)
        // A newer signal for the same target attaches; the claim still carries the refusal.
        try h.post(signalJSON("AQAAAYxk1-harmless-0002", ips: ["203.0.113.42"]))
        let claim = try #require(try store.claimDue(worker: "w:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: .now).first)
        guard case .failure(let refusal) = claim.request else {
            Issue.record("the claim would send \(claim.request)")
            return
        }
        #expect(refusal.message.contains("dot segment"))
        // The dispatcher fails it with that reason (nothing is sent).
        try store.finish(claim, AttemptReport(result: .failed, error: refusal.description), config: h.config, at: .now)
        let failed = try #require(try store.remediation(id: id))
        #expect(failed.state == .failed && failed.lastError?.contains("dot segment") == true)
    }
}
