import Foundation
import GavelCore

/// A remediation claimed for dispatch, with what its templates need.
public struct ClaimedRemediation: Sendable, Equatable {
    public var id: Int64
    public var action: String
    public var targetKind: TargetKind
    public var target: String
    public var ruleKey: String
    public var ruleName: String?
    public var idempotencyKey: String
    public var decidedBy: String?
    /// 1 for the first attempt.
    public var attempt: Int
    /// Row id in `attempts` of this attempt.
    public var attemptID: Int64
    /// The most recent signal's id, rule id and severity (template context).
    public var signalID: String?
    public var ruleID: String?
    public var severity: String?
}

/// How one dispatch attempt ended, in store terms.
public enum AttemptResult: Sendable, Equatable {
    case dispatched
    /// Retry at `nextAttemptMs`.
    case retry(nextAttemptMs: Int64)
    case failed
}

extension Database {
    /// Atomically claims the oldest approved remediation that is due: `approved` → `dispatching`,
    /// `attempts` + 1, an `attempts` row opened. Two processes never claim the same row
    /// (`BEGIN IMMEDIATE` serializes the claim). Returns nil when nothing is due.
    ///
    /// A read-only look comes first, so a dispatcher woken after every ingest commit takes the
    /// write lock only when something is due (otherwise each wake-up would contend with the
    /// ingest writer for the lock and make it wait in SQLite's busy handler).
    /// - Parameter worker: who claims (`host:pid`), recorded so crash recovery can tell live owners.
    public func claimNext(worker: String, nowMs: Int64 = Timestamp.nowMs()) throws -> ClaimedRemediation? {
        if transactionDepth == 0 {
            let due = try query(
                """
                SELECT 1 FROM remediations WHERE state = 'approved' AND (next_attempt_ms IS NULL OR next_attempt_ms <= ?) LIMIT 1
                """, [.integer(nowMs)])
            if due.isEmpty { return nil }
        }
        return try writeTransaction {
            guard
                let r = try query(
                    """
                    SELECT id, action, target_kind, target, rule_key, rule_name, idempotency_key, decided_by, attempts
                    FROM remediations WHERE state = 'approved' AND (next_attempt_ms IS NULL OR next_attempt_ms <= ?)
                    ORDER BY coalesce(next_attempt_ms, 0), id LIMIT 1
                    """, [.integer(nowMs)]
                ).first, let id = r.int64(0)
            else { return nil }
            try run(
                "UPDATE remediations SET state = 'dispatching', attempts = attempts + 1, claimed_by = ?, updated_ms = ? WHERE id = ? AND state = 'approved'",
                [.text(worker), .integer(nowMs), .integer(id)])
            try run("INSERT INTO attempts (remediation, started_ms) VALUES (?, ?)", [.integer(id), .integer(nowMs)])
            let attemptID = lastInsertRowID
            let signal = try latestSignal(ofRemediation: id)
            return ClaimedRemediation(
                id: id, action: r.string(1) ?? "", targetKind: TargetKind(rawValue: r.string(2) ?? "") ?? .signal,
                target: r.string(3) ?? "", ruleKey: r.string(4) ?? "", ruleName: r.string(5),
                idempotencyKey: r.string(6) ?? "", decidedBy: r.string(7), attempt: r.int(8) + 1,
                attemptID: attemptID, signalID: signal.signalID, ruleID: signal.ruleID, severity: signal.severity)
        }
    }

    /// The newest signal of a remediation: the values its templates render with
    /// (`{{signal_id}}`, `{{rule_id}}`, `{{severity}}`), for the dispatch and for its preview.
    public func latestSignal(ofRemediation id: Int64) throws -> (signalID: String?, ruleID: String?, severity: String?) {
        let signal = try query(
            """
            SELECT s.signal_id, s.rule_id, s.severity FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
            WHERE rs.remediation = ? ORDER BY s.id DESC LIMIT 1
            """, [.integer(id)]
        ).first
        return (signal?.string(0), signal?.string(1), signal?.string(2))
    }

