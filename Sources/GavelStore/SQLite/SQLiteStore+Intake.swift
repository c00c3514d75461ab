import Foundation
import GavelCore
import GavelStore

extension SQLiteStore {
    /// Stores one delivery and applies its `IntakePlan`, in the caller's write transaction (the
    /// ingest writer's group commit): resolve the signal's rule, record the signal; unless the
    /// delivery is a pure retry (same body: it proposes nothing, so it can never auto-dispatch
    /// twice), gather what the plan needs (the rule, the remediations proposals would attach to,
    /// the auto budgets used, the kill switch), make the plan and carry it out — every state set
    /// through `RemediationLifecycle`.
    func intake(_ incoming: IncomingSignal, config: GavelConfig, post: Int64? = nil) throws -> IntakeOutcome {
        let signal = incoming.signal
        let now = incoming.receivedAt
        // Once a signal's (rule id, name) touched its rule row in this transaction, both are
        // aliases of that row (first mapping wins, nothing deletes them), so it resolves the same.
        let ruleFact = [signal.ruleID, signal.ruleName]
        let key = try db.transactionRuleKeys[ruleFact] ?? resolveRuleKey(ruleID: signal.ruleID, name: signal.ruleName) ?? signal.ruleKey
        let record = try record(incoming, ruleKey: key, post: post)
        if !record.duplicate && signal.flags.contains(.unrecognised) {
            try recordIntakeError(
                IntakeErrorEntry(
                    receivedAt: now, peer: incoming.peer, status: 202, reason: Self.unrecognisedReason(signal), contentType: incoming.contentType,
                    body: incoming.rawBody))
        }
        guard !record.duplicate || record.updated else {
            return IntakeOutcome(record: record, remediations: [], autoApproved: [])
        }
        let rule = try touchRule(
            key: key, ruleID: signal.ruleID, name: signal.ruleName, startingMode: RemediationPlanner.mode(for: signal, config: config), at: now)
        if db.transactionDepth > 0 { db.transactionRuleKeys[ruleFact] = key }
        // The configured rule's key names this rule row as an id and as a name, so a later signal
        // that carries the key in its other field finds the same row (one mode, one budget).
        if let configured = config.ruleConfigKey(ruleID: signal.ruleID, ruleName: signal.ruleName) {
            try addRuleAliases(key: key, ruleID: configured, name: configured)
        }
        let newTargets = record.newEntities.filter { EntityValue.targetKinds.contains($0.kind) }.map(\.value)
        var situation = IntakeSituation(
            signal: signal, rule: rule, newEntityValues: record.duplicate ? Set(newTargets) : nil, now: now,
            configuredProposals: incoming.configuredProposals)
        let proposals = IntakePlan.proposals(
            signal: signal, rule: rule, newEntityValues: situation.newEntityValues, config: config, configured: situation.configuredProposals)
        var severityRanks: [Int64: Int64] = [:]  // of the remediations found, so an attach rewrites the rank only when it rises
        for p in proposals {
            let state = IntakePlan.startState(of: p, rule: rule)
            let row: Row?
            if state == .pending {
                // The open one (at most one: remediations_open), else the newest in force. Chosen
                // here rather than by ORDER BY, which costs SQLite a temporary B-tree per statement.
                row = try db.query(Self.gatheringRemediationsSQL, [.text(p.action), .text(p.target)] + Self.gatheringStates).max { a, b in
                    let aOpen = RemediationState(rawValue: a.string(1) ?? "")?.isOpen == true
                    let bOpen = RemediationState(rawValue: b.string(1) ?? "")?.isOpen == true
                    return aOpen != bOpen ? !aOpen : (a.int64(0) ?? 0) < (b.int64(0) ?? 0)
                }
            } else {
                row = try db.query(
                    "SELECT id, state, severity_rank FROM remediations WHERE action = ? AND target = ? AND state = ? AND rule_key = ? ORDER BY id DESC LIMIT 1",
                    [.text(p.action), .text(p.target), .text(state.rawValue), .text(rule.key)]
                ).first
            }
            if let row, let id = row.int64(0), let existing = RemediationState(rawValue: row.string(1) ?? "") {
                situation.existing[ActionTarget(p.action, p.target)] = ExistingRemediation(id: id, state: existing)
                severityRanks[id] = row.int64(2) ?? -1
            }
        }
        if rule.mode == .auto {
            situation.automaticDispatchDisabled = try killSwitchOn()
            let since = now.adding(milliseconds: -Int64(config.autoLimits.windowSeconds) * 1000).milliseconds
            situation.autoUsage = AutoUsage(
                rule: try db.query(
                    "SELECT count(*) FROM remediations WHERE decided_by = ? AND decided_ms > ?", [.text("auto:\(rule.key)"), .integer(since)]
                ).first?.int(0) ?? 0,
                overall: try db.query(
                    "SELECT count(*) FROM remediations WHERE decided_by >= 'auto:' AND decided_by < 'auto;' AND decided_ms > ?", [.integer(since)]
                ).first?.int(0) ?? 0)
        }
        let plan = IntakePlan.make(situation, config: config)
        return try apply(plan, record: record, signal: signal, rule: rule, config: config, severityRanks: severityRanks, at: now)
    }

