import GavelCore
import GavelStore

extension PostgresStore {
    /// Claims due work with `SELECT … FOR UPDATE SKIP LOCKED`, at most `quota` of each action:
    /// approved remediations, and reverts (remediations in force whose expiry passed start theirs
    /// first, `startDueReverts`). Per action, members of a batch waiting to go again come first (by
    /// batch), then the oldest due. Dispatchers on several hosts each take different rows and
    /// never wait for each other (except for a batch going again, taken whole by one of them); the
    /// rows taken move in one statement per kind.
    public func claimDue(worker: String, quota: ClaimQuota, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    {
        try pgCall {
            let expired = "r.state = 'dispatched' AND r.expires_ms <= $1"
            // A plain look first, so a dispatcher woken by every change opens no transaction when nothing is due.
            if db.transactionDepth == 0,
                try db.query(
                    "SELECT 1 FROM remediations r WHERE (\(Self.dueDispatch)) OR (\(Self.dueRevert)) OR (\(expired)) LIMIT 1",
                    [.integer(now.milliseconds)]
                ).isEmpty
            {
                return []
            }
            return try transaction {
                try startDueReverts(config: config, at: now)
                let lease = Claim(worker: worker, leaseUntil: now.adding(milliseconds: leaseMs))
                var claims: [DispatchClaim] = []
                let named = quota.actions.keys.sorted()
                for action in named {
                    guard let n = quota.actions[action], n > 0 else { continue }
                    claims += try claimRows(where: "r.action = $3", [.text(action)], limit: n, lease: lease, config: config, at: now)
                }
                if quota.others > 0 {
                    let others = named.isEmpty ? "TRUE" : "r.action NOT IN (" + Self.placeholders(from: 3, count: named.count) + ")"
                    claims += try claimRows(where: others, named.map { .text($0) }, limit: quota.others, lease: lease, config: config, at: now)
                }
                if !claims.isEmpty { try announce("dispatch") }
                return claims
            }
        }
    }

    /// An approved remediation due at `$1`.
    static let dueDispatch = "r.state = 'approved' AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= $1)"
    /// A revert queued and due at `$1`, not held by a dispatcher.
    static let dueRevert = "r.state = 'reverting' AND r.claimed_by IS NULL AND (r.next_attempt_ms IS NULL OR r.next_attempt_ms <= $1)"

    /// Claims up to `limit` due rows matching `filter` (its values numbered from `$3`): dispatches,
    /// then reverts; of each, the members of batches waiting to go again first (by batch, locked
    /// waiting for a dispatcher claiming them now), then the oldest due (`SKIP LOCKED`). Each kind moves in one `UPDATE … WHERE id = ANY(…)`
    /// and opens its attempts in one `INSERT … SELECT unnest(…)`.
    private func claimRows(where filter: String, _ values: [PGValue], limit: Int, lease: Claim, config: GavelConfig, at now: Timestamp) throws
        -> [DispatchClaim]
    {
        var rows: [PGRow] = []
        for due in [Self.dueDispatch, Self.dueRevert] {
            // Members of a batch going again are locked waiting (in one order everywhere, so no
            // deadlock), not skipped: a batch is taken whole by one dispatcher, never split between
            // two (which would send its members under two new keys).
            for (keyed, order, lock) in [
                ("r.batch_key IS NOT NULL", "r.batch_key, r.id", "FOR UPDATE OF r"),
                ("r.batch_key IS NULL", "coalesce(r.next_attempt_ms, 0), r.id", "FOR UPDATE OF r SKIP LOCKED"),
            ] {
                guard rows.count < limit else { break }
                rows += try db.query(
                    """
                    SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE \(due) AND \(filter) AND \(keyed)
                    ORDER BY \(order) LIMIT $2 \(lock)
                    """, [.integer(now.milliseconds), .int(limit - rows.count)] + values)
            }
        }
        let remediations = rows.map(Self.remediation(from:))
        var taken: [Int64: (attemptID: Int64, number: Int)] = [:]
        for kind in [Attempt.Kind.dispatch, .revert] {
            let from: RemediationState = kind == .revert ? .reverting : .approved
            let ids = remediations.filter { $0.state == from }.map(\.id)
            guard !ids.isEmpty else { continue }
            let to = try RemediationLifecycle.next(from: from, on: .claim, by: .dispatcher)
            let changed = try db.query(
                """
                UPDATE remediations SET state = $1, attempts = attempts + $2, claimed_by = $3, lease_until_ms = $4, updated_ms = $5
                WHERE id = ANY($6::bigint[]) AND state = $7 AND claimed_by IS NULL RETURNING id
                """,
                [
                    .text(to.rawValue), .int(kind == .dispatch ? 1 : 0), .text(lease.worker), .integer(lease.leaseUntil?.milliseconds ?? 0),
                    .integer(now.milliseconds), .ids(ids), .text(from.rawValue),
                ]
            ).compactMap { $0.int64(0) }
            guard !changed.isEmpty else { continue }
            let opened = try db.query(
                "INSERT INTO attempts (remediation, started_ms, kind) SELECT unnest($1::bigint[]), $2, $3 RETURNING id, remediation",
                [.ids(changed), .integer(now.milliseconds), .text(kind.rawValue)])
            var numbers: [Int64: Int] = [:]
            for row in try db.query(
                "SELECT remediation, count(*) FROM attempts WHERE remediation = ANY($1::bigint[]) AND kind = $2 GROUP BY remediation",
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

    /// What a claimed remediation sends: the request bound at its approval; for an approval
    /// recorded before requests were bound (or one that could not be rendered then), rendered now
    /// with the same values — and refused the same way.
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

    /// Records attempts' outcomes in one transaction, one remediation at a time (a batch's members
    /// each get their own attempt row, outcome and audit entry).
    @discardableResult
    public func finish(_ attempts: [FinishedAttempt], config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Bool] {
        try pgCall {
            try transaction {
                var recorded: [Bool] = []
                recorded.reserveCapacity(attempts.count)
                var announced: Set<String> = []
                for attempt in attempts {
                    let (done, announcement) = try finishOne(attempt.claim, attempt.report, config: config, at: now)
                    recorded.append(done)
                    if done { announced.insert(announcement) }
                }
                for what in announced.sorted() { try announce(what) }
                return recorded
            }
        }
    }

    /// Records one attempt's outcome in the caller's transaction; returns whether the claim was
    /// still held, and what to announce.
    private func finishOne(_ claim: DispatchClaim, _ report: AttemptReport, config: GavelConfig, at now: Timestamp) throws -> (Bool, String) {
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
        let from: RemediationState = claim.kind == .revert ? .reverting : .dispatching
        let to = try RemediationLifecycle.next(from: from, on: event, by: .dispatcher)
        // What the attempt did is recorded even when the claim was lost meanwhile.
        try db.run(
            "UPDATE attempts SET duration_ms = $1, status = $2, outcome = $3, error = $4, response = $5, batch_key = $6, stderr = $7 WHERE id = $8",
            [
                .int(report.durationMs), .int(report.status), .text(outcome.rawValue), .text(report.error), .text(report.response),
                .text(report.batchKey), .text(report.stderr), .integer(claim.attemptID),
            ])
        // A retry keeps the batch, so its members are claimed and sent again together.
        let batch: PGValue = event == .retryLater ? .text(report.batchKey) : .null
        var values: [PGValue] = [
            .text(to.rawValue), .int(report.status), .text(report.error), next, .integer(now.milliseconds), .integer(claim.id),
            .text(from.rawValue), .text(claim.claim.worker), batch,
        ]
        var extra = ""
        if claim.kind == .dispatch && to == .dispatched {
            // In force from now: for the rule's or action's duration (escalated), or permanent.
            let duration = try inForceDuration(of: claim.remediation, config: config, at: now)
            extra = ", dispatched_ms = $5, duration_ms = $10, expires_ms = $11, dispatch_response = $12"
            values += [
                duration.map { .integer($0) } ?? .null, duration.map { .integer(now.adding(milliseconds: $0).milliseconds) } ?? .null,
                .text(report.response),
            ]
        } else if claim.kind == .revert && to == .reverted {
            extra = ", reverted_ms = $5, expires_ms = NULL"
        }
        let changed = try db.run(
            """
            UPDATE remediations SET state = $1, last_status = $2, last_error = $3, next_attempt_ms = $4, claimed_by = NULL,
                lease_until_ms = NULL, updated_ms = $5, batch_key = $9\(extra)
            WHERE id = $6 AND state = $7 AND claimed_by = $8
            """, values)
        guard changed == 1 else { return (false, "") }
        if to == .dispatched || to == .reverted {
            let r = claim.remediation
            try queueTriage(
                claim.id, event: to == .dispatched ? .dispatched : .reverted,
                analyst: to == .dispatched ? (r.decidedBy ?? "") : (r.revertedBy ?? "gavel"), reason: r.revertReason, config: config, at: now)
        }
        let what =
            (claim.kind == .revert ? "revert attempt" : "attempt") + " \(claim.attempt)" + (report.batchKey.map { " in batch \($0)" } ?? "")
        let detail = "\(what): " + Attempt.resultText(status: report.status, error: report.error)
        let after = event == .retryLater ? "\(to.rawValue) (retry)" : to.rawValue
        try audit(
            actor: "dispatcher", action: claim.kind == .revert ? "revert-dispatch" : "dispatch", subject: "remediation \(claim.id)",
            before: from.rawValue, after: after, detail: detail, at: now)
        return (true, event == .retryLater ? "approved" : "dispatch")
    }

    public func recordBatches(_ batches: [(key: String, claims: [DispatchClaim])], at now: Timestamp) throws(StoreError) {
        try pgCall {
            try transaction {
                for (key, claims) in batches {
                    for (from, group) in Self.byHeldState(claims) {
                        let changed = Set(
                            try db.query(
                                "UPDATE remediations SET batch_key = $1 WHERE id = ANY($2::bigint[]) AND state = $3 AND claimed_by = $4 RETURNING id",
                                [.text(key), .ids(group.map(\.id)), .text(from.state.rawValue), .text(from.worker)]
                            ).compactMap { $0.int64(0) })
                        let attempts = group.filter { changed.contains($0.id) }.map(\.attemptID)
                        if !attempts.isEmpty {
                            try db.run("UPDATE attempts SET batch_key = $1 WHERE id = ANY($2::bigint[])", [.text(key), .ids(attempts)])
                        }
                    }
                }
            }
        }
    }

    public func releaseClaims(_ claims: [DispatchClaim], at now: Timestamp) throws(StoreError) {
        try pgCall {
            try transaction {
                var released = false
                for (from, group) in Self.byHeldState(claims) {
                    let to = try RemediationLifecycle.next(from: from.state, on: .release, by: .dispatcher)
                    let changed = Set(
                        try db.query(
                            """
                            UPDATE remediations SET state = $1, attempts = attempts - $2, claimed_by = NULL, lease_until_ms = NULL, updated_ms = $3
                            WHERE id = ANY($4::bigint[]) AND state = $5 AND claimed_by = $6 RETURNING id
                            """,
                            [
                                .text(to.rawValue), .int(from.state == .dispatching ? 1 : 0), .integer(now.milliseconds), .ids(group.map(\.id)),
                                .text(from.state.rawValue), .text(from.worker),
                            ]
                        ).compactMap { $0.int64(0) })
                    let attempts = group.filter { changed.contains($0.id) }.map(\.attemptID)
                    if !attempts.isEmpty {
                        try db.run("DELETE FROM attempts WHERE id = ANY($1::bigint[]) AND outcome IS NULL", [.ids(attempts)])
                        released = true
                    }
                }
                if released { try announce("approved") }
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
        let suggested = try db.query("SELECT suggested_duration_ms FROM remediations WHERE id = $1", [.integer(r.id)]).first?.int64(0)
        let ruleOverride = config.ruleConfig(ruleID: r.ruleKey, ruleName: r.ruleName)?.durations[r.action]
        let base: Int64? = ruleOverride ?? (action.durationMs ?? suggested)
        guard let escalation = action.escalation else { return base }
        let previous = try db.query(
            """
            SELECT dispatched_ms, duration_ms FROM remediations WHERE action = $1 AND target = $2 AND id != $3 AND dispatched_ms IS NOT NULL
            ORDER BY dispatched_ms DESC LIMIT 1
            """, [.text(r.action), .text(r.target), .integer(r.id)]
        ).first.map { (since: Timestamp(milliseconds: $0.int64(0) ?? 0), durationMs: $0.int64(1)) }
        return escalation.duration(base: base, previous: previous, now: now)
    }

    public func withdrawClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError) {
        try pgCall {
            try transaction {
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
            try transaction {
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

    /// Recovers claims (of dispatches and of reverts) whose lease ran out or whose holder is gone;
    /// rows another dispatcher is finishing right now are locked and skipped (`SKIP LOCKED`). Also
    /// folds the count deltas (it runs every few seconds in every dispatcher).
    @discardableResult
    public func recoverClaims(at now: Timestamp, isDead: (String) -> Bool, isIdempotent: (String) -> Bool) throws(StoreError) -> [Int64] {
        try pgCall {
            try foldCounts()
            let held = "(state = 'dispatching' OR (state = 'reverting' AND claimed_by IS NOT NULL))"
            if try db.query("SELECT id FROM remediations WHERE \(held) LIMIT 1").isEmpty { return [] }
            return try transaction {
                var recovered: [Int64] = []
                for r in try db.query(
                    "SELECT id, action, claimed_by, lease_until_ms, state FROM remediations WHERE \(held) ORDER BY id FOR UPDATE SKIP LOCKED")
                {
                    guard let id = r.int64(0), let from = RemediationState(rawValue: r.string(4) ?? "") else { continue }
                    let holder = r.string(2) ?? ""
                    let leaseRanOut = r.int64(3).map { $0 < now.milliseconds } ?? false
                    guard leaseRanOut || isDead(holder) else { continue }
                    let idempotent = isIdempotent(r.string(1) ?? "")
                    let to = try RemediationLifecycle.next(from: from, on: idempotent ? .requeue : .abandon, by: .recovery)
                    let error: String? = idempotent ? nil : "interrupted; outcome unknown"
                    try db.run(
                        """
                        UPDATE remediations SET state = $1, last_error = coalesce($2, last_error), claimed_by = NULL, lease_until_ms = NULL,
                            updated_ms = $3 WHERE id = $4 AND state = $5
                        """, [.text(to.rawValue), .text(error), .integer(now.milliseconds), .integer(id), .text(from.rawValue)])
                    try db.run(
                        """
                        UPDATE attempts SET outcome = 'interrupted', error = 'interrupted; outcome unknown'
                        WHERE remediation = $1 AND outcome IS NULL AND kind != 'triage'
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
                if !recovered.isEmpty { try announce("approved") }
                return recovered
            }
        }
    }
}
