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
                    a.stderr, a.batch_key
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
                attempt.batchKey = a.string(12)
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
        let from = current.state.rawValue
        switch try DecisionPlan.make(current, decision, by: actor, cause: cause, config: config, at: now) {
        case .startRevert(let reason):
            try startRevert(current, event: decision.event, cause: cause, by: actor, reason: reason, config: config, at: now)
        case .keepInForce(let kept, let revertReason, let detail):
            let changed = try db.run(
                "UPDATE remediations SET state = ?, revert_reason = ?, updated_ms = ? WHERE id = ? AND state = ?",
                [.text(kept.rawValue), .text(revertReason), .integer(now.milliseconds), .integer(id), .text(from)])
            if changed == 1 {
                try audit(
                    actor: actor, action: "reject-revert", subject: "remediation \(id)", before: from, after: kept.rawValue, detail: detail, at: now)
            }
        case .endorse(let stays, let detail):
            try db.run(
                "INSERT INTO approvals (remediation, analyst, at_ms) VALUES (?,?,?)", [.integer(id), .text(actor), .integer(now.milliseconds)])
            let changed = try db.run(
                "UPDATE remediations SET state = ?, updated_ms = ? WHERE id = ? AND state = ?",
                [.text(stays.rawValue), .integer(now.milliseconds), .integer(id), .text(from)])
            guard changed == 1 else { throw DecisionPlan.conflict(current, wanted: decision.verb, reason: nil) }
            try audit(actor: actor, action: "approve", subject: "remediation \(id)", before: from, after: stays.rawValue, detail: detail, at: now)
        case .decide(let fields):
            try carryOut(fields, on: current, decision: decision, by: actor, config: config, at: now)
        }
    }

    /// Carries out a decision's fields (`DecisionPlan.decide`) as one compare-and-set, audited.
    private func carryOut(
        _ fields: DecisionFields, on current: Remediation, decision: Decision, by actor: String, config: GavelConfig, at now: Timestamp
    )
        throws
    {
        let id = current.id
        if fields.to.isOpen && !current.state.isOpen,
            let open = try db.query(
                "SELECT id, state FROM remediations WHERE action = ? AND target = ? AND id <> ? AND state IN ('pending','approved','dispatching') LIMIT 1",
                [.text(current.action), .text(current.target), .integer(id)]
            ).first, let state = open.string(1).flatMap(RemediationState.init(rawValue:))
        {
            throw DecisionPlan.alreadyOpen(current, other: (open.int64(0) ?? 0, state), wanted: decision.verb)
        }
        switch fields.approval {
        case .none: break
        case .add:
            try db.run(
                "INSERT INTO approvals (remediation, analyst, at_ms) VALUES (?,?,?)", [.integer(id), .text(actor), .integer(now.milliseconds)])
        case .upsert:
            try db.run(
                "INSERT OR REPLACE INTO approvals (remediation, analyst, at_ms) VALUES (?,?,?)",
                [.integer(id), .text(actor), .integer(now.milliseconds)])
        case .removeAll:
            try db.run("DELETE FROM approvals WHERE remediation = ?", [.integer(id)])
        }
        var bound: SQLValue = .null
        var version: SQLValue = .null
        var refusal: SQLValue = .null
        switch fields.binding {
        case .none: break
        case .render:
            (bound, refusal) = try binding(current, config: config, by: actor)
            version = .int(config.version)
        case .keep(let request, let configVersion):
            bound = .text(request.storageText)
            version = .int(configVersion)
        }
        let changed = try db.run(
            """
            UPDATE remediations SET state = ?, decided_by = ?, decided_ms = ?, updated_ms = ?, reason = ?, next_attempt_ms = ?,
                bound_request = ?, config_version = ?, last_error = CASE WHEN ? = 1 THEN NULL ELSE last_error END,
                request = CASE WHEN ? = 1 THEN ? ELSE request END, false_positive = ?
            WHERE id = ? AND state = ?
            """,
            [
                .text(fields.to.rawValue), .text(fields.decidedBy), SQLValue.time(fields.decidedAt), .integer(now.milliseconds),
                .text(fields.reason), SQLValue.time(fields.nextAttemptAt), bound, version, .int(fields.clearsLastError ? 1 : 0),
                .int(fields.rewritesRefusal ? 1 : 0), refusal, .int(fields.falsePositive ? 1 : 0), .integer(id), .text(current.state.rawValue),
            ])
        guard changed == 1 else { throw DecisionPlan.conflict(current, wanted: decision.verb, reason: current.reason) }
        var detail = fields.auditDetail
        if case .text(let refused) = refusal { detail = refused }
        try audit(
            actor: actor, action: decision.verb, subject: "remediation \(id)", before: current.state.rawValue, after: fields.to.rawValue,
            detail: detail, at: now)
        if let event = fields.triage {
            try queueTriage(id, event: event, analyst: actor, reason: fields.reason, config: config, at: now)
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