    /// The states that gather signals (`RemediationState.gathersSignals`), as bound values.
    static let gatheringStates: [SQLValue] = RemediationState.allCases.filter(\.gathersSignals).map { .text($0.rawValue) }
    /// The remediations of one (action, target) that gather signals: id, state, severity_rank.
    static let gatheringRemediationsSQL =
        "SELECT id, state, severity_rank FROM remediations WHERE action = ? AND target = ? AND state IN ("
        + gatheringStates.map { _ in "?" }.joined(separator: ",") + ")"

    /// Stores every signal of a post in the caller's transaction: a post of several signals is
    /// kept once in `posts` first, and each delivery links to it.
    func intake(post: IncomingPost, config: GavelConfig) throws -> [IntakeOutcome] {
        var postID: Int64?
        if post.isBatch {
            try db.run(
                "INSERT INTO posts (received_ms, peer, content_type, body, body_sha256, alerts) VALUES (?,?,?,?,?,?)",
                [
                    .integer(post.receivedAt.milliseconds), .text(post.peer), .text(post.contentType), .blob(post.rawBody),
                    .text(post.bodySHA256 ?? SHA256.hex(post.rawBody)), .integer(Int64(post.signals.count)),
                ])
            postID = db.lastInsertRowID
        }
        return try post.signals.map { try intake($0, config: config, post: postID) }
    }

    /// The Intake errors view's reason for a signal kept flagged `unrecognised`.
    static func unrecognisedReason(_ signal: Signal) -> String {
        "stored as signal \(signal.signalID) (source \(signal.source)) flagged unrecognised: no rule and no entity could be read from it"
    }

