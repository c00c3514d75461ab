import GavelCore
import GavelStore

/// The word back to Datadog on PostgreSQL (`TriageQueue`), with the SQLite engine's semantics:
/// updates queued in the transaction of the event they report, claimed with `FOR UPDATE SKIP
/// LOCKED` under a lease (reporters on several hosts take different updates and never wait for
/// each other), each try an attempt of kind `triage`.
extension PostgresStore {
    /// Queues one triage update per Datadog signal of remediation `id` for `event`, when the
    /// configuration maps the event to a change (in the caller's transaction). The body is bound
    /// now: it names the remediation and `analyst` as they are at the event.
    func queueTriage(_ id: Int64, event: TriageEvent, analyst: String, reason: String?, config: GavelConfig, at now: Timestamp) throws {
        guard let triage = config.datadogTriage, let change = triage.change(for: event) else { return }
        guard let r = try fetchRemediation(id, depth: .row) else { return }
        let values = [
            "remediation_id": String(r.id), "action": r.action, "target": r.target, "rule": r.ruleDisplayName, "analyst": analyst,
            "reason": reason ?? "",
        ]
        let body = change.body(values: values).compactText
        let signals = try db.query(
            """
            SELECT s.id, s.signal_id, s.source, s.flags FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
            WHERE rs.remediation = $1 AND s.source = 'datadog' ORDER BY rs.signal DESC
            """, [.integer(id)])
        var queued = 0
        for row in signals where queued < maxTriageSignalsPerEvent {
            let flags = pgStringArray(row.string(3)).compactMap(SignalFlag.init(rawValue:))
            guard let signal = row.int64(0), let signalID = row.string(1), DatadogTriageConfig.canUpdate(source: row.string(2) ?? "", flags: flags)
            else { continue }
            try db.run(
                """
                INSERT INTO triage_updates (remediation, signal, signal_id, event, change, body, state, created_ms, updated_ms)
                VALUES ($1,$2,$3,$4,$5,$6,'queued',$7,$7)
                """,
                [
                    .integer(id), .integer(signal), .text(signalID), .text(event.rawValue), .text(change.summary), .text(body),
                    .integer(now.milliseconds),
                ])
            queued += 1
        }
        if queued > 0 { try announce("triage") }
    }

    static let triageColumns = """
        t.id, t.remediation, t.signal_id, t.event, t.change, t.body, t.state, t.attempts, t.next_attempt_ms, t.last_status, t.last_error,
        t.created_ms, t.updated_ms
        """

    /// Maps one `triageColumns` row to a `TriageUpdate`.
    static func triageUpdate(from r: PGRow) -> TriageUpdate {
        TriageUpdate(
            id: r.int64(0) ?? 0, remediationID: r.int64(1) ?? 0, signalID: r.string(2) ?? "",
            event: TriageEvent(rawValue: r.string(3) ?? "") ?? .dispatched, change: r.string(4) ?? "", body: r.string(5) ?? "",
            state: TriageUpdateState(rawValue: r.string(6) ?? "") ?? .queued, attempts: r.int(7),
            nextAttemptAt: r.int64(8).map(Timestamp.init(milliseconds:)), lastStatus: r.int64(9).map { Int($0) }, lastError: r.string(10),
            createdAt: Timestamp(milliseconds: r.int64(11) ?? 0), updatedAt: Timestamp(milliseconds: r.int64(12) ?? 0))
    }

