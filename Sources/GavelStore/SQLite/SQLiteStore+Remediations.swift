import GavelCore
import GavelStore

extension SQLiteStore {
    public func remediations(_ filter: RemediationFilter, limit: Int, before: Int64?) throws(StoreError) -> [Remediation] {
        try storeCall {
            try db.readTransaction {
                var sql = "SELECT \(Self.remediationColumns) FROM remediations r WHERE r.id < ?"
                var values: [SQLValue] = [.integer(before ?? Int64.max)]
                if !filter.states.isEmpty {
                    sql += " AND r.state IN (" + filter.states.map { _ in "?" }.joined(separator: ",") + ")"
                    values += filter.states.map { .text($0.rawValue) }
                }
                if let rule = filter.rule {
                    let key = try findRule(rule)?.key ?? rule
                    sql += " AND r.rule_key = ?"
                    values.append(.text(key))
                }
                if let text = filter.text, !text.isEmpty {
                    sql += " AND " + Self.textFilterClause
                    values += Array(repeating: .text(TextFilter.folded(text)), count: 2)
                }
                sql += " ORDER BY r.id DESC LIMIT ?"
                values.append(.integer(limit == 0 ? -1 : Int64(limit)))
                return try db.query(sql, values).map { try remediation(from: $0, depth: .full) }
            }
        }
    }

    /// `TextFilter` in SQL over the stored folded forms; binds two parameters, both the folded pattern.
    static let textFilterClause = """
        (instr(r.search_text, ?) > 0 OR EXISTS (SELECT 1 FROM remediation_entities re WHERE re.remediation = r.id AND instr(re.folded, ?) > 0))
        """

    public func remediation(id: Int64) throws(StoreError) -> Remediation? {
        try storeCall { try db.readTransaction { try fetchRemediation(id) } }
    }

    public func remediations(ofTarget target: String, excluding id: Int64, limit: Int) throws(StoreError) -> [Remediation] {
        try storeCall {
            try db.readTransaction {
                try db.query(
                    "SELECT \(Self.remediationColumns) FROM remediations r WHERE r.target = ? AND r.id != ? ORDER BY r.id DESC LIMIT ?",
                    [.text(target), .integer(id), .integer(Int64(limit))]
                ).map { try remediation(from: $0, depth: .row) }
            }
        }
    }

    public func attempts(ofRemediation id: Int64) throws(StoreError) -> [Attempt] {
        try storeCall {
            var numbers: [Attempt.Kind: Int] = [:]
            var triageNumbers: [Int64: Int] = [:]
            return try db.query(
                """
                SELECT a.id, a.started_ms, a.duration_ms, a.status, a.outcome, a.error, a.response, a.kind, a.triage, t.signal_id, t.change,
                    a.stderr
                FROM attempts a LEFT JOIN triage_updates t ON t.id = a.triage WHERE a.remediation = ? ORDER BY a.id
                """,
                [.integer(id)]
            ).map { a in
                let kind = Attempt.Kind(rawValue: a.string(7) ?? "") ?? .dispatch
                let number: Int
                if kind == .triage, let update = a.int64(8) {
                    // A triage attempt is numbered within its update (one Datadog signal, one event).
                    triageNumbers[update, default: 0] += 1
                    number = triageNumbers[update] ?? 1
                } else {
                    numbers[kind, default: 0] += 1
                    number = numbers[kind] ?? 1
                }
                var attempt = Attempt(
                    id: a.int64(0) ?? 0, remediationID: id, kind: kind, number: number, startedAt: Timestamp(milliseconds: a.int64(1) ?? 0),
                    durationMs: a.int64(2).map { Int($0) }, status: a.int64(3).map { Int($0) },
                    outcome: a.string(4).flatMap(Attempt.Outcome.init(rawValue:)), error: a.string(5), response: a.string(6),
                    stderr: a.string(11))
                if let signal = a.string(9) { attempt.subject = "signal \(signal) → \(a.string(10) ?? "")" }
                return attempt
            }
        }
    }

    /// Reads `remediation_counts` (schema v3, kept by triggers).
    public func stateCounts() throws(StoreError) -> [RemediationState: Int] {
        try storeCall {
            var counts: [RemediationState: Int] = [:]
            for r in try db.query("SELECT state, sum(n) FROM remediation_counts GROUP BY state HAVING sum(n) > 0") {
                if let state = RemediationState(rawValue: r.string(0) ?? "") { counts[state] = r.int(1) }
            }
            return counts
        }
    }

