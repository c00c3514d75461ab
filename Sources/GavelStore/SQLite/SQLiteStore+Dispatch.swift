import GavelCore
import GavelStore

extension SQLiteStore {
    public func claimDue(worker: String, limit: Int, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    {
        try storeCall {
            let approved = RemediationState.approved
            let dispatching = try RemediationLifecycle.next(from: approved, on: .claim, by: .dispatcher)
            let reverting = try RemediationLifecycle.next(from: .reverting, on: .claim, by: .dispatcher)
            let dueDispatch = "r.state = 'approved' AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= ?1)"
            let dueRevert = "r.state = 'reverting' AND r.claimed_by IS NULL AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= ?1)"
            let expired = "r.state = 'dispatched' AND r.expires_ms <= ?1"
            // A read-only look first, so a dispatcher woken after every ingest commit takes the
            // write lock only when something is due (otherwise each wake-up would contend with the
            // ingest writer for the lock and make it wait in the busy handler).
            if db.transactionDepth == 0,
                try db.query(
                    "SELECT 1 FROM remediations r WHERE (\(dueDispatch)) OR (\(dueRevert)) OR (\(expired)) LIMIT 1", [.integer(now.milliseconds)]
                ).isEmpty
            {
                return []
            }
            return try db.writeTransaction {
                try startDueReverts(config: config, at: now)
                let rows = try db.query(
                    """
                    SELECT \(Self.remediationColumns) FROM remediations r WHERE (\(dueDispatch)) OR (\(dueRevert))
                    ORDER BY coalesce(r.next_attempt_ms, 0), r.id LIMIT ?2
                    """, [.integer(now.milliseconds), .integer(Int64(max(1, limit)))])
                var claims: [DispatchClaim] = []
                let lease = now.adding(milliseconds: leaseMs)
                for row in rows {
                    var r = try remediation(from: row, depth: .row)
                    let kind: Attempt.Kind = r.state == .reverting ? .revert : .dispatch
                    let to = kind == .revert ? reverting : dispatching
                    let changed = try db.run(
                        """
                        UPDATE remediations SET state = ?, attempts = attempts + ?, claimed_by = ?, lease_until_ms = ?, updated_ms = ?
                        WHERE id = ? AND state = ? AND claimed_by IS NULL
                        """,
                        [
                            .text(to.rawValue), .integer(kind == .dispatch ? 1 : 0), .text(worker), .integer(lease.milliseconds),
                            .integer(now.milliseconds), .integer(r.id), .text(r.state.rawValue),
                        ])
                    guard changed == 1 else { continue }
                    try db.run(
                        "INSERT INTO attempts (remediation, started_ms, kind) VALUES (?, ?, ?)",
                        [.integer(r.id), .integer(now.milliseconds), .text(kind.rawValue)])
                    let attemptID = db.lastInsertRowID
                    let number =
                        try db.query(
                            "SELECT count(*) FROM attempts WHERE remediation = ? AND kind = ?", [.integer(r.id), .text(kind.rawValue)]
                        ).first?.int(0) ?? 1
                    r.state = to
                    if kind == .dispatch { r.attempts += 1 }
                    r.claim = Claim(worker: worker, leaseUntil: lease)
                    let request: Result<RenderedRequest, DispatchRefusal>
                    if kind == .revert {
                        request = r.revertRequest.map { .success($0) } ?? .failure(DispatchRefusal("no revert request was bound"))
                    } else {
                        request = try self.request(for: r, config: config)
                    }
                    claims.append(
                        DispatchClaim(
                            kind: kind, remediation: r, attempt: number, attemptID: attemptID, request: request,
                            claim: Claim(worker: worker, leaseUntil: lease)))
                }
                return claims
            }
        }
    }

    /// What a claimed remediation sends: the request bound at its approval, or the refusal bound
    /// then; for an approval recorded before requests were bound, rendered now with the same
    /// values — and refused the same way.
    private func request(for r: Remediation, config: GavelConfig) throws -> Result<RenderedRequest, DispatchRefusal> {
        if let bound = r.boundRequest { return .success(bound) }
        if let refusal = r.bindingRefusal { return .failure(refusal) }
        guard let action = config.actions[r.action] else {
            return .failure(DispatchRefusal("action '\(r.action)' is not in the configuration"))
        }
        let signal = try latestSignalReference(r.id)
        do {
            return .success(try r.request(action: action, signal: signal, decidedBy: r.decidedBy ?? ""))
        } catch {
            return .failure(error)
        }
    }

    @discardableResult
    public func finish(_ claim: DispatchClaim, _ report: AttemptReport, config: GavelConfig, at now: Timestamp) throws(StoreError) -> Bool {
        try storeCall {
            try db.writeTransaction {
                let event: RemediationEvent
                let outcome: Attempt.Outcome
                var next: SQLValue = .null
                switch report.result {
                case .dispatched:
                    event = .succeed
                    outcome = .success
                case .retry(let at):
                    event = .retryLater
                    outcome = .retry
                    next = .integer(at.milliseconds)
                case .failed:
                    event = .fail
                    outcome = .failed
                }
                let from: RemediationState = claim.kind == .revert ? .reverting : .dispatching
                let to = try RemediationLifecycle.next(from: from, on: event, by: .dispatcher)
                // What the attempt did is recorded even when the claim was lost meanwhile.
                try db.run(
                    "UPDATE attempts SET duration_ms = ?, status = ?, outcome = ?, error = ?, response = ?, stderr = ? WHERE id = ?",
                    [
                        .integer(Int64(report.durationMs)), .int(report.status), .text(outcome.rawValue), .text(report.error),
                        .text(report.response), .text(report.stderr), .integer(claim.attemptID),
                    ])
                var extra = ""
                var extraValues: [SQLValue] = []
                if claim.kind == .dispatch && to == .dispatched {
                    let r = claim.remediation
                    let duration = try inForceDuration(of: r, config: config, at: now)
                    extra = ", dispatched_ms = ?, duration_ms = ?, expires_ms = ?, dispatch_response = ?"
                    extraValues = [
                        .integer(now.milliseconds), duration.map { .integer($0) } ?? .null,
                        duration.map { .integer(now.adding(milliseconds: $0).milliseconds) } ?? .null, .text(report.response),
                    ]
                } else if claim.kind == .revert && to == .reverted {
                    extra = ", reverted_ms = ?, expires_ms = NULL"
                    extraValues = [.integer(now.milliseconds)]
                }
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = ?, last_status = ?, last_error = ?, next_attempt_ms = ?, claimed_by = NULL,
                        lease_until_ms = NULL, updated_ms = ?\(extra)
                    WHERE id = ? AND state = ? AND claimed_by = ?
                    """,
                    [.text(to.rawValue), .int(report.status), .text(report.error), next, .integer(now.milliseconds)] + extraValues + [
                        .integer(claim.id), .text(from.rawValue), .text(claim.claim.worker),
                    ])
                guard changed == 1 else { return false }
                if to == .dispatched || to == .reverted {
                    let r = claim.remediation
                    try queueTriage(
                        claim.id, event: to == .dispatched ? .dispatched : .reverted,
                        analyst: to == .dispatched ? (r.decidedBy ?? "") : (r.revertedBy ?? "gavel"), reason: r.revertReason, config: config,
                        at: now)
                }
                let what = claim.kind == .revert ? "revert attempt" : "attempt"
                let detail =
                    "\(what) \(claim.attempt): " + Attempt.resultText(status: report.status, error: report.error)
                let after = event == .retryLater ? "\(to.rawValue) (retry)" : to.rawValue
                try audit(
                    actor: "dispatcher", action: claim.kind == .revert ? "revert-dispatch" : "dispatch", subject: "remediation \(claim.id)",
                    before: from.rawValue, after: after, detail: detail, at: now)
                return true
            }
        }
    }

    /// How long a remediation stays in force from now (nil: permanent): the rule's or action's
    /// duration, else the sender's suggestion when the action can be reverted; escalated when the
    /// same (action, target) was in force before within the action's escalation window.
    func inForceDuration(of r: Remediation, config: GavelConfig, at now: Timestamp) throws -> Int64? {
        guard let action = config.actions[r.action], action.revert != nil, !action.irreversible else { return nil }
        let suggested = try db.query("SELECT suggested_duration_ms FROM remediations WHERE id = ?", [.integer(r.id)]).first?.int64(0)
        let ruleOverride = config.ruleConfig(ruleID: r.ruleKey, ruleName: r.ruleName)?.durations[r.action]
        let base: Int64? = ruleOverride ?? (action.durationMs ?? suggested)
        guard let escalation = action.escalation else { return base }
        let previous = try db.query(
            """
            SELECT dispatched_ms, duration_ms FROM remediations WHERE action = ? AND target = ? AND id != ? AND dispatched_ms IS NOT NULL
            ORDER BY dispatched_ms DESC LIMIT 1
            """, [.text(r.action), .text(r.target), .integer(r.id)]
        ).first.map { (since: Timestamp(milliseconds: $0.int64(0) ?? 0), durationMs: $0.int64(1)) }
        return escalation.duration(base: base, previous: previous, now: now)
    }

    public func withdrawClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                let to = try RemediationLifecycle.next(from: .dispatching, on: .withdraw, by: .brakes)
                try db.run(
                    "UPDATE attempts SET outcome = ?, error = ? WHERE id = ?",
                    [.text(Attempt.Outcome.withdrawn.rawValue), .text(reason), .integer(claim.attemptID)])
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = ?, decided_by = NULL, decided_ms = NULL, claimed_by = NULL, lease_until_ms = NULL,
                        bound_request = NULL, config_version = NULL, attempts = attempts - 1, next_attempt_ms = NULL, updated_ms = ?
                    WHERE id = ? AND state = 'dispatching' AND claimed_by = ?
                    """, [.text(to.rawValue), .integer(now.milliseconds), .integer(claim.id), .text(claim.claim.worker)])
                if changed == 1 {
                    try audit(
                        actor: "dispatcher", action: "withdraw", subject: "remediation \(claim.id)", before: "dispatching", after: to.rawValue,
                        detail: reason, at: now)
                }
            }
        }
    }

