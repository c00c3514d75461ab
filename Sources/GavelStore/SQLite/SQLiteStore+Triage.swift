import GavelCore
import GavelStore

/// The word back to Datadog on SQLite (`TriageQueue`): updates queued in the transaction of the
/// event they report, claimed under a lease, each try an attempt of kind `triage`.
extension SQLiteStore {
    /// Queues one triage update per Datadog signal of remediation `id` for `event`, when the
    /// configuration maps the event to a change (in the caller's write transaction). The body is
    /// bound now: it names the remediation and `analyst` as they are at the event.
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
            WHERE rs.remediation = ? AND s.source = 'datadog' ORDER BY rs.signal DESC
            """, [.integer(id)])
        var queued = 0
        for row in signals where queued < maxTriageSignalsPerEvent {
            let flags = stringArray(row.string(3)).compactMap(SignalFlag.init(rawValue:))
            guard let signalID = row.string(1), DatadogTriageConfig.canUpdate(source: row.string(2) ?? "", flags: flags) else { continue }
            try db.run(
                """
                INSERT INTO triage_updates (remediation, signal, signal_id, event, change, body, state, created_ms, updated_ms)
                VALUES (?,?,?,?,?,?,'queued',?,?)
                """,
                [
                    .integer(id), row[0], .text(signalID), .text(event.rawValue), .text(change.summary), .text(body), .integer(now.milliseconds),
                    .integer(now.milliseconds),
                ])
            queued += 1
        }
    }

    static let triageColumns = """
        t.id, t.remediation, t.signal_id, t.event, t.change, t.body, t.state, t.attempts, t.next_attempt_ms, t.last_status, t.last_error,
        t.created_ms, t.updated_ms
        """

    /// Maps one `triageColumns` row to a `TriageUpdate`.
    static func triageUpdate(from r: Row) -> TriageUpdate {
        TriageUpdate(
            id: r.int64(0) ?? 0, remediationID: r.int64(1) ?? 0, signalID: r.string(2) ?? "",
            event: TriageEvent(rawValue: r.string(3) ?? "") ?? .dispatched, change: r.string(4) ?? "", body: r.string(5) ?? "",
            state: TriageUpdateState(rawValue: r.string(6) ?? "") ?? .queued, attempts: r.int(7),
            nextAttemptAt: r.int64(8).map(Timestamp.init(milliseconds:)), lastStatus: r.int64(9).map { Int($0) }, lastError: r.string(10),
            createdAt: Timestamp(milliseconds: r.int64(11) ?? 0), updatedAt: Timestamp(milliseconds: r.int64(12) ?? 0))
    }

    public func claimTriageUpdates(worker: String, limit: Int, leaseMs: Int64, at now: Timestamp) throws(StoreError) -> [TriageClaim] {
        try storeCall {
            let due = """
                (t.state = 'queued' AND (t.next_attempt_ms IS NULL OR t.next_attempt_ms <= ?1))
                OR (t.state = 'sending' AND t.lease_until_ms < ?1)
                """
            // A read-only look first: the reporter looks every few hundred milliseconds.
            if db.transactionDepth == 0, try db.query("SELECT 1 FROM triage_updates t WHERE \(due) LIMIT 1", [.integer(now.milliseconds)]).isEmpty {
                return []
            }
            return try db.writeTransaction {
                let rows = try db.query(
                    "SELECT \(Self.triageColumns), t.claimed_by FROM triage_updates t WHERE \(due) ORDER BY coalesce(t.next_attempt_ms, 0), t.id LIMIT ?2",
                    [.integer(now.milliseconds), .integer(Int64(max(1, limit)))])
                let lease = now.adding(milliseconds: leaseMs)
                var claims: [TriageClaim] = []
                for row in rows {
                    var update = Self.triageUpdate(from: row)
                    let changed = try db.run(
                        """
                        UPDATE triage_updates SET state = 'sending', attempts = attempts + 1, claimed_by = ?, lease_until_ms = ?, updated_ms = ?
                        WHERE id = ? AND state = ? AND coalesce(claimed_by, '') = ?
                        """,
                        [
                            .text(worker), .integer(lease.milliseconds), .integer(now.milliseconds), .integer(update.id),
                            .text(update.state.rawValue), .text(row.string(13) ?? ""),
                        ])
                    guard changed == 1 else { continue }
                    if update.state == .sending {
                        // Its sender's lease ran out mid-attempt: what that attempt did is unknown.
                        try db.run(
                            "UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown' WHERE triage = ? AND outcome IS NULL",
                            [.integer(update.id)])
                    }
                    try db.run(
                        "INSERT INTO attempts (remediation, started_ms, kind, triage) VALUES (?, ?, 'triage', ?)",
                        [.integer(update.remediationID), .integer(now.milliseconds), .integer(update.id)])
                    let attemptID = db.lastInsertRowID
                    update.state = .sending
                    update.attempts += 1
                    let holder = Claim(worker: worker, leaseUntil: lease)
                    claims.append(TriageClaim(update: update, attempt: update.attempts, attemptID: attemptID, claim: holder))
                }
                return claims
            }
        }
    }

    @discardableResult
    public func finishTriageUpdate(_ claim: TriageClaim, _ report: AttemptReport, at now: Timestamp) throws(StoreError) -> Bool {
        try storeCall {
            try db.writeTransaction {
                let state: TriageUpdateState
                let outcome: Attempt.Outcome
                var next: SQLValue = .null
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
                try db.run(
                    "UPDATE attempts SET duration_ms = ?, status = ?, outcome = ?, error = ?, response = ? WHERE id = ?",
                    [
                        .integer(Int64(report.durationMs)), .int(report.status), .text(outcome.rawValue), .text(report.error), .text(report.response),
                        .integer(claim.attemptID),
                    ])
                let changed = try db.run(
                    """
                    UPDATE triage_updates SET state = ?, next_attempt_ms = ?, last_status = ?, last_error = ?, claimed_by = NULL,
                        lease_until_ms = NULL, updated_ms = ?
                    WHERE id = ? AND state = 'sending' AND claimed_by = ?
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
        try storeCall {
            try db.query("SELECT \(Self.triageColumns) FROM triage_updates t WHERE t.remediation = ? ORDER BY t.id", [.integer(id)])
                .map(Self.triageUpdate(from:))
        }
    }
}
