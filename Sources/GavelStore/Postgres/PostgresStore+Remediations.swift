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
            try db.query(
                "SELECT id, started_ms, duration_ms, status, outcome, error, response FROM attempts WHERE remediation = $1 ORDER BY id",
                [.integer(id)]
            ).enumerated().map { i, a in
                Attempt(
                    id: a.int64(0) ?? 0, remediationID: id, number: i + 1, startedAt: Timestamp(milliseconds: a.int64(1) ?? 0),
                    durationMs: a.int64(2).map { Int($0) }, status: a.int64(3).map { Int($0) },
                    outcome: a.string(4).flatMap(Attempt.Outcome.init(rawValue:)), error: a.string(5), response: a.string(6))
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
            try db.transaction {
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

    /// One decision, compare-and-set, in the caller's transaction: the state machine says where
    /// `decision` by `cause` moves the remediation; an approval binds its request (rendered with
    /// the newest signal's values, decided by `actor`, under `config`). Audited.
    /// - Throws: `StoreError.notFound`, or `.conflict` naming who decided it and how.
    func decide(_ id: Int64, _ decision: Decision, by actor: String, cause: TransitionCause, config: GavelConfig, at now: Timestamp) throws {
        guard let current = try fetchRemediation(id, depth: .row) else {
            throw StoreError.notFound("remediation \(id) does not exist")
        }
        let conflict = StoreError.conflict(
            DecisionConflict(
                id: id, state: current.state, decidedBy: current.decidedBy, decidedAt: current.decidedAt, reason: current.reason,
                wanted: decision.verb))
        let to: RemediationState
        do {
            to = try RemediationLifecycle.next(from: current.state, on: decision.event, by: cause)
        } catch {
            throw conflict
        }
        var bound: PGValue = .null
        var version: PGValue = .null
        var decidedBy: PGValue = .text(actor)
        var decidedAt: PGValue = .integer(now.milliseconds)
        var reason: PGValue = .null
        switch decision {
        case .approve:
            // The request is bound here, at the approval: every attempt and retry sends these bytes.
            if let action = config.actions[current.action],
                let request = try? current.request(action: action, signal: try latestSignalReference(id), decidedBy: actor)
            {
                bound = .text(request.storageText)
                version = .int(config.version)
            }
        case .retry:
            bound = current.boundRequest.map { .text($0.storageText) } ?? .null
            version = .int(current.configVersion)
        case .reject(let text):
            reason = .text(text)
        case .withdraw:
            decidedBy = .null
            decidedAt = .null
        }
        let changed = try db.run(
            """
            UPDATE remediations SET state = $1, decided_by = $2, decided_ms = $3, updated_ms = $4, reason = $5, next_attempt_ms = NULL,
                bound_request = $6, config_version = $7, last_error = CASE WHEN $8::integer = 1 THEN NULL ELSE last_error END
            WHERE id = $9 AND state = $10
            """,
            [
                .text(to.rawValue), decidedBy, decidedAt, .integer(now.milliseconds), reason, bound, version, .int(decision == .retry ? 1 : 0),
                .integer(id), .text(current.state.rawValue),
            ])
        guard changed == 1 else { throw conflict }
        var detail: String?
        if case .reject(let text) = decision { detail = text }
        try audit(
            actor: actor, action: decision.verb, subject: "remediation \(id)", before: current.state.rawValue, after: to.rawValue, detail: detail,
            at: now)
    }
}
