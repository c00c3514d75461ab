import GavelCore
import GavelStore

/// Life after dispatch (issue 12): what is in force, reverts, extensions, the allowlist looking
/// back. The SQLite engine's steps, with row locks where several hosts may act on one
/// remediation at once: reverts and extensions by hand lock their rows first (in id order, as
/// decisions do), expiry takes only rows nobody holds (`SKIP LOCKED`), so of two dispatchers
/// exactly one starts a due revert.
extension PostgresStore {
    public func inForce(limit: Int) throws(StoreError) -> [Remediation] {
        try pgCall {
            let states = RemediationState.allCases.filter(\.isInForce)
            return try db.query(
                """
                SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE r.state IN (\(Self.placeholders(from: 1, count: states.count)))
                ORDER BY r.expires_ms ASC NULLS LAST, r.id LIMIT $\(states.count + 1)
                """, states.map { .text($0.rawValue) } + [Self.limit(limit)]
            ).map(Self.remediation(from:))
        }
    }

    public func revert(_ ids: [Int64], reason: String, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [Remediation]
    {
        try pgCall {
            try transaction {
                try lockRows(ids)
                for id in ids {
                    guard let r = try fetchRemediation(id, depth: .row) else { throw StoreError.notFound("remediation \(id) does not exist") }
                    let event: RemediationEvent = r.state == .revertFailed ? .retry : .revert
                    try startRevert(r, event: event, cause: .analyst, by: analyst, reason: reason, config: config, at: now)
                }
                try announce("approved")
                return try ids.compactMap { try fetchRemediation($0) }
            }
        }
    }

    /// Locks the rows of `ids` for this transaction, in id order (two batch calls never deadlock).
    func lockRows(_ ids: [Int64]) throws {
        try db.query(
            "SELECT id FROM remediations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
            [.text("{" + ids.map(String.init).joined(separator: ",") + "}")])
    }

    /// Moves `r` to `reverting` by `event`, binding its revert request. Audited.
    /// - Throws: `conflict` when the state machine does not allow it, `refused` when it cannot be reverted.
    func startRevert(
        _ r: Remediation, event: RemediationEvent, cause: TransitionCause, by actor: String, reason: String, config: GavelConfig, at now: Timestamp
    ) throws {
        let to: RemediationState
        do {
            to = try RemediationLifecycle.next(from: r.state, on: event, by: cause)
        } catch {
            throw StoreError.conflict(
                DecisionConflict(
                    id: r.id, state: r.state, decidedBy: r.revertedBy ?? r.decidedBy, decidedAt: r.revertedAt ?? r.decidedAt,
                    reason: r.revertReason ?? r.reason, wanted: "revert"))
        }
        guard let action = config.actions[r.action] else { throw StoreError.refused("remediation \(r.id): action \(r.action) is not configured") }
        let signal = try latestSignalReference(r.id)
        let request: RenderedRequest
        do throws(DispatchRefusal) {
            request = try r.revertRequest(action: action, signal: signal, decidedBy: actor)
        } catch {
            throw StoreError.refused("remediation \(r.id) cannot be reverted: \(error.message)")
        }
        let changed = try db.run(
            """
            UPDATE remediations SET state = $1, revert_request = $2, reverted_by = $3, reverted_ms = $4, revert_reason = $5, next_attempt_ms = NULL,
                claimed_by = NULL, lease_until_ms = NULL, updated_ms = $4 WHERE id = $6 AND state = $7
            """,
            [
                .text(to.rawValue), .text(request.storageText), .text(actor), .integer(now.milliseconds), .text(reason), .integer(r.id),
                .text(r.state.rawValue),
            ])
        guard changed == 1 else {
            throw StoreError.conflict(
                DecisionConflict(id: r.id, state: r.state, decidedBy: r.decidedBy, decidedAt: r.decidedAt, reason: r.reason, wanted: "revert"))
        }
        try audit(
            actor: actor, action: "revert", subject: "remediation \(r.id)", before: r.state.rawValue, after: to.rawValue, detail: reason, at: now)
    }

    public func extend(_ ids: [Int64], by ms: Int64?, actor: String, at now: Timestamp) throws(StoreError) -> [Remediation] {
        try pgCall {
            try transaction {
                try lockRows(ids)
                for id in ids {
                    guard let r = try fetchRemediation(id, depth: .row) else { throw StoreError.notFound("remediation \(id) does not exist") }
                    guard (try? RemediationLifecycle.next(from: r.state, on: .extend, by: .analyst)) != nil else {
                        throw StoreError.conflict(
                            DecisionConflict(
                                id: id, state: r.state, decidedBy: r.decidedBy, decidedAt: r.decidedAt, reason: r.reason, wanted: "extend"))
                    }
                    var expires: Int64?
                    if let ms {
                        guard let current = r.expiresAt else {
                            throw StoreError.refused("remediation \(id) is permanent: there is no expiry to move")
                        }
                        expires = max(current, now).adding(milliseconds: ms).milliseconds
                    }
                    try setExpiry(r, to: expires, actor: actor, detail: ms.map { "by \(DurationText.text($0))" } ?? "made permanent", at: now)
                }
                try announce("decision")
                return try ids.compactMap { try fetchRemediation($0) }
            }
        }
    }

    /// Sets a remediation's expiry (nil: permanent), compare-and-set on `dispatched`. Audited as `extend`.
    func setExpiry(_ r: Remediation, to expires: Int64?, actor: String, detail: String, at now: Timestamp) throws {
        let changed = try db.run(
            "UPDATE remediations SET expires_ms = $1, updated_ms = $2 WHERE id = $3 AND state = 'dispatched'",
            [expires.map { .integer($0) } ?? .null, .integer(now.milliseconds), .integer(r.id)])
        guard changed == 1 else { return }
        try audit(
            actor: actor, action: "extend", subject: "remediation \(r.id)", before: r.expiresAt?.rfc3339 ?? "permanent",
            after: expires.map { Timestamp(milliseconds: $0).rfc3339 } ?? "permanent", detail: detail, at: now)
    }

    /// Remediations in force whose expiry passed start their revert (`lapse`, by the clock); one
    /// that cannot be reverted becomes `revert-failed` with the reason. Rows another transaction
    /// holds are left to it (`SKIP LOCKED`).
    func startDueReverts(config: GavelConfig, at now: Timestamp) throws {
        let due = try db.query(
            """
            SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE r.state = 'dispatched' AND r.expires_ms <= $1
            ORDER BY r.expires_ms, r.id LIMIT 100 FOR UPDATE OF r SKIP LOCKED
            """, [.integer(now.milliseconds)])
        for row in due {
            let r = Self.remediation(from: row)
            do {
                try startRevert(
                    r, event: .lapse, cause: .clock, by: "expiry", reason: "expired after \(DurationText.text(r.durationMs))", config: config, at: now
                )
            } catch StoreError.refused(let message) {
                let changed = try db.run(
                    "UPDATE remediations SET state = 'revert-failed', last_error = $1, updated_ms = $2 WHERE id = $3 AND state = 'dispatched'",
                    [.text(message), .integer(now.milliseconds), .integer(r.id)])
                if changed == 1 {
                    try audit(
                        actor: "expiry", action: "revert", subject: "remediation \(r.id)", before: "dispatched", after: "revert-failed",
                        detail: message, at: now)
                }
            }
        }
    }

    // MARK: - The allowlist looks back

    public func allowlistEntries() throws(StoreError) -> [AllowlistEntry] {
        try pgCall {
            try db.query("SELECT kind, value, reason, added_by, added_ms FROM allowlist_entries ORDER BY id").compactMap { r in
                guard let kind = TargetKind(rawValue: r.string(0) ?? "") else { return nil }
                return AllowlistEntry(
                    kind: kind, value: r.string(1) ?? "", reason: r.string(2) ?? "", addedBy: r.string(3) ?? "",
                    addedAt: Timestamp(milliseconds: r.int64(4) ?? 0))
            }
        }
    }

    public func addAllowlistEntry(_ entry: AllowlistEntry, config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64] {
        try pgCall {
            try transaction {
                try db.run(
                    """
                    INSERT INTO allowlist_entries (kind, value, reason, added_by, added_ms) VALUES ($1,$2,$3,$4,$5)
                    ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by, added_ms = excluded.added_ms
                    """,
                    [.text(entry.kind.rawValue), .text(entry.value), .text(entry.reason), .text(entry.addedBy), .integer(now.milliseconds)])
                try audit(
                    actor: entry.addedBy, action: "allowlist-add", subject: "allowlist", after: "\(entry.kind.rawValue) \(entry.value)",
                    detail: entry.reason, at: now)
                let concerned = try lookBack(Allowlist(protectInternal: false).adding([entry]), config: config, by: entry.addedBy, at: now)
                try announce(concerned.isEmpty ? "allowlist" : "approved")
                return concerned
            }
        }
    }

    public func proposeReverts(allowlist: Allowlist, config: GavelConfig, by actor: String, at now: Timestamp) throws(StoreError) -> [Int64] {
        try pgCall {
            try transaction {
                let concerned = try lookBack(allowlist, config: config, by: actor, at: now)
                if !concerned.isEmpty { try announce("approved") }
                return concerned
            }
        }
    }

    /// Every remediation in force on an allowlisted target gets its revert proposed (started at
    /// once for a rule in auto). The matching rows are locked in id order and waited for (a
    /// dispatcher or an analyst acting on one finishes first), then moved compare-and-set.
    private func lookBack(_ allowlist: Allowlist, config: GavelConfig, by actor: String, at now: Timestamp) throws -> [Int64] {
        let matching = try db.query("SELECT id, target_kind, target FROM remediations WHERE state = 'dispatched' ORDER BY id").compactMap {
            row -> Int64? in
            guard let id = row.int64(0), let kind = TargetKind(rawValue: row.string(1) ?? "") else { return nil }
            return allowlist.match(kind: kind, target: row.string(2) ?? "") == nil ? nil : id
        }
        guard !matching.isEmpty else { return [] }
        try lockRows(matching)
        var concerned: [Int64] = []
        for id in matching {
            guard let r = try fetchRemediation(id, depth: .row), r.state == .dispatched,
                let why = allowlist.match(kind: r.targetKind, target: r.target)
            else { continue }
            let to = try RemediationLifecycle.next(from: r.state, on: .proposeRevert, by: .allowlist)
            let changed = try db.run(
                "UPDATE remediations SET state = $1, revert_reason = $2, updated_ms = $3 WHERE id = $4 AND state = 'dispatched'",
                [.text(to.rawValue), .text(why), .integer(now.milliseconds), .integer(r.id)])
            guard changed == 1 else { continue }
            try audit(
                actor: actor, action: "propose-revert", subject: "remediation \(r.id)", before: r.state.rawValue, after: to.rawValue, detail: why,
                at: now)
            concerned.append(r.id)
            if try findRule(r.ruleKey)?.mode == .auto, let proposed = try fetchRemediation(r.id, depth: .row) {
                // In a savepoint: a revert that cannot start leaves the proposal for an analyst.
                try? transaction {
                    try startRevert(proposed, event: .approve, cause: .auto, by: "auto:\(r.ruleKey)", reason: why, config: config, at: now)
                }
            }
        }
        return concerned
    }
}
