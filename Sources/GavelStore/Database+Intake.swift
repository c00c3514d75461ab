import GavelCore

/// What the intake of one delivery did: the stored signal and its remediations.
public struct IntakeResult: Sendable, Equatable {
    public var record: SignalRecordResult
    /// Remediations proposed or attached by this delivery, in proposal order.
    public var remediations: [Int64]
    /// Those of them that auto-remediation approved (the dispatcher sends them at once).
    public var autoApproved: [Int64]
}

/// Signals whose `DATE` is older than this are stored and shown but never auto-remediated
/// (hardening checklist D8): 1 hour.
public let autoRemediationMaxSignalAgeMs: Int64 = 3_600_000

extension Database {
    /// Stores one delivery and derives its remediations, in the caller's write transaction:
    /// record the signal (see `record`); for a new signal — or only the new entities of an
    /// updated one — ask `RemediationPlanner` for proposals within the rule's enabled actions;
    /// record each (attach / pending / suppressed / simulated with the rendered request for a
    /// dry-run rule); and for a rule in `auto`, approve new pending ones as `auto:RULE` within
    /// the budgets. A pure retry (same body) proposes nothing, so it can never auto-dispatch twice.
    public func intake(_ incoming: IncomingSignal, config: GavelConfig, nowMs: Int64 = Timestamp.nowMs()) throws -> IntakeResult {
        let record = try record(incoming)
        let signal = incoming.signal
        guard !record.duplicate || record.updated else {
            return IntakeResult(record: record, remediations: [], autoApproved: [])
        }
        let rule = try touchRule(
            key: signal.ruleKey, ruleID: signal.ruleID, name: signal.ruleName,
            startingMode: RemediationPlanner.mode(for: signal, config: config), nowMs: nowMs)
        let allActions = Set(config.ruleConfig(for: signal)?.actions ?? RemediationPlanner.defaultActions(for: signal))
        var proposals = RemediationPlanner.propose(for: signal, config: config, enabledActions: allActions.subtracting(rule.disabledActions))
        if record.duplicate {
            let fresh = Set(record.newEntities.map(\.value))
            proposals = proposals.filter { fresh.contains($0.target) }
        }
        var ids: [Int64] = []
        var approved: [Int64] = []
        let stale = signal.date.flatMap { Int64($0) }.map { nowMs - $0 > autoRemediationMaxSignalAgeMs } ?? false
        for p in proposals {
            var proposal = RemediationProposal(action: p.action, targetKind: p.targetKind, target: p.target, suppressedBy: p.suppressedBy)
            if rule.mode == .dryRun && p.suppressedBy == nil { proposal.simulatedRequest = "" }
            let result = try propose(
                proposal, signalRow: record.rowID, ruleKey: rule.key, ruleName: signal.ruleName,
                severityRank: signal.severity?.rank ?? -1, nowMs: nowMs)
            ids.append(result.id)
            guard result.created else { continue }
            if result.state == .simulated, let action = config.actions[p.action],
                let summary = try remediation(id: result.id)
            {
                let text: String
                do {
                    let context = TemplateContext(
                        action: action, target: p.target, signal: signal, remediationID: String(result.id),
                        idempotencyKey: try idempotencyKey(id: result.id), decidedBy: "dry-run:\(rule.key)")
                    text = try action.render(context).masked().displayText
                } catch {
                    text = "refused: \(error)"
                }
                try run("UPDATE remediations SET request = ? WHERE id = ?", [.text(text), .integer(summary.id)])
            }
            if result.state == .pending && rule.mode == .auto {
                if stale {
                    try audit(
                        actor: "auto:\(rule.key)", action: "auto-skip", subject: "remediation \(result.id)",
                        detail: "signal DATE is older than 1 hour: left for an analyst", atMs: nowMs)
                    continue
                }
                let budget = AutoBudget(
                    perRule: config.autoLimits.perRule, global: config.autoLimits.global,
                    windowMs: Int64(config.autoLimits.windowSeconds) * 1000)
                if try autoApprove(id: result.id, ruleKey: rule.key, budget: budget, nowMs: nowMs) {
                    approved.append(result.id)
                }
            }
        }
        return IntakeResult(record: record, remediations: ids, autoApproved: approved)
    }

    /// The idempotency key of a remediation.
    public func idempotencyKey(id: Int64) throws -> String {
        try query("SELECT idempotency_key FROM remediations WHERE id = ?", [.integer(id)]).first?.string(0) ?? ""
    }
}
