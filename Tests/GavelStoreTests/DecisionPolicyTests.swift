import GavelCore
import GavelStore
import Testing

/// The decision policy both engines carry out (`DecisionPlan.make`), without a database: what
/// each decision does, and what it refuses. The store contract suite checks that each engine
/// carries the plans out the same way.
@Suite struct DecisionPolicyTests {
    let now = Timestamp(milliseconds: 1_780_000_000_000)

    func config(_ json: String = "{}") throws -> GavelConfig {
        try GavelConfig.load(text: json, origin: "test", environment: [:], databasePath: "/tmp/gavel-policy.db", requireSecret: false)
    }

    func remediation(_ state: RemediationState, action: String = "ban-ip", approvals: [Approval] = [], createdAgoMs: Int64 = 1000)
        -> Remediation
    {
        var r = Remediation(
            id: 7, action: action, targetKind: .ip, target: "203.0.113.7", ruleKey: "r", state: state,
            createdAt: Timestamp(milliseconds: now.milliseconds - createdAgoMs))
        r.approvals = approvals
        return r
    }

    @Test func anApprovalBindsItsRequestAndRecordsTheApprover() throws {
        let plan = try DecisionPlan.make(remediation(.pending), .approve, by: "alice", cause: .analyst, config: try config(), at: now)
        guard case .decide(let f) = plan else {
            Issue.record("\(plan)")
            return
        }
        #expect(f.to == .approved && f.decidedBy == "alice" && f.decidedAt == now)
        #expect(f.approval == .upsert && f.binding == .render && f.rewritesRefusal && f.triage == nil)
    }

    @Test func theTwoPersonRuleCountsFirstAndRefusesTheSameAnalystAndAutoMode() throws {
        let config = try config()
        let first = try DecisionPlan.make(
            remediation(.pending, action: "delete-security-group"), .approve, by: "alice", cause: .analyst, config: config, at: now)
        #expect(first == .endorse(to: .pending, detail: "1 of 2 approvals"))
        let once = remediation(.pending, action: "delete-security-group", approvals: [Approval(analyst: "alice", at: now)])
        #expect(throws: StoreError.self) { try DecisionPlan.make(once, .approve, by: "alice", cause: .analyst, config: config, at: now) }
        #expect(throws: StoreError.self) {
            try DecisionPlan.make(
                remediation(.pending, action: "delete-security-group"), .approve, by: "auto:r", cause: .auto, config: config, at: now)
        }
        guard case .decide(let f) = try DecisionPlan.make(once, .approve, by: "bob", cause: .analyst, config: config, at: now) else {
            Issue.record("the second approval decides")
            return
        }
        #expect(f.to == .approved && f.decidedBy == "bob" && f.approval == .add)
    }

    @Test func anApprovalAfterThePendingTTLMeetsAnExpiredConflict() throws {
        let config = try config(#"{"actions": {"ban-ip": {"pending_ttl": "1h"}}}"#)
        do throws(StoreError) {
            _ = try DecisionPlan.make(remediation(.pending, createdAgoMs: 3_600_001), .approve, by: "alice", cause: .analyst, config: config, at: now)
            Issue.record("an expired approval was planned")
        } catch {
            guard case .conflict(let c) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(c.state == .expired && c.reason == "pending longer than 1h without a decision")
        }
    }

    @Test func aRejectionAsAFalsePositiveIsToldBackAndAWithdrawalClearsTheDecision() throws {
        let config = try config()
        guard
            case .decide(let r) = try DecisionPlan.make(
                remediation(.pending), .reject("known scanner", falsePositive: true), by: "alice", cause: .analyst, config: config, at: now)
        else {
            Issue.record("a rejection decides")
            return
        }
        #expect(r.to == .rejected && r.reason == "known scanner" && r.falsePositive && !r.rewritesRefusal)
        #expect(r.auditDetail == "false positive: known scanner" && r.triage == .falsePositive)
        guard case .decide(let w) = try DecisionPlan.make(remediation(.approved), .withdraw, by: "alice", cause: .analyst, config: config, at: now)
        else {
            Issue.record("a withdrawal decides")
            return
        }
        #expect(w.to == .pending && w.decidedBy == nil && w.decidedAt == nil && w.approval == .removeAll && w.binding == .none)
    }

    @Test func decisionsOnARevertStartItOrKeepTheRemediationInForce() throws {
        let config = try config()
        #expect(
            try DecisionPlan.make(remediation(.revertPending), .approve, by: "alice", cause: .analyst, config: config, at: now)
                == .startRevert(reason: "revert approved"))
        let kept = try DecisionPlan.make(
            remediation(.revertPending), .reject("still attacking"), by: "alice", cause: .analyst, config: config, at: now)
        #expect(kept == .keepInForce(to: .dispatched, revertReason: "revert rejected: still attacking", detail: "still attacking"))
    }

    @Test func aDecisionTheStateMachineRefusesIsAConflictNamingWhoDecided() throws {
        var done = remediation(.rejected)
        done.decidedBy = "bob"
        done.reason = "customer"
        let config = try config()
        do throws(StoreError) {
            _ = try DecisionPlan.make(done, .approve, by: "alice", cause: .analyst, config: config, at: now)
            Issue.record("approving a rejected remediation was planned")
        } catch {
            guard case .conflict(let c) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(c.state == .rejected && c.decidedBy == "bob" && c.reason == "customer" && c.wanted == "approve")
        }
    }
}
