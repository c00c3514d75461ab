import Foundation
import GavelCore

/// One remediation to record for a signal (the planner's output, in store terms).
public struct RemediationProposal: Sendable, Equatable {
    public var action: String
    public var targetKind: TargetKind
    public var target: String
    /// The allowlist entry (or validation failure) that stops it, if any: the row starts `suppressed`.
    public var suppressedBy: String?
    /// For a rule in dry-run: the rendered request, recorded with state `simulated`.
    public var simulatedRequest: String?

    public init(action: String, targetKind: TargetKind, target: String, suppressedBy: String? = nil, simulatedRequest: String? = nil) {
        self.action = action
        self.targetKind = targetKind
        self.target = target
        self.suppressedBy = suppressedBy
        self.simulatedRequest = simulatedRequest
    }
}

/// What recording a proposal did.
public struct ProposalResult: Sendable, Equatable {
    public var id: Int64
    /// False when the signal attached to an existing remediation of the same (action, target).
    public var created: Bool
    public var state: RemediationState
}

/// Budgets for automatic dispatch (defaults: 10 per rule and 50 overall per 10 minutes).
public struct AutoBudget: Sendable, Equatable {
    public var perRule: Int
    public var global: Int
    public var windowMs: Int64
    public init(perRule: Int = 10, global: Int = 50, windowMs: Int64 = 600_000) {
        self.perRule = perRule
        self.global = global
        self.windowMs = windowMs
    }
}

extension Database {
    /// Records one proposal for the signal with row id `signalRow`: attaches it to an open
    /// remediation of the same (action, target) — or the latest suppressed/simulated one — or
    /// inserts a new row (`pending`, `suppressed` or `simulated`). Must run in a write transaction.
    public func propose(
        _ p: RemediationProposal, signalRow: Int64, ruleKey: String, ruleName: String?,
        severityRank: Int, nowMs: Int64
    ) throws -> ProposalResult {
        let state: RemediationState = p.suppressedBy != nil ? .suppressed : (p.simulatedRequest != nil ? .simulated : .pending)
        let existing: Row?
        if state == .pending {
            existing = try query(
                "SELECT id, state FROM remediations WHERE action = ? AND target = ? AND state IN ('pending','approved','dispatching')",
                [.text(p.action), .text(p.target)]
            ).first
        } else {
            existing = try query(
                "SELECT id, state FROM remediations WHERE action = ? AND target = ? AND state = ? AND rule_key = ? ORDER BY id DESC LIMIT 1",
                [.text(p.action), .text(p.target), .text(state.rawValue), .text(ruleKey)]
            ).first
        }
        if let existing, let id = existing.int64(0) {
            let added = try run("INSERT OR IGNORE INTO remediation_signals (remediation, signal) VALUES (?, ?)", [.integer(id), .integer(signalRow)])
            if added > 0 {
                try run(
                    """
                    UPDATE remediations SET signals = signals + 1, last_seen_ms = ?, updated_ms = ?,
                        severity_rank = max(severity_rank, ?) WHERE id = ?
                    """, [.integer(nowMs), .integer(nowMs), .integer(Int64(severityRank)), .integer(id)])
            }
            return ProposalResult(id: id, created: false, state: RemediationState(rawValue: existing.string(1) ?? "") ?? state)
        }
        try run(
            """
            INSERT INTO remediations (action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
                created_ms, updated_ms, last_seen_ms, reason, request)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
            """,
            [
                .text(p.action), .text(p.targetKind.rawValue), .text(p.target), .text(ruleKey), .text(ruleName),
                .integer(Int64(severityRank)), .text(state.rawValue), .text("gavel-" + UUID().uuidString.lowercased()),
                .integer(nowMs), .integer(nowMs), .integer(nowMs), .text(p.suppressedBy), .text(p.simulatedRequest),
            ])
        let id = lastInsertRowID
        try run("INSERT INTO remediation_signals (remediation, signal) VALUES (?, ?)", [.integer(id), .integer(signalRow)])
        let detail = "\(p.action) \(p.target)" + (p.suppressedBy.map { " — \($0)" } ?? "")
        try audit(actor: "gavel", action: "propose", subject: "remediation \(id)", after: state.rawValue, detail: detail, atMs: nowMs)
        return ProposalResult(id: id, created: true, state: state)
    }