    public func claimTriageUpdates(worker: String, limit: Int, leaseMs: Int64, at now: Timestamp) throws(StoreError) -> [TriageClaim] {
        try pgCall {
            let due = """
                (t.state = 'queued' AND (t.next_attempt_ms IS NULL OR t.next_attempt_ms <= $1))
                OR (t.state = 'sending' AND t.lease_until_ms < $1)
                """
            // A plain look first: the reporter looks every few hundred milliseconds.
            if db.transactionDepth == 0, try db.query("SELECT 1 FROM triage_updates t WHERE \(due) LIMIT 1", [.integer(now.milliseconds)]).isEmpty {
                return []
            }
            return try transaction {
                let rows = try db.query(
                    """
                    SELECT \(Self.triageColumns) FROM triage_updates t WHERE \(due)
                    ORDER BY coalesce(t.next_attempt_ms, 0), t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED
                    """, [.integer(now.milliseconds), .int(max(1, limit))])
                let lease = now.adding(milliseconds: leaseMs)
                var claims: [TriageClaim] = []
                for row in rows {
                    var update = Self.triageUpdate(from: row)
                    try db.run(
                        """
                        UPDATE triage_updates SET state = 'sending', attempts = attempts + 1, claimed_by = $1, lease_until_ms = $2, updated_ms = $3
                        WHERE id = $4
                        """, [.text(worker), .integer(lease.milliseconds), .integer(now.milliseconds), .integer(update.id)])
                    if update.state == .sending {
                        // Its sender's lease ran out mid-attempt: what that attempt did is unknown.
                        try db.run(
                            "UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown' WHERE triage = $1 AND outcome IS NULL",
                            [.integer(update.id)])
                    }
                    let attemptID =
                        try db.query(
                            "INSERT INTO attempts (remediation, started_ms, kind, triage) VALUES ($1, $2, 'triage', $3) RETURNING id",
                            [.integer(update.remediationID), .integer(now.milliseconds), .integer(update.id)]
                        ).first?.int64(0) ?? 0
                    update.state = .sending
                    update.attempts += 1
                    claims.append(
                        TriageClaim(update: update, attempt: update.attempts, attemptID: attemptID, claim: Claim(worker: worker, leaseUntil: lease)))
                }
                return claims
            }
        }
    }

    @discardableResult
    public func finishTriageUpdate(_ claim: TriageClaim, _ report: AttemptReport, at now: Timestamp) throws(StoreError) -> Bool {
        try pgCall {
            try transaction {
                let state: TriageUpdateState
                let outcome: Attempt.Outcome
                var next: PGValue = .null
                switch report.result {
                case .dispatched:
                    state = .sent
                    outcome = .success
                case .retry(let at):
                    state = .queued
                    outcome = .retry
                    next = .integer(at.milliseconds)
                case .failed:
                    state = .failed
                    outcome = .failed
                }
                // What the attempt did is recorded even when the claim was lost meanwhile.
                try db.run(
                    "UPDATE attempts SET duration_ms = $1, status = $2, outcome = $3, error = $4, response = $5 WHERE id = $6",
                    [
                        .int(report.durationMs), .int(report.status), .text(outcome.rawValue), .text(report.error), .text(report.response),
                        .integer(claim.attemptID),
                    ])
                let changed = try db.run(
                    """
                    UPDATE triage_updates SET state = $1, next_attempt_ms = $2, last_status = $3, last_error = $4, claimed_by = NULL,
                        lease_until_ms = NULL, updated_ms = $5
                    WHERE id = $6 AND state = 'sending' AND claimed_by = $7
                    """,
                    [
                        .text(state.rawValue), next, .int(report.status), .text(report.error), .integer(now.milliseconds), .integer(claim.update.id),
                        .text(claim.claim.worker),
                    ])
                guard changed == 1 else { return false }
                if state != .queued {
                    let detail =
                        "Datadog signal \(claim.update.signalID) → \(claim.update.change) (\(claim.update.event.rawValue)), attempt \(claim.attempt): "
                        + (report.status.map { "status \($0)" } ?? "no status") + (report.error.map { ", \($0)" } ?? "")
                    try audit(
                        actor: "dispatcher", action: "triage", subject: "remediation \(claim.update.remediationID)", after: state.rawValue,
                        detail: detail, at: now)
                }
                return true
            }
        }
    }

    public func triageUpdates(ofRemediation id: Int64) throws(StoreError) -> [TriageUpdate] {
        try pgCall {
            try db.query("SELECT \(Self.triageColumns) FROM triage_updates t WHERE t.remediation = $1 ORDER BY t.id", [.integer(id)])
                .map(Self.triageUpdate(from:))
        }
    }
}
