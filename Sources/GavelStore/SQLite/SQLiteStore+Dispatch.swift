import GavelCore
import GavelStore

extension SQLiteStore {
    public func claimDue(worker: String, quota: ClaimQuota, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    {
        try storeCall {
            let expired = "r.state = 'dispatched' AND r.expires_ms <= ?1"
            // A read-only look first, so a dispatcher woken after every ingest commit takes the
            // write lock only when something is due (otherwise each wake-up would contend with the
            // ingest writer for the lock and make it wait in the busy handler).
            // Each probe walks one index range (an OR of the three would scan the table).
            if db.transactionDepth == 0,
                try [Self.dueDispatch, Self.dueRevert, expired].allSatisfy({
                    try db.query("SELECT 1 FROM remediations r WHERE \($0) LIMIT 1", [.integer(now.milliseconds)]).isEmpty
                })
            {
                return []
            }
            return try db.writeTransaction {
                try startDueReverts(config: config, at: now)
                var claims: [DispatchClaim] = []
                let lease = Claim(worker: worker, leaseUntil: now.adding(milliseconds: leaseMs))
                let named = quota.actions.keys.sorted()
                for action in named {
                    guard let n = quota.actions[action], n > 0 else { continue }
                    claims += try claimRows(where: "r.action = ?3", [.text(action)], limit: n, lease: lease, config: config, at: now)
                }
                if quota.others > 0 {
                    let others = named.isEmpty ? "1" : "r.action NOT IN (" + named.indices.map { "?\($0 + 3)" }.joined(separator: ",") + ")"
                    claims += try claimRows(where: others, named.map { .text($0) }, limit: quota.others, lease: lease, config: config, at: now)
                }
                return claims
            }
        }
    }

    /// An approved remediation due at `?1`.
    static let dueDispatch = "r.state = 'approved' AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= ?1)"
    /// A revert queued and due at `?1`, not held by a dispatcher.
    static let dueRevert = "r.state = 'reverting' AND r.claimed_by IS NULL AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= ?1)"

    /// Claims up to `limit` due rows matching `filter` (its values numbered from `?3`): dispatches,
    /// then reverts; of each, the members of batches waiting to go again first (by batch, so a batch's
    /// members come together), then the oldest due (`remediations_due`).
    private func claimRows(where filter: String, _ values: [SQLValue], limit: Int, lease: Claim, config: GavelConfig, at now: Timestamp) throws
        -> [DispatchClaim]
    {
        var rows: [Row] = []
        for due in [Self.dueDispatch, Self.dueRevert] {
            for (keyed, order) in [("r.batch_key IS NOT NULL", "r.batch_key, r.id"), ("r.batch_key IS NULL", "r.next_attempt_ms, r.id")] {
                guard rows.count < limit else { break }
                rows += try db.query(
                    "SELECT \(Self.remediationColumns) FROM remediations r WHERE \(due) AND \(filter) AND \(keyed) ORDER BY \(order) LIMIT ?2",
                    [.integer(now.milliseconds), .integer(Int64(limit - rows.count))] + values)
            }
        }
        let remediations = try rows.map { try remediation(from: $0, depth: .bare) }
        // One statement per kind for every row: `approved` → `dispatching`, a revert stays `reverting`
        // (held), each with its attempt opened; rows another dispatcher took meanwhile drop out.
        var taken: [Int64: (attemptID: Int64, number: Int)] = [:]
        for kind in [Attempt.Kind.dispatch, .revert] {
            let from: RemediationState = kind == .revert ? .reverting : .approved
            let ids = remediations.filter { $0.state == from }.map(\.id)
            guard !ids.isEmpty else { continue }
            let to = try RemediationLifecycle.next(from: from, on: .claim, by: .dispatcher)
            let changed = try db.query(
                """
                UPDATE remediations SET state = ?, attempts = attempts + ?, claimed_by = ?, lease_until_ms = ?, updated_ms = ?
                WHERE id IN (SELECT value FROM json_each(?)) AND state = ? AND claimed_by IS NULL RETURNING id
                """,
                [
                    .text(to.rawValue), .integer(kind == .dispatch ? 1 : 0), .text(lease.worker), .integer(lease.leaseUntil?.milliseconds ?? 0),
                    .integer(now.milliseconds), .ids(ids), .text(from.rawValue),
                ]
            ).compactMap { $0.int64(0) }
            guard !changed.isEmpty else { continue }
            let opened = try db.query(
                "INSERT INTO attempts (remediation, started_ms, kind) SELECT value, ?, ? FROM json_each(?) RETURNING id, remediation",
                [.integer(now.milliseconds), .text(kind.rawValue), .ids(changed)])
            var numbers: [Int64: Int] = [:]
            for row in try db.query(
                "SELECT remediation, count(*) FROM attempts WHERE remediation IN (SELECT value FROM json_each(?)) AND kind = ? GROUP BY remediation",
                [.ids(changed), .text(kind.rawValue)])
            {
                if let id = row.int64(0) { numbers[id] = row.int(1) }
            }
            for row in opened {
                if let attemptID = row.int64(0), let id = row.int64(1) { taken[id] = (attemptID, numbers[id] ?? 1) }
            }
        }
        var claims: [DispatchClaim] = []
        claims.reserveCapacity(taken.count)
        for var r in remediations {
            guard let (attemptID, number) = taken[r.id] else { continue }
            let kind: Attempt.Kind = r.state == .reverting ? .revert : .dispatch
            r.state = try RemediationLifecycle.next(from: r.state, on: .claim, by: .dispatcher)
            if kind == .dispatch { r.attempts += 1 }
            r.claim = lease
            let request: Result<RenderedRequest, DispatchRefusal>
            if kind == .revert {
                request = r.revertRequest.map { .success($0) } ?? .failure(DispatchRefusal("no revert request was bound"))
            } else {
                request = try self.request(for: r, config: config)
            }
            claims.append(DispatchClaim(kind: kind, remediation: r, attempt: number, attemptID: attemptID, request: request, claim: lease))
        }
        return claims
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
    public func finish(_ attempts: [FinishedAttempt], config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Bool] {
        try storeCall {
            try db.writeTransaction { try finishAll(attempts, config: config, at: now) }
        }
    }

    /// One remediation update shared by several attempts: its SQL and values, without the ids.
    private struct Move: Hashable {
        var sql: String
        var values: [SQLValue]
        var from: RemediationState
        var worker: String
    }

    /// Records attempts' outcomes in the caller's write transaction (see `finish(_:config:at:)`): each
    /// attempt row alone, then the remediations in one statement per distinct change (a batch's
    /// members, or many successes, share one), then one audit entry each.
    private func finishAll(_ attempts: [FinishedAttempt], config: GavelConfig, at now: Timestamp) throws -> [Bool] {
        var moves: [Move: [Int64]] = [:]
        var attemptMoves: [[SQLValue]: [Int64]] = [:]
        var events: [RemediationEvent] = []
        events.reserveCapacity(attempts.count)
        for attempt in attempts {
            let (claim, report) = (attempt.claim, attempt.report)
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
            events.append(event)
            let from: RemediationState = claim.kind == .revert ? .reverting : .dispatching
            let to = try RemediationLifecycle.next(from: from, on: event, by: .dispatcher)
            // What the attempt did is recorded even when the claim was lost meanwhile (a batch's
            // members share one statement).
            attemptMoves[
                [
                    .integer(Int64(report.durationMs)), .int(report.status), .text(outcome.rawValue), .text(report.error), .text(report.response),
                    .text(report.batchKey), .text(report.stderr),
                ], default: []
            ].append(claim.attemptID)
            var extra = ""
            var extraValues: [SQLValue] = []
            if claim.kind == .dispatch && to == .dispatched {
                let duration = try inForceDuration(of: claim.remediation, config: config, at: now)
                extra = ", dispatched_ms = ?, duration_ms = ?, expires_ms = ?, dispatch_response = ?"
                extraValues = [
                    .integer(now.milliseconds), duration.map { .integer($0) } ?? .null,
                    duration.map { .integer(now.adding(milliseconds: $0).milliseconds) } ?? .null, .text(report.response),
                ]
            } else if claim.kind == .revert && to == .reverted {
                extra = ", reverted_ms = ?, expires_ms = NULL"
                extraValues = [.integer(now.milliseconds)]
            }
            // A retry keeps the batch, so its members are claimed and sent again together.
            let batch: SQLValue = event == .retryLater ? .text(report.batchKey) : .null
            let move = Move(
                sql: """
                    UPDATE remediations SET state = ?, last_status = ?, last_error = ?, next_attempt_ms = ?, claimed_by = NULL,
                        lease_until_ms = NULL, updated_ms = ?, batch_key = ?\(extra)
                    WHERE id IN (SELECT value FROM json_each(?)) AND state = ? AND claimed_by = ? RETURNING id
                    """,
                values: [.text(to.rawValue), .int(report.status), .text(report.error), next, .integer(now.milliseconds), batch] + extraValues,
                from: from, worker: claim.claim.worker)
            moves[move, default: []].append(claim.id)
        }
        for (values, ids) in attemptMoves {
            try db.run(
                """
                UPDATE attempts SET duration_ms = ?, status = ?, outcome = ?, error = ?, response = ?, batch_key = ?, stderr = ?
                WHERE id IN (SELECT value FROM json_each(?))
                """, values + [.ids(ids)])
        }
        var moved: Set<Int64> = []
        for (move, ids) in moves {
            for row in try db.query(move.sql, move.values + [.ids(ids), .text(move.from.rawValue), .text(move.worker)]) {
                if let id = row.int64(0) { moved.insert(id) }
            }
        }
        var entries: [AuditEntry] = []
        var recorded: [Bool] = []
        recorded.reserveCapacity(attempts.count)
        for (attempt, event) in zip(attempts, events) {
            let (claim, report) = (attempt.claim, attempt.report)
            guard moved.remove(claim.id) != nil else {
                recorded.append(false)
                continue
            }
            recorded.append(true)
            let from: RemediationState = claim.kind == .revert ? .reverting : .dispatching
            let to = try RemediationLifecycle.next(from: from, on: event, by: .dispatcher)
            let what =
                (claim.kind == .revert ? "revert attempt" : "attempt") + " \(claim.attempt)" + (report.batchKey.map { " in batch \($0)" } ?? "")
            let detail = "\(what): " + Attempt.resultText(status: report.status, error: report.error)
            if to == .dispatched || to == .reverted {
                let r = claim.remediation
                try queueTriage(
                    claim.id, event: to == .dispatched ? .dispatched : .reverted,
                    analyst: to == .dispatched ? (r.decidedBy ?? "") : (r.revertedBy ?? "gavel"), reason: r.revertReason, config: config, at: now)
            }
            entries.append(
                AuditEntry(
                    id: 0, at: now, actor: "dispatcher", action: claim.kind == .revert ? "revert-dispatch" : "dispatch",
                    subject: "remediation \(claim.id)", before: from.rawValue, after: event == .retryLater ? "\(to.rawValue) (retry)" : to.rawValue,
                    detail: detail))
        }
        try audit(entries)
        return recorded
    }

    public func recordBatches(_ batches: [(key: String, claims: [DispatchClaim])], at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                for (key, claims) in batches {
                    try recordBatch(claims, key: key)
                }
            }
        }
    }