    /// Approves a new pending remediation of an `auto` rule as `auto:RULE` when the budgets
    /// allow; otherwise leaves it pending, marks the rule throttled and audits why.
    /// - Returns: true when approved.
    public func autoApprove(id: Int64, ruleKey: String, budget: AutoBudget, nowMs: Int64) throws -> Bool {
        let actor = "auto:\(ruleKey)"
        if try automaticDispatchDisabled() {
            try audit(
                actor: actor, action: "auto-skip", subject: "remediation \(id)", detail: "automatic dispatch is switched off (gavel auto --all off)",
                atMs: nowMs)
            return false
        }
        let since = nowMs - budget.windowMs
        let forRule =
            try query("SELECT count(*) FROM remediations WHERE decided_by = ? AND decided_ms > ?", [.text(actor), .integer(since)]).first?.int(0) ?? 0
        let overall =
            try query("SELECT count(*) FROM remediations WHERE decided_by LIKE 'auto:%' AND decided_ms > ?", [.integer(since)]).first?.int(0) ?? 0
        let minutes = budget.windowMs / 60000
        var exceeded: String?
        if forRule >= budget.perRule {
            exceeded = "rule budget of \(budget.perRule) automatic dispatches per \(minutes) min reached"
        } else if overall >= budget.global {
            exceeded = "global budget of \(budget.global) automatic dispatches per \(minutes) min reached"
        }
        if let exceeded {
            try run("UPDATE rules SET throttled_ms = ? WHERE rule_key = ?", [.integer(nowMs), .text(ruleKey)])
            try audit(actor: actor, action: "throttled", subject: "remediation \(id)", after: "pending", detail: exceeded, atMs: nowMs)
            return false
        }
        let changed = try run(
            "UPDATE remediations SET state = 'approved', decided_by = ?, decided_ms = ?, updated_ms = ? WHERE id = ? AND state = 'pending'",
            [.text(actor), .integer(nowMs), .integer(nowMs), .integer(id)])
        if changed > 0 {
            try audit(actor: actor, action: "approve", subject: "remediation \(id)", before: "pending", after: "approved", atMs: nowMs)
        }
        return changed > 0
    }

    /// Decides remediations with compare-and-set: approve or reject only `pending` ones;
    /// retry only `failed` ones. Each decision is audited.
    /// - Throws: `StoreError.conflict` naming who decided it and how when another analyst was
    ///   first; `.notFound` for an unknown id; `.refused` for a suppressed or simulated one.
    ///   Nothing is changed when any id fails.
    public func decide(_ ids: [Int64], _ decision: Decision, by actor: String, nowMs: Int64 = Timestamp.nowMs()) throws {
        try writeTransaction {
            for id in ids {
                guard let r = try query("SELECT state, decided_by, decided_ms, reason FROM remediations WHERE id = ?", [.integer(id)]).first else {
                    throw StoreError.notFound("remediation \(id) does not exist")
                }
                let state = RemediationState(rawValue: r.string(0) ?? "") ?? .pending
                let expected: RemediationState = decision == .retry ? .failed : .pending
                guard state == expected else {
                    throw StoreError.conflict(
                        Database.conflictMessage(
                            id: id, state: state, decidedBy: r.string(1), decidedMs: r.int64(2),
                            reason: r.string(3), wanted: decision))
                }
                let newState: RemediationState
                if case .reject = decision { newState = .rejected } else { newState = .approved }
                var reasonText: String?
                if case .reject(let text) = decision { reasonText = text }
                let reason = SQLValue.text(reasonText)
                try run(
                    """
                    UPDATE remediations SET state = ?, decided_by = ?, decided_ms = ?, updated_ms = ?, reason = ?, next_attempt_ms = NULL,
                        last_error = CASE WHEN ? THEN NULL ELSE last_error END
                    WHERE id = ? AND state = ?
                    """,
                    [
                        .text(newState.rawValue), .text(actor), .integer(nowMs), .integer(nowMs), reason,
                        .integer(decision == .retry ? 1 : 0), .integer(id), .text(expected.rawValue),
                    ])
                try audit(
                    actor: actor, action: decision.verb, subject: "remediation \(id)", before: state.rawValue, after: newState.rawValue,
                    detail: reasonText, atMs: nowMs)
            }
        }
    }

    static func conflictMessage(id: Int64, state: RemediationState, decidedBy: String?, decidedMs: Int64?, reason: String?, wanted: Decision)
        -> String
    {
        switch state {
        case .suppressed:
            return "remediation \(id) is suppressed (\(reason ?? "allowlisted")) and is never dispatched"
        case .simulated:
            return "remediation \(id) is a dry-run simulation and is never dispatched"
        case .pending:
            return "remediation \(id) is pending; only failed remediations can be retried"
        default:
            let who = decidedBy.map { " by \($0)" } ?? ""
            let when = decidedMs.map { " at \(Timestamp.rfc3339(ms: $0))" } ?? ""
            let why = (state == .rejected ? reason.map { " (reason: \($0))" } : nil) ?? ""
            return "remediation \(id) was already \(state.rawValue)\(who)\(when)\(why); cannot \(wanted.verb) it"
        }
    }
}

/// An analyst's decision on a remediation.
public enum Decision: Sendable, Equatable {
    case approve
    /// Reject with a reason (required, non-empty).
    case reject(String)
    /// Send a failed remediation again.
    case retry

    var verb: String {
        switch self {
        case .approve: "approve"
        case .reject: "reject"
        case .retry: "retry"
        }
    }
}