    /// Records how an attempt ended and moves the remediation on: `dispatched`, back to
    /// `approved` with a retry time, or `failed`. Audited.
    public func finishAttempt(
        _ claim: ClaimedRemediation, result: AttemptResult, status: Int?, error: String?,
        response: String, durationMs: Int, nowMs: Int64 = Timestamp.nowMs()
    ) throws {
        try writeTransaction {
            let outcome: String
            let state: RemediationState
            var next: SQLValue = .null
            switch result {
            case .dispatched:
                outcome = "success"
                state = .dispatched
            case .retry(let at):
                outcome = "retry"
                state = .approved
                next = .integer(at)
            case .failed:
                outcome = "failed"
                state = .failed
            }
            try run(
                "UPDATE attempts SET duration_ms = ?, status = ?, outcome = ?, error = ?, response = ? WHERE id = ?",
                [.integer(Int64(durationMs)), .int(status), .text(outcome), .text(error), .text(response), .integer(claim.attemptID)])
            try run(
                """
                UPDATE remediations SET state = ?, last_status = ?, last_error = ?, next_attempt_ms = ?, claimed_by = NULL, updated_ms = ?
                WHERE id = ? AND state = 'dispatching'
                """, [.text(state.rawValue), .int(status), .text(error), next, .integer(nowMs), .integer(claim.id)])
            let detail = "attempt \(claim.attempt): " + (status.map { "status \($0)" } ?? "no status") + (error.map { ", \($0)" } ?? "")
            try audit(
                actor: "dispatcher", action: "dispatch", subject: "remediation \(claim.id)", before: "dispatching",
                after: state == .approved ? "approved (retry)" : state.rawValue, detail: detail, atMs: nowMs)
        }
    }

    /// After a crash: every `dispatching` remediation whose claimer is gone (`isAlive` false)
    /// is re-queued with the same idempotency key when its action is idempotent, and
    /// otherwise becomes `failed` with "interrupted; outcome unknown" (never re-sent by itself).
    /// - Returns: the ids recovered.
    @discardableResult
    public func recoverInterrupted(isIdempotent: (String) -> Bool, isAlive: (String) -> Bool, nowMs: Int64 = Timestamp.nowMs()) throws -> [Int64] {
        try writeTransaction {
            let rows = try query("SELECT id, action, claimed_by FROM remediations WHERE state = 'dispatching'")
            var recovered: [Int64] = []
            for r in rows {
                guard let id = r.int64(0), !isAlive(r.string(2) ?? "") else { continue }
                let action = r.string(1) ?? ""
                let idempotent = isIdempotent(action)
                let state: RemediationState = idempotent ? .approved : .failed
                let error: String? = idempotent ? nil : "interrupted; outcome unknown"
                try run(
                    "UPDATE remediations SET state = ?, last_error = coalesce(?, last_error), claimed_by = NULL, updated_ms = ? WHERE id = ?",
                    [.text(state.rawValue), .text(error), .integer(nowMs), .integer(id)])
                try run(
                    "UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown' WHERE remediation = ? AND outcome IS NULL",
                    [.integer(id)])
                try audit(
                    actor: "dispatcher", action: "recover", subject: "remediation \(id)", before: "dispatching", after: state.rawValue,
                    detail: idempotent ? "re-queued with the same idempotency key" : "interrupted; outcome unknown", atMs: nowMs)
                recovered.append(id)
            }
            return recovered
        }
    }

    /// Puts a claimed remediation back to `pending` for an analyst (its automatic approval is
    /// withdrawn), closing the attempt unsent. Audited.
    public func returnToPending(_ claim: ClaimedRemediation, reason: String, nowMs: Int64 = Timestamp.nowMs()) throws {
        try writeTransaction {
            try run("UPDATE attempts SET outcome = 'withdrawn', error = ? WHERE id = ?", [.text(reason), .integer(claim.attemptID)])
            try run(
                """
                UPDATE remediations SET state = 'pending', decided_by = NULL, decided_ms = NULL, claimed_by = NULL,
                    attempts = attempts - 1, next_attempt_ms = NULL, updated_ms = ? WHERE id = ? AND state = 'dispatching'
                """, [.integer(nowMs), .integer(claim.id)])
            try audit(
                actor: "dispatcher", action: "withdraw", subject: "remediation \(claim.id)", before: "dispatching", after: "pending",
                detail: reason, atMs: nowMs)
        }
    }

    /// Refuses, before dispatch, a claimed remediation whose target became allowlisted since
    /// it was proposed: it becomes `suppressed` with the entry as reason.
    public func suppressClaimed(_ claim: ClaimedRemediation, reason: String, nowMs: Int64 = Timestamp.nowMs()) throws {
        try writeTransaction {
            try run("UPDATE attempts SET outcome = 'suppressed', error = ? WHERE id = ?", [.text(reason), .integer(claim.attemptID)])
            try run(
                "UPDATE remediations SET state = 'suppressed', reason = ?, claimed_by = NULL, updated_ms = ? WHERE id = ? AND state = 'dispatching'",
                [.text(reason), .integer(nowMs), .integer(claim.id)])
            try audit(
                actor: "dispatcher", action: "suppress", subject: "remediation \(claim.id)", before: "dispatching", after: "suppressed",
                detail: reason, atMs: nowMs)
        }
    }
}