    @discardableResult
    public func decide(_ ids: [Int64], _ decision: Decision, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [Remediation]
    {
        try storeCall {
            try db.writeTransaction {
                for id in ids { try decide(id, decision, by: analyst, cause: .analyst, config: config, at: now) }
                return try ids.compactMap { try fetchRemediation($0) }
            }
        }
    }

    /// One decision, compare-and-set, in the caller's transaction: the state machine says where
    /// `decision` by `cause` moves the remediation; an approval binds its request (rendered with
    /// the newest signal's values, decided by `actor`, under `config`). Audited.
    /// - Throws: `StoreError.notFound`, or `.conflict` naming who decided it and how.
    func decide(_ id: Int64, _ decision: Decision, by actor: String, cause: TransitionCause, config: GavelConfig, at now: Timestamp) throws {
        guard let current = try fetchRemediation(id, depth: .row) else {
            throw StoreError.notFound("remediation \(id) does not exist")
        }
        // Decisions on a revert: approving a proposed revert (or retrying a failed one) starts it;
        // rejecting a proposed revert keeps the remediation in force.
        switch (current.state, decision) {
        case (.revertPending, .approve), (.revertFailed, .retry):
            try startRevert(
                current, event: decision.event, cause: cause, by: actor, reason: current.revertReason ?? "revert approved", config: config, at: now)
            return
        case (.revertPending, .reject(let text, _)):
            let kept = try RemediationLifecycle.next(from: current.state, on: .reject, by: cause)
            let changed = try db.run(
                "UPDATE remediations SET state = ?, revert_reason = ?, updated_ms = ? WHERE id = ? AND state = ?",
                [.text(kept.rawValue), .text("revert rejected: \(text)"), .integer(now.milliseconds), .integer(id), .text(current.state.rawValue)])
            if changed == 1 {
                try audit(
                    actor: actor, action: "reject-revert", subject: "remediation \(id)", before: current.state.rawValue, after: kept.rawValue,
                    detail: text, at: now)
            }
            return
        case (.pending, .approve):
            if let ttl = config.pendingTTL(action: current.action, ruleID: current.ruleKey, ruleName: current.ruleName),
                now.milliseconds(since: current.createdAt) > ttl
            {
                throw StoreError.conflict(
                    DecisionConflict(
                        id: id, state: .expired, decidedBy: nil, decidedAt: nil,
                        reason: "pending longer than \(DurationText.text(ttl)) without a decision", wanted: decision.verb))
            }
            let required = config.requiredApprovals(action: current.action, ruleID: current.ruleKey, ruleName: current.ruleName)
            if required > 1 {
                guard cause == .analyst else {
                    throw StoreError.refused("remediation \(id) needs \(required) approvals by different analysts: auto mode never counts as one")
                }
                if let mine = current.approvals.first(where: { $0.analyst == actor }) {
                    throw StoreError.refused(
                        "\(actor) already approved remediation \(id) at \(mine.at.rfc3339) (\(current.approvals.count) of \(required) approvals): "
                            + "another analyst must approve it")
                }
                try db.run(
                    "INSERT INTO approvals (remediation, analyst, at_ms) VALUES (?,?,?)", [.integer(id), .text(actor), .integer(now.milliseconds)])
                let count = current.approvals.count + 1
                if count < required {
                    let stays = try RemediationLifecycle.next(from: current.state, on: .endorse, by: cause)
                    let changed = try db.run(
                        "UPDATE remediations SET state = ?, updated_ms = ? WHERE id = ? AND state = ?",
                        [.text(stays.rawValue), .integer(now.milliseconds), .integer(id), .text(current.state.rawValue)])
                    guard changed == 1 else {
                        throw StoreError.conflict(
                            DecisionConflict(
                                id: id, state: current.state, decidedBy: current.decidedBy, decidedAt: current.decidedAt, reason: nil,
                                wanted: "approve"))
                    }
                    try audit(
                        actor: actor, action: "approve", subject: "remediation \(id)", before: current.state.rawValue, after: stays.rawValue,
                        detail: "\(count) of \(required) approvals", at: now)
                    return
                }
            } else {
                try db.run(
                    "INSERT OR REPLACE INTO approvals (remediation, analyst, at_ms) VALUES (?,?,?)",
                    [.integer(id), .text(actor), .integer(now.milliseconds)])
            }
        default:
            break
        }
        let to: RemediationState
        do {
            to = try RemediationLifecycle.next(from: current.state, on: decision.event, by: cause)
        } catch {
            throw StoreError.conflict(
                DecisionConflict(
                    id: id, state: current.state, decidedBy: current.decidedBy, decidedAt: current.decidedAt, reason: current.reason,
                    wanted: decision.verb))
        }
        var bound: SQLValue = .null
        var version: SQLValue = .null
        var decidedBy: SQLValue = .text(actor)
        var decidedAt: SQLValue = .integer(now.milliseconds)
        var reason: SQLValue = .null
        var nextAttempt: SQLValue = .null
        var refusal: SQLValue = .null
        switch decision {
        case .approve:
            // A grace delay: the approval waits, visibly, and can be withdrawn before it goes.
            if let grace = config.actions[current.action]?.graceMs { nextAttempt = .integer(now.adding(milliseconds: grace).milliseconds) }
            // The request is bound here, at the approval: every attempt and retry sends these
            // bytes. One that cannot be rendered safely binds its refusal instead (`bindingRefusal`):
            // the dispatcher fails it with that reason and sends nothing — a later signal never
            // makes it sendable.
            (bound, refusal) = try binding(current, config: config, by: actor)
            version = .int(config.version)
        case .retry:
            if let request = current.boundRequest {
                bound = .text(request.storageText)
                version = .int(current.configVersion)
            } else {
                // Refused at its approval (or approved before requests were bound): the analyst's
                // retry is a new decision, so it binds what it would send now.
                (bound, refusal) = try binding(current, config: config, by: actor)
                version = .int(config.version)
            }
        case .reject(let text, _):
            reason = .text(text)
        case .withdraw:
            decidedBy = .null
            decidedAt = .null
            try db.run("DELETE FROM approvals WHERE remediation = ?", [.integer(id)])
        }
        var falsePositive = false
        if case .reject(_, let marked) = decision { falsePositive = marked }
        let changed = try db.run(
            """
            UPDATE remediations SET state = ?, decided_by = ?, decided_ms = ?, updated_ms = ?, reason = ?, next_attempt_ms = ?,
                bound_request = ?, config_version = ?, last_error = CASE WHEN ? THEN NULL ELSE last_error END,
                request = CASE WHEN ? THEN ? ELSE request END, false_positive = ?
            WHERE id = ? AND state = ?
            """,
            [
                .text(to.rawValue), decidedBy, decidedAt, .integer(now.milliseconds), reason, nextAttempt, bound, version,
                .integer(decision == .retry ? 1 : 0), .integer(decision.event == .reject ? 0 : 1), refusal, .integer(falsePositive ? 1 : 0),
                .integer(id), .text(current.state.rawValue),
            ])
        guard changed == 1 else {
            throw StoreError.conflict(
                DecisionConflict(
                    id: id, state: current.state, decidedBy: current.decidedBy, decidedAt: current.decidedAt, reason: current.reason,
                    wanted: decision.verb))
        }
        var detail: String?
        if case .reject(let text, let marked) = decision { detail = marked ? "false positive: \(text)" : text }
        if case .text(let refused) = refusal { detail = refused }
        try audit(
            actor: actor, action: decision.verb, subject: "remediation \(id)", before: current.state.rawValue, after: to.rawValue,
            detail: detail, at: now)
        if case .reject(let text, let marked) = decision, to == .rejected {
            try queueTriage(id, event: marked ? .falsePositive : .rejected, analyst: actor, reason: text, config: config, at: now)
        }
    }

    /// What an approval (or an analyst's retry) binds: the request `actor`'s decision sends, or —
    /// when it cannot be rendered safely — no request and the refusal (`Remediation.bindingRefusal`).
    /// An action missing from the configuration binds nothing: the dispatcher fails it by name.
    private func binding(_ r: Remediation, config: GavelConfig, by actor: String) throws -> (bound: SQLValue, refusal: SQLValue) {
        guard let action = config.actions[r.action] else { return (.null, .null) }
        do {
            return (.text(try r.request(action: action, signal: try latestSignalReference(r.id), decidedBy: actor).storageText), .null)
        } catch let refusal as DispatchRefusal {
            return (.null, .text(refusal.description))
        }
    }
}
