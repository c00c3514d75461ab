import Foundation
import GavelCore
import GavelStore

extension PostgresStore {
    /// Stores one delivery and applies its `IntakePlan`, in the caller's transaction (one per
    /// delivery): resolve the signal's rule, record the signal; unless the delivery is a pure
    /// retry (same body: it proposes nothing, so it can never auto-dispatch twice), gather what
    /// the plan needs, make the plan and carry it out — every state set through
    /// `RemediationLifecycle`. The same steps as the SQLite engine's, made safe for several
    /// receivers at once:
    /// - each proposal's (action, target) is locked (`pg_advisory_xact_lock`, in sorted order, so
    ///   two deliveries never deadlock) before looking for the remediation it attaches to, so two
    ///   receivers never open two remediations of one target (the `remediations_open` unique
    ///   index stands behind this);
    /// - a rule in auto counts its budget under one advisory lock, so budgets hold exactly.
    /// - Parameter mayAnnounce: asked before announcing a proposal (not an automatic approval)
    ///   to other processes; the ingest path allows one per 250 ms per process.
    func intake(_ incoming: IncomingSignal, config: GavelConfig, post: Int64? = nil, mayAnnounce: () -> Bool = { true }) throws
        -> IntakeOutcome
    {
        let signal = incoming.signal
        let now = incoming.receivedAt
        let key = try resolveRuleKey(ruleID: signal.ruleID, name: signal.ruleName) ?? signal.ruleKey
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
        for lock in Set(proposals.map { "\($0.action) \($0.target)" }).sorted() {
            try db.query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))", [.text(lock), .integer(PostgresSchema.lockSeed)])
        }
        for p in proposals {
            let state = IntakePlan.startState(of: p, rule: rule)
            let row: PGRow?
            if state == .pending {
                // The one that still gathers signals: open first, else in force (a target already
                // banned is not banned twice). Locked, so a revert starting on another host right
                // now is waited for and its row passed over, as on SQLite's one writer.
                row = try db.query(
                    """
                    SELECT id, state FROM remediations WHERE action = $1 AND target = $2 AND state IN (\(Self.gatheringStates))
                    ORDER BY state IN ('pending','approved','dispatching') DESC, id DESC LIMIT 1 FOR UPDATE
                    """, [.text(p.action), .text(p.target)]
                ).first
            } else {
                row = try db.query(
                    "SELECT id, state FROM remediations WHERE action = $1 AND target = $2 AND state = $3 AND rule_key = $4 ORDER BY id DESC LIMIT 1",
                    [.text(p.action), .text(p.target), .text(state.rawValue), .text(rule.key)]
                ).first
            }
            if let row, let id = row.int64(0), let existing = RemediationState(rawValue: row.string(1) ?? "") {
                situation.existing[ActionTarget(p.action, p.target)] = ExistingRemediation(id: id, state: existing)
            }
        }
        if rule.mode == .auto {
            try db.query("SELECT pg_advisory_xact_lock($1)", [.integer(PostgresSchema.autoBudgetLockKey)])
            situation.automaticDispatchDisabled = try killSwitchOn()
            let since = now.adding(milliseconds: -Int64(config.autoLimits.windowSeconds) * 1000).milliseconds
            situation.autoUsage = AutoUsage(
                rule: try db.query(
                    "SELECT count(*) FROM remediations WHERE decided_by = $1 AND decided_ms > $2", [.text("auto:\(rule.key)"), .integer(since)]
                ).first?.int(0) ?? 0,
                overall: try db.query(
                    "SELECT count(*) FROM remediations WHERE decided_by >= 'auto:' AND decided_by < 'auto;' AND decided_ms > $1", [.integer(since)]
                ).first?.int(0) ?? 0)
        }
        let plan = IntakePlan.make(situation, config: config)
        let outcome = try apply(plan, record: record, signal: signal, rule: rule, config: config, at: now)
        // An automatic approval is announced at once (dispatchers wake); other proposals at most as
        // often as `mayAnnounce` allows: PostgreSQL serialises the commits of notifying
        // transactions, so one NOTIFY per delivery would cost a storm its group commit.
        if !outcome.autoApproved.isEmpty {
            try announce("approved")
        } else if !outcome.remediations.isEmpty && mayAnnounce() {
            try announce("intake")
        }
        return outcome
    }

    /// Stores every signal of a post in the caller's transaction: a post of several signals is
    /// kept once in `posts` first, and each delivery links to it.
    func intake(post: IncomingPost, config: GavelConfig, mayAnnounce: () -> Bool = { true }) throws -> [IntakeOutcome] {
        var postID: Int64?
        if post.isBatch {
            postID = try db.query(
                "INSERT INTO posts (received_ms, peer, content_type, body, body_sha256, alerts) VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                [
                    .integer(post.receivedAt.milliseconds), .text(post.peer), .text(post.contentType), .bytes(post.rawBody),
                    .text(post.bodySHA256 ?? SHA256.hex(post.rawBody)), .int(post.signals.count),
                ]
            ).first?.int64(0)
        }
        return try post.signals.map { try intake($0, config: config, post: postID, mayAnnounce: mayAnnounce) }
    }

    /// The Intake errors view's reason for a signal kept flagged `unrecognised` (as on SQLite).
    static func unrecognisedReason(_ signal: Signal) -> String {
        "stored as signal \(signal.signalID) (source \(signal.source)) flagged unrecognised: no rule and no entity could be read from it"
    }

    /// The states whose remediation a new signal of its (action, target) attaches to
    /// (`RemediationState.gathersSignals`), as SQL literals.
    static let gatheringStates = RemediationState.allCases.filter(\.gathersSignals).map { "'\($0.rawValue)'" }.joined(separator: ",")

    private func apply(_ plan: IntakePlan, record: SignalRecord, signal: Signal, rule: Rule, config: GavelConfig, at now: Timestamp) throws
        -> IntakeOutcome
    {
        let severityRank = Int64(signal.severity?.rank ?? -1)
        var ids: [Int64] = []
        var approved: [Int64] = []
        for step in plan.steps {
            switch step.disposition {
            case .attach(let existing):
                try link(remediation: existing.id, signal: record.rowID, attach: (now, severityRank))
                if step.extend, let r = try fetchRemediation(existing.id, depth: .row), let duration = r.durationMs, let current = r.expiresAt {
                    // A repeat offender: its time in force restarts from now.
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
                let id =
                    try db.query(
                        """
                        INSERT INTO remediations (action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
                            created_ms, updated_ms, last_seen_ms, reason, search_text, suggested_duration_ms)
                        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9,$9,$10,$11,$12) RETURNING id
                        """,
                        [
                            .text(step.action), .text(step.targetKind.rawValue), .text(step.target), .text(rule.key), .text(signal.ruleName),
                            .integer(severityRank), .text(state.rawValue), .text("gavel-" + UUID().uuidString.lowercased()),
                            .integer(now.milliseconds), .text(reason),
                            .text(Self.searchText(ruleName: signal.ruleName, ruleKey: rule.key, target: step.target, action: step.action)),
                            signal.suggestedDurationSeconds.map { .integer(Int64($0) * 1000) } ?? .null,
                        ]
                    ).first?.int64(0) ?? 0
                try link(remediation: id, signal: record.rowID)
                let detail = "\(step.action) \(step.target)" + (reason.map { " — \($0)" } ?? "")
                try audit(actor: "gavel", action: "propose", subject: "remediation \(id)", after: state.rawValue, detail: detail, at: now)
                ids.append(id)
                if state == .simulated { try recordSimulation(id, rule: rule, config: config) }
                switch step.auto {
                case .approve?:
                    try decide(id, .approve, by: "auto:\(rule.key)", cause: .auto, config: config, at: now)
                    approved.append(id)
                case .skip(let why)?:
                    try audit(actor: "auto:\(rule.key)", action: "auto-skip", subject: "remediation \(id)", detail: why, at: now)
                case .throttle(let why)?:
                    try db.run("UPDATE rules SET throttled_ms = $1 WHERE rule_key = $2", [.integer(now.milliseconds), .text(rule.key)])
                    try audit(actor: "auto:\(rule.key)", action: "throttled", subject: "remediation \(id)", after: "pending", detail: why, at: now)
                case nil:
                    break
                }
            }
        }
        return IntakeOutcome(record: record, remediations: ids, autoApproved: approved)
    }

    /// A dry-run: records the exact request approving it would send (`simulated`), or why it cannot be sent.
    private func recordSimulation(_ id: Int64, rule: Rule, config: GavelConfig) throws {
        guard let r = try fetchRemediation(id, depth: .row), let action = config.actions[r.action] else { return }
        do {
            let request = try r.request(action: action, signal: try latestSignalReference(id), decidedBy: "dry-run:\(rule.key)")
            try db.run(
                "UPDATE remediations SET bound_request = $1, config_version = $2 WHERE id = $3",
                [.text(request.storageText), .int(config.version), .integer(id)])
        } catch let error as DispatchRefusal {
            try db.run("UPDATE remediations SET request = $1 WHERE id = $2", [.text(error.description), .integer(id)])
        }
    }
}
