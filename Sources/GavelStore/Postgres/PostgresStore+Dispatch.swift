import GavelCore
import GavelStore

extension PostgresStore {
    /// Claims due remediations with `SELECT … FOR UPDATE SKIP LOCKED`: dispatchers on several
    /// hosts each take different rows in one round trip and never wait for each other.
    public func claimDue(worker: String, limit: Int, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    {
        try pgCall {
            let from = RemediationState.approved
            let to = try RemediationLifecycle.next(from: from, on: .claim, by: .dispatcher)
            let due = "r.state = $1 AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= $2)"
            // A plain look first, so a dispatcher woken by every change opens no transaction when nothing is due.
            if db.transactionDepth == 0,
                try db.query("SELECT 1 FROM remediations r WHERE \(due) LIMIT 1", [.text(from.rawValue), .integer(now.milliseconds)]).isEmpty
            {
                return []
            }
            return try db.transaction {
                let rows = try db.query(
                    """
                    SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE \(due)
                    ORDER BY coalesce(r.next_attempt_ms, 0), r.id LIMIT $3 FOR UPDATE OF r SKIP LOCKED
                    """, [.text(from.rawValue), .integer(now.milliseconds), .int(max(1, limit))])
                var claims: [DispatchClaim] = []
                let lease = now.adding(milliseconds: leaseMs)
                for row in rows {
                    var r = Self.remediation(from: row)
                    let changed = try db.run(
                        """
                        UPDATE remediations SET state = $1, attempts = attempts + 1, claimed_by = $2, lease_until_ms = $3, updated_ms = $4
                        WHERE id = $5 AND state = $6
                        """,
                        [
                            .text(to.rawValue), .text(worker), .integer(lease.milliseconds), .integer(now.milliseconds), .integer(r.id),
                            .text(from.rawValue),
                        ])
                    guard changed == 1 else { continue }
                    let attemptID =
                        try db.query(
                            "INSERT INTO attempts (remediation, started_ms) VALUES ($1, $2) RETURNING id",
                            [.integer(r.id), .integer(now.milliseconds)]
                        ).first?.int64(0) ?? 0
                    r.state = to
                    r.attempts += 1
                    r.claim = Claim(worker: worker, leaseUntil: lease)
                    claims.append(
                        DispatchClaim(
                            remediation: r, attempt: r.attempts, attemptID: attemptID, request: try request(for: r, config: config),
                            claim: Claim(worker: worker, leaseUntil: lease)))
                }
                if !claims.isEmpty { try announce("dispatch") }
                return claims
            }
        }
    }

    /// What a claimed remediation sends: the request bound at its approval; for an approval
    /// recorded before requests were bound (or one that could not be rendered then), rendered now
    /// with the same values — and refused the same way.
    private func request(for r: Remediation, config: GavelConfig) throws -> Result<RenderedRequest, DispatchRefusal> {
        if let bound = r.boundRequest { return .success(bound) }
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
    public func finish(_ claim: DispatchClaim, _ report: AttemptReport, at now: Timestamp) throws(StoreError) -> Bool {
        try pgCall {
            try db.transaction {
                let event: RemediationEvent
                let outcome: Attempt.Outcome
                var next: PGValue = .null
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
                let from = RemediationState.dispatching
                let to = try RemediationLifecycle.next(from: from, on: event, by: .dispatcher)
                // What the attempt did is recorded even when the claim was lost meanwhile.
                try db.run(
                    "UPDATE attempts SET duration_ms = $1, status = $2, outcome = $3, error = $4, response = $5 WHERE id = $6",
                    [
                        .int(report.durationMs), .int(report.status), .text(outcome.rawValue), .text(report.error), .text(report.response),
                        .integer(claim.attemptID),
                    ])
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = $1, last_status = $2, last_error = $3, next_attempt_ms = $4, claimed_by = NULL,
                        lease_until_ms = NULL, updated_ms = $5
                    WHERE id = $6 AND state = $7 AND claimed_by = $8
                    """,
                    [
                        .text(to.rawValue), .int(report.status), .text(report.error), next, .integer(now.milliseconds), .integer(claim.id),
                        .text(from.rawValue), .text(claim.claim.worker),
                    ])
                guard changed == 1 else { return false }
                let detail =
                    "attempt \(claim.attempt): " + (report.status.map { "status \($0)" } ?? "no status") + (report.error.map { ", \($0)" } ?? "")
                try audit(
                    actor: "dispatcher", action: "dispatch", subject: "remediation \(claim.id)", before: from.rawValue,
                    after: to == .approved ? "approved (retry)" : to.rawValue, detail: detail, at: now)
                try announce(to == .approved ? "approved" : "dispatch")
                return true
            }
        }
    }

    public func withdrawClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError) {
        try pgCall {
            try db.transaction {
                let to = try RemediationLifecycle.next(from: .dispatching, on: .withdraw, by: .brakes)
                try db.run(
                    "UPDATE attempts SET outcome = $1, error = $2 WHERE id = $3",
                    [.text(Attempt.Outcome.withdrawn.rawValue), .text(reason), .integer(claim.attemptID)])
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = $1, decided_by = NULL, decided_ms = NULL, claimed_by = NULL, lease_until_ms = NULL,
                        bound_request = NULL, config_version = NULL, attempts = attempts - 1, next_attempt_ms = NULL, updated_ms = $2
                    WHERE id = $3 AND state = 'dispatching' AND claimed_by = $4
                    """, [.text(to.rawValue), .integer(now.milliseconds), .integer(claim.id), .text(claim.claim.worker)])
                if changed == 1 {
                    try audit(
                        actor: "dispatcher", action: "withdraw", subject: "remediation \(claim.id)", before: "dispatching", after: to.rawValue,
                        detail: reason, at: now)
                    try announce("dispatch")
                }
            }
        }
    }

    public func suppressClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError) {
        try pgCall {
            try db.transaction {
                let to = try RemediationLifecycle.next(from: .dispatching, on: .suppress, by: .allowlist)
                try db.run(
                    "UPDATE attempts SET outcome = $1, error = $2 WHERE id = $3",
                    [.text(Attempt.Outcome.suppressed.rawValue), .text(reason), .integer(claim.attemptID)])
                let changed = try db.run(
                    """
                    UPDATE remediations SET state = $1, reason = $2, claimed_by = NULL, lease_until_ms = NULL, updated_ms = $3
                    WHERE id = $4 AND state = 'dispatching' AND claimed_by = $5
                    """, [.text(to.rawValue), .text(reason), .integer(now.milliseconds), .integer(claim.id), .text(claim.claim.worker)])
                if changed == 1 {
                    try audit(
                        actor: "dispatcher", action: "suppress", subject: "remediation \(claim.id)", before: "dispatching", after: to.rawValue,
                        detail: reason, at: now)
                    try announce("dispatch")
                }
            }
        }
    }