    public func suppressClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                let to = try RemediationLifecycle.next(from: .dispatching, on: .suppress, by: .allowlist)
                try db.run(
                    "UPDATE attempts SET outcome = ?, error = ? WHERE id = ?",
                    [.text(Attempt.Outcome.suppressed.rawValue), .text(reason), .integer(claim.attemptID)])
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = ?, reason = ?, claimed_by = NULL, lease_until_ms = NULL, updated_ms = ?
                    WHERE id = ? AND state = 'dispatching' AND claimed_by = ?
                    """, [.text(to.rawValue), .text(reason), .integer(now.milliseconds), .integer(claim.id), .text(claim.claim.worker)])
                if changed == 1 {
                    try audit(
                        actor: "dispatcher", action: "suppress", subject: "remediation \(claim.id)", before: "dispatching", after: to.rawValue,
                        detail: reason, at: now)
                }
            }
        }
    }

    @discardableResult
    public func recoverClaims(at now: Timestamp, isDead: (String) -> Bool, isIdempotent: (String) -> Bool) throws(StoreError) -> [Int64] {
        try storeCall {
            // Look first without the write lock: recovery runs every few seconds.
            let held = "(state = 'dispatching' OR (state = 'reverting' AND claimed_by IS NOT NULL))"
            if try db.query("SELECT id FROM remediations WHERE \(held) LIMIT 1").isEmpty { return [] }
            return try db.writeTransaction {
                var recovered: [Int64] = []
                for r in try db.query("SELECT id, action, claimed_by, lease_until_ms, state FROM remediations WHERE \(held)") {
                    guard let id = r.int64(0), let from = RemediationState(rawValue: r.string(4) ?? "") else { continue }
                    let holder = r.string(2) ?? ""
                    let leaseRanOut = r.int64(3).map { $0 < now.milliseconds } ?? false
                    guard leaseRanOut || isDead(holder) else { continue }
                    let idempotent = isIdempotent(r.string(1) ?? "")
                    let to = try RemediationLifecycle.next(from: from, on: idempotent ? .requeue : .abandon, by: .recovery)
                    let error: String? = idempotent ? nil : "interrupted; outcome unknown"
                    try db.run(
                        """
                        UPDATE remediations SET state = ?, last_error = coalesce(?, last_error), claimed_by = NULL, lease_until_ms = NULL,
                            updated_ms = ? WHERE id = ? AND state = ?
                        """, [.text(to.rawValue), .text(error), .integer(now.milliseconds), .integer(id), .text(from.rawValue)])
                    try db.run(
                        """
                        UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown'
                        WHERE remediation = ? AND outcome IS NULL AND kind != 'triage'
                        """,
                        [.integer(id)])
                    let why = leaseRanOut ? "the lease of \(holder) ran out" : "\(holder) is gone"
                    let what = from == .reverting ? "revert " : ""
                    try audit(
                        actor: "dispatcher", action: "recover", subject: "remediation \(id)", before: from.rawValue, after: to.rawValue,
                        detail: what + (idempotent ? "re-queued with the same idempotency key" : "interrupted; outcome unknown") + " (\(why))",
                        at: now)
                    recovered.append(id)
                }
                return recovered
            }
        }
    }
}