    private func recordBatch(_ claims: [DispatchClaim], key: String) throws {
        for (from, group) in Self.byHeldState(claims) {
            let changed = Set(
                try db.query(
                    "UPDATE remediations SET batch_key = ? WHERE id IN (SELECT value FROM json_each(?)) AND state = ? AND claimed_by = ? RETURNING id",
                    [.text(key), .ids(group.map(\.id)), .text(from.state.rawValue), .text(from.worker)]
                ).compactMap { $0.int64(0) })
            let attempts = group.filter { changed.contains($0.id) }.map(\.attemptID)
            if !attempts.isEmpty {
                try db.run("UPDATE attempts SET batch_key = ? WHERE id IN (SELECT value FROM json_each(?))", [.text(key), .ids(attempts)])
            }
        }
    }

    public func releaseClaims(_ claims: [DispatchClaim], at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                for (from, group) in Self.byHeldState(claims) {
                    let to = try RemediationLifecycle.next(from: from.state, on: .release, by: .dispatcher)
                    let changed = Set(
                        try db.query(
                            """
                            UPDATE remediations SET state = ?, attempts = attempts - ?, claimed_by = NULL, lease_until_ms = NULL, updated_ms = ?
                            WHERE id IN (SELECT value FROM json_each(?)) AND state = ? AND claimed_by = ? RETURNING id
                            """,
                            [
                                .text(to.rawValue), .integer(from.state == .dispatching ? 1 : 0), .integer(now.milliseconds), .ids(group.map(\.id)),
                                .text(from.state.rawValue), .text(from.worker),
                            ]
                        ).compactMap { $0.int64(0) })
                    let attempts = group.filter { changed.contains($0.id) }.map(\.attemptID)
                    if !attempts.isEmpty {
                        try db.run("DELETE FROM attempts WHERE id IN (SELECT value FROM json_each(?)) AND outcome IS NULL", [.ids(attempts)])
                    }
                }
            }
        }
    }

    /// Claims grouped by the state they hold their remediation in (`dispatching`, or `reverting` for a
    /// revert) and their holder.
    private static func byHeldState(_ claims: [DispatchClaim]) -> [(key: HeldBy, value: [DispatchClaim])] {
        Dictionary(grouping: claims) { HeldBy(state: $0.kind == .revert ? .reverting : .dispatching, worker: $0.claim.worker) }
            .sorted { ($0.key.state.rawValue, $0.key.worker) < ($1.key.state.rawValue, $1.key.worker) }
    }

    private struct HeldBy: Hashable {
        var state: RemediationState
        var worker: String
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