    /// Recovers claims whose lease ran out or whose holder is gone; rows another dispatcher is
    /// finishing right now are locked and skipped (`SKIP LOCKED`). Also folds the count deltas
    /// (it runs every few seconds in every dispatcher).
    @discardableResult
    public func recoverClaims(at now: Timestamp, isDead: (String) -> Bool, isIdempotent: (String) -> Bool) throws(StoreError) -> [Int64] {
        try pgCall {
            try foldCounts()
            let candidates = try db.query("SELECT id FROM remediations WHERE state = 'dispatching' LIMIT 1")
            if candidates.isEmpty { return [] }
            return try db.transaction {
                var recovered: [Int64] = []
                for r in try db.query(
                    "SELECT id, action, claimed_by, lease_until_ms FROM remediations WHERE state = 'dispatching' ORDER BY id FOR UPDATE SKIP LOCKED")
                {
                    guard let id = r.int64(0) else { continue }
                    let holder = r.string(2) ?? ""
                    let leaseRanOut = r.int64(3).map { $0 < now.milliseconds } ?? false
                    guard leaseRanOut || isDead(holder) else { continue }
                    let idempotent = isIdempotent(r.string(1) ?? "")
                    let to = try RemediationLifecycle.next(from: .dispatching, on: idempotent ? .requeue : .abandon, by: .recovery)
                    let error: String? = idempotent ? nil : "interrupted; outcome unknown"
                    try db.run(
                        """
                        UPDATE remediations SET state = $1, last_error = coalesce($2, last_error), claimed_by = NULL, lease_until_ms = NULL,
                            updated_ms = $3 WHERE id = $4 AND state = 'dispatching'
                        """, [.text(to.rawValue), .text(error), .integer(now.milliseconds), .integer(id)])
                    try db.run(
                        "UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown' WHERE remediation = $1 AND outcome IS NULL",
                        [.integer(id)])
                    let why = leaseRanOut ? "the lease of \(holder) ran out" : "\(holder) is gone"
                    try audit(
                        actor: "dispatcher", action: "recover", subject: "remediation \(id)", before: "dispatching", after: to.rawValue,
                        detail: (idempotent ? "re-queued with the same idempotency key" : "interrupted; outcome unknown") + " (\(why))", at: now)
                    recovered.append(id)
                }
                if !recovered.isEmpty { try announce("approved") }
                return recovered
            }
        }
    }
}