    private func apply(
        _ plan: IntakePlan, record: SignalRecord, signal: Signal, rule: Rule, config: GavelConfig, severityRanks: [Int64: Int64], at now: Timestamp
    ) throws -> IntakeOutcome {
        let severityRank = Int64(signal.severity?.rank ?? -1)
        var ids: [Int64] = []
        var approved: [Int64] = []
        for step in plan.steps {
            switch step.disposition {
            case .attach(let existing):
                let added = try db.run(
                    "INSERT OR IGNORE INTO remediation_signals (remediation, signal) VALUES (?, ?)", [.integer(existing.id), .integer(record.rowID)])
                if added > 0 {
                    // severity_rank is in an index: set only when it rises, an UPDATE that names it
                    // rewrites the index entry even to the same value (~40 % of this statement).
                    if let known = severityRanks[existing.id], severityRank <= known {
                        try db.run(
                            "UPDATE remediations SET signals = signals + 1, last_seen_ms = ?, updated_ms = ? WHERE id = ?",
                            [.integer(now.milliseconds), .integer(now.milliseconds), .integer(existing.id)])
                    } else {
                        try db.run(
                            """
                            UPDATE remediations SET signals = signals + 1, last_seen_ms = ?, updated_ms = ?,
                                severity_rank = max(severity_rank, ?) WHERE id = ?
                            """, [.integer(now.milliseconds), .integer(now.milliseconds), .integer(severityRank), .integer(existing.id)])
                    }
                }
                if step.extend, let r = try fetchRemediation(existing.id, depth: .row), let duration = r.durationMs, let current = r.expiresAt {
                    let restarted = now.adding(milliseconds: duration)
                    if restarted > current {
                        try setExpiry(
                            r, to: restarted.milliseconds, actor: "gavel", detail: "signal \(signal.signalID) seen again while in force", at: now)
                    }
                }
                ids.append(existing.id)
            case .create(let state, let reason):
                guard RemediationLifecycle.canStartIn(state, by: .intake) else {
                    throw TransitionRefusal(state: nil, event: .propose, cause: .intake)
                }
                try db.run(
                    """
                    INSERT INTO remediations (action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
                        created_ms, updated_ms, last_seen_ms, reason, search_text, suggested_duration_ms)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                    """,
                    [
                        .text(step.action), .text(step.targetKind.rawValue), .text(step.target), .text(rule.key), .text(signal.ruleName),
                        .integer(severityRank), .text(state.rawValue), .text("gavel-" + UUID().uuidString.lowercased()),
                        .integer(now.milliseconds), .integer(now.milliseconds), .integer(now.milliseconds), .text(reason),
                        .text(Self.searchText(ruleName: signal.ruleName, ruleKey: rule.key, target: step.target, action: step.action)),
                        signal.suggestedDurationSeconds.map { .integer(Int64($0) * 1000) } ?? .null,
                    ])
                let id = db.lastInsertRowID
                try db.run("INSERT INTO remediation_signals (remediation, signal) VALUES (?, ?)", [.integer(id), .integer(record.rowID)])
                let detail = "\(step.action) \(step.target)" + (reason.map { " — \($0)" } ?? "")
                try audit(actor: "gavel", action: "propose", subject: "remediation \(id)", after: state.rawValue, detail: detail, at: now)
                ids.append(id)
                if state == .simulated { try recordSimulation(id, rule: rule, config: config) }
                switch step.auto {
                case .approve?:
                    let actor = "auto:\(rule.key)"
                    try decide(id, .approve, by: actor, cause: .auto, config: config, at: now)
                    approved.append(id)
                case .skip(let why)?:
                    try audit(actor: "auto:\(rule.key)", action: "auto-skip", subject: "remediation \(id)", detail: why, at: now)
                case .throttle(let why)?:
                    try db.run("UPDATE rules SET throttled_ms = ? WHERE rule_key = ?", [.integer(now.milliseconds), .text(rule.key)])
                    db.transactionRules.removeAll()
                    try audit(actor: "auto:\(rule.key)", action: "throttled", subject: "remediation \(id)", after: "pending", detail: why, at: now)
                case nil:
                    break
                }
            }
        }
        return IntakeOutcome(record: record, remediations: ids, autoApproved: approved)
    }

    /// A dry-run: records the exact request approving it would send (`simulated`), or why it cannot be sent.
    /// - Throws: the store's own errors (`SQLiteError`), which are not a refusal of the request: a
    ///   full disk is the delivery's 503, and SQLite may have rolled the whole transaction back
    ///   (`IngestWriter`), so nothing more may be written in it.
    private func recordSimulation(_ id: Int64, rule: Rule, config: GavelConfig) throws {
        guard let r = try fetchRemediation(id, depth: .row), let action = config.actions[r.action] else { return }
        do {
            let request = try r.request(action: action, signal: try latestSignalReference(id), decidedBy: "dry-run:\(rule.key)")
            try db.run(
                "UPDATE remediations SET bound_request = ?, config_version = ? WHERE id = ?",
                [.text(request.storageText), .int(config.version), .integer(id)])
        } catch let refusal as DispatchRefusal {
            try db.run("UPDATE remediations SET request = ? WHERE id = ?", [.text(refusal.description), .integer(id)])
        }
    }
}
