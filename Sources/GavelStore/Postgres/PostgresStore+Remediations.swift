import GavelCore
import GavelStore

extension PostgresStore {
    public func remediations(_ filter: RemediationFilter, limit: Int, before: Int64?) throws(StoreError) -> [Remediation] {
        try pgCall {
            try db.readTransaction {
                var sql = "SELECT \(Self.remediationColumns(.full)) FROM remediations r WHERE r.id < $1"
                var values: [PGValue] = [.integer(before ?? Int64.max)]
                if !filter.states.isEmpty {
                    sql += " AND r.state IN (" + Self.placeholders(from: values.count + 1, count: filter.states.count) + ")"
                    values += filter.states.map { .text($0.rawValue) }
                }
                if let rule = filter.rule {
                    let key = try findRule(rule)?.key ?? rule
                    values.append(.text(key))
                    sql += " AND r.rule_key = $\(values.count)"
                }
                if let text = filter.text, !text.isEmpty {
                    values.append(.text(TextFilter.folded(text)))
                    sql += " AND " + Self.textFilterClause(values.count)
                }
                values.append(Self.limit(limit))
                sql += " ORDER BY r.id DESC LIMIT $\(values.count)"
                return try db.query(sql, values).map(Self.remediation(from:))
            }
        }
    }

    public func remediation(id: Int64) throws(StoreError) -> Remediation? {
        try pgCall { try fetchRemediation(id) }
    }

    public func remediations(ofTarget target: String, excluding id: Int64, limit: Int) throws(StoreError) -> [Remediation] {
        try pgCall {
            try db.query(
                "SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE r.target = $1 AND r.id != $2 ORDER BY r.id DESC LIMIT $3",
                [.text(target), .integer(id), .int(limit)]
            ).map(Self.remediation(from:))
        }
    }

    public func attempts(ofRemediation id: Int64) throws(StoreError) -> [Attempt] {
        try pgCall {
            var numbers: [Attempt.Kind: Int] = [:]
            var triageNumbers: [Int64: Int] = [:]
            return try db.query(
                """
                SELECT a.id, a.started_ms, a.duration_ms, a.status, a.outcome, a.error, a.response, a.kind, a.triage, t.signal_id, t.change,
                    a.stderr, a.batch_key
                FROM attempts a LEFT JOIN triage_updates t ON t.id = a.triage WHERE a.remediation = $1 ORDER BY a.id
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

    /// Reads `remediation_counts` and the deltas not yet folded into it.
    public func stateCounts() throws(StoreError) -> [RemediationState: Int] {
        try pgCall {
            var counts: [RemediationState: Int] = [:]
            for r in try countRows() {
                if let state = RemediationState(rawValue: r.string(1) ?? "") { counts[state, default: 0] += r.int(2) }
            }
            return counts
        }
    }

    @discardableResult
    public func decide(_ ids: [Int64], _ decision: Decision, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [Remediation]
    {
        try pgCall {
            try transaction {
                // Lock every row first, in id order: two batch decisions never deadlock.
                try db.query(
                    "SELECT id FROM remediations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                    [.text("{" + ids.map(String.init).joined(separator: ",") + "}")])
                for id in ids { try decide(id, decision, by: analyst, cause: .analyst, config: config, at: now) }
                let after = try ids.compactMap { try fetchRemediation($0) }
                try announce(decision == .approve || decision == .retry ? "approved" : "decision")
                return after
            }
        }
    }

    /// One decision, compare-and-set, in the caller's transaction (the row locked by the caller): the
    /// state machine says where `decision` by `cause` moves the remediation; an approval binds its
    /// request (rendered with the newest signal's values, decided by `actor`, under `config`), or
    /// only counts (`endorse`) while more approvals by other analysts are needed; decisions on a
    /// revert start it or keep the remediation in force. Audited.
    /// - Throws: `StoreError.notFound`, `.conflict` naming who decided it and how (or that it
    ///   expired), `.refused` for a second approval by the same analyst.
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
                "UPDATE remediations SET state = $1, revert_reason = $2, updated_ms = $3 WHERE id = $4 AND state = $5",
                [.text(kept.rawValue), .text(revertReason), .integer(now.milliseconds), .integer(id), .text(from)])
            if changed == 1 {
                try audit(
                    actor: actor, action: "reject-revert", subject: "remediation \(id)", before: from, after: kept.rawValue, detail: detail, at: now)
            }
        case .endorse(let stays, let detail):
            try db.run(
                "INSERT INTO approvals (remediation, analyst, at_ms) VALUES ($1,$2,$3)", [.integer(id), .text(actor), .integer(now.milliseconds)])
            let changed = try db.run(
                "UPDATE remediations SET state = $1, updated_ms = $2 WHERE id = $3 AND state = $4",
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
                "SELECT id, state FROM remediations WHERE action = $1 AND target = $2 AND id <> $3 AND state IN ('pending','approved','dispatching') LIMIT 1",
                [.text(current.action), .text(current.target), .integer(id)]
            ).first, let state = open.string(1).flatMap(RemediationState.init(rawValue:))
        {
            throw DecisionPlan.alreadyOpen(current, other: (open.int64(0) ?? 0, state), wanted: decision.verb)
        }
        switch fields.approval {
        case .none: break
        case .add:
            try db.run(
                "INSERT INTO approvals (remediation, analyst, at_ms) VALUES ($1,$2,$3)", [.integer(id), .text(actor), .integer(now.milliseconds)])
        case .upsert:
            try db.run(
                """
                INSERT INTO approvals (remediation, analyst, at_ms) VALUES ($1,$2,$3)
                ON CONFLICT (remediation, analyst) DO UPDATE SET at_ms = excluded.at_ms
                """, [.integer(id), .text(actor), .integer(now.milliseconds)])
        case .removeAll:
            try db.run("DELETE FROM approvals WHERE remediation = $1", [.integer(id)])
        }
        var bound: PGValue = .null
        var version: PGValue = .null
        var refusal: PGValue = .null
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
            UPDATE remediations SET state = $1, decided_by = $2, decided_ms = $3, updated_ms = $4, reason = $5, next_attempt_ms = $6,
                bound_request = $7, config_version = $8, last_error = CASE WHEN $9::integer = 1 THEN NULL ELSE last_error END,
                request = CASE WHEN $10::integer = 1 THEN $11 ELSE request END, false_positive = $12
            WHERE id = $13 AND state = $14
            """,
            [
                .text(fields.to.rawValue), .text(fields.decidedBy), PGValue.time(fields.decidedAt), .integer(now.milliseconds),
                .text(fields.reason), PGValue.time(fields.nextAttemptAt), bound, version, .int(fields.clearsLastError ? 1 : 0),
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
    private func binding(_ r: Remediation, config: GavelConfig, by actor: String) throws -> (bound: PGValue, refusal: PGValue) {
        guard let action = config.actions[r.action] else { return (.null, .null) }
        do {
            return (.text(try r.request(action: action, signal: try latestSignalReference(r.id), decidedBy: actor).storageText), .null)
        } catch let refusal as DispatchRefusal {
            return (.null, .text(refusal.description))
        }
    }
}
