import GavelCore
import GavelStore

/// Life after dispatch (issue 12): what is in force, reverts, extensions, the allowlist looking back.
extension SQLiteStore {
    public func inForce(limit: Int) throws(StoreError) -> [Remediation] {
        try storeCall {
            try db.readTransaction {
                let states = RemediationState.allCases.filter(\.isInForce)
                return try db.query(
                    """
                    SELECT \(Self.remediationColumns) FROM remediations r WHERE r.state IN (\(states.map { _ in "?" }.joined(separator: ",")))
                    ORDER BY r.expires_ms IS NULL, r.expires_ms, r.id LIMIT ?
                    """, states.map { .text($0.rawValue) } + [.integer(limit == 0 ? -1 : Int64(limit))]
                ).map { try remediation(from: $0, depth: .row) }
            }
        }
    }

    public func revert(_ ids: [Int64], reason: String, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [Remediation]
    {
        try storeCall {
            try db.writeTransaction {
                for id in ids {
                    guard let r = try fetchRemediation(id, depth: .row) else { throw StoreError.notFound("remediation \(id) does not exist") }
                    let event: RemediationEvent = r.state == .revertFailed ? .retry : .revert
                    try startRevert(r, event: event, cause: .analyst, by: analyst, reason: reason, config: config, at: now)
                }
                return try ids.compactMap { try fetchRemediation($0) }
            }
        }
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
            UPDATE remediations SET state = ?, revert_request = ?, reverted_by = ?, reverted_ms = ?, revert_reason = ?, next_attempt_ms = NULL,
                claimed_by = NULL, lease_until_ms = NULL, updated_ms = ? WHERE id = ? AND state = ?
            """,
            [
                .text(to.rawValue), .text(request.storageText), .text(actor), .integer(now.milliseconds), .text(reason), .integer(now.milliseconds),
                .integer(r.id), .text(r.state.rawValue),
            ])
        guard changed == 1 else {
            throw StoreError.conflict(
                DecisionConflict(id: r.id, state: r.state, decidedBy: r.decidedBy, decidedAt: r.decidedAt, reason: r.reason, wanted: "revert"))
        }
        try audit(
            actor: actor, action: "revert", subject: "remediation \(r.id)", before: r.state.rawValue, after: to.rawValue, detail: reason, at: now)
    }

    public func extend(_ ids: [Int64], by ms: Int64?, actor: String, at now: Timestamp) throws(StoreError) -> [Remediation] {
        try storeCall {
            try db.writeTransaction {
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
                return try ids.compactMap { try fetchRemediation($0) }
            }
        }
    }

    /// Sets a remediation's expiry (nil: permanent), compare-and-set on `dispatched`. Audited as `extend`.
    func setExpiry(_ r: Remediation, to expires: Int64?, actor: String, detail: String, at now: Timestamp) throws {
        let changed = try db.run(
            "UPDATE remediations SET expires_ms = ?, updated_ms = ? WHERE id = ? AND state = 'dispatched'",
            [expires.map { .integer($0) } ?? .null, .integer(now.milliseconds), .integer(r.id)])
        guard changed == 1 else { return }
        try audit(
            actor: actor, action: "extend", subject: "remediation \(r.id)", before: r.expiresAt?.rfc3339 ?? "permanent",
            after: expires.map { Timestamp(milliseconds: $0).rfc3339 } ?? "permanent", detail: detail, at: now)
    }

    /// Remediations in force whose expiry passed start their revert (`lapse`, by the clock); one
    /// that cannot be reverted becomes `revert-failed` with the reason.
    func startDueReverts(config: GavelConfig, at now: Timestamp) throws {
        let due = try db.query(
            "SELECT \(Self.remediationColumns) FROM remediations r WHERE r.state = 'dispatched' AND r.expires_ms <= ? ORDER BY r.expires_ms LIMIT 100",
            [.integer(now.milliseconds)])
        for row in due {
            let r = try remediation(from: row, depth: .row)
            do {
                try startRevert(
                    r, event: .lapse, cause: .clock, by: "expiry", reason: "expired after \(DurationText.text(r.durationMs))", config: config, at: now
                )
            } catch StoreError.refused(let message) {
                let changed = try db.run(
                    "UPDATE remediations SET state = 'revert-failed', last_error = ?, updated_ms = ? WHERE id = ? AND state = 'dispatched'",
                    [.text(message), .integer(now.milliseconds), .integer(r.id)])
                if changed == 1 {
                    try audit(
                        actor: "expiry", action: "revert", subject: "remediation \(r.id)", before: "dispatched", after: "revert-failed",
                        detail: message,
                        at: now)
                }
            }
        }
    }

    // MARK: - The allowlist looks back

    public func allowlistEntries() throws(StoreError) -> [AllowlistEntry] {
        try storeCall {
            try db.query("SELECT kind, value, reason, added_by, added_ms FROM allowlist_entries ORDER BY id").compactMap { r in
                guard let kind = TargetKind(rawValue: r.string(0) ?? "") else { return nil }
                return AllowlistEntry(
                    kind: kind, value: r.string(1) ?? "", reason: r.string(2) ?? "", addedBy: r.string(3) ?? "",
                    addedAt: Timestamp(milliseconds: r.int64(4) ?? 0))
            }
        }
    }

    public func addAllowlistEntry(_ entry: AllowlistEntry, config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64] {
        try storeCall {
            try db.writeTransaction {
                try db.run(
                    """
                    INSERT INTO allowlist_entries (kind, value, reason, added_by, added_ms) VALUES (?,?,?,?,?)
                    ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by, added_ms = excluded.added_ms
                    """,
                    [.text(entry.kind.rawValue), .text(entry.value), .text(entry.reason), .text(entry.addedBy), .integer(now.milliseconds)])
                try audit(
                    actor: entry.addedBy, action: "allowlist-add", subject: "allowlist", after: "\(entry.kind.rawValue) \(entry.value)",
                    detail: entry.reason, at: now)
                return try lookBack(Allowlist(protectInternal: false).adding([entry]), config: config, by: entry.addedBy, at: now)
            }
        }
    }

    public func proposeReverts(allowlist: Allowlist, config: GavelConfig, by actor: String, at now: Timestamp) throws(StoreError) -> [Int64] {
        try storeCall { try db.writeTransaction { try lookBack(allowlist, config: config, by: actor, at: now) } }
    }

    private func lookBack(_ allowlist: Allowlist, config: GavelConfig, by actor: String, at now: Timestamp) throws -> [Int64] {
        var concerned: [Int64] = []
        for row in try db.query("SELECT \(Self.remediationColumns) FROM remediations r WHERE r.state = 'dispatched'") {
            let r = try remediation(from: row, depth: .row)
            guard let why = allowlist.match(kind: r.targetKind, target: r.target) else { continue }
            let to = try RemediationLifecycle.next(from: r.state, on: .proposeRevert, by: .allowlist)
            let changed = try db.run(
                "UPDATE remediations SET state = ?, revert_reason = ?, updated_ms = ? WHERE id = ? AND state = 'dispatched'",
                [.text(to.rawValue), .text(why), .integer(now.milliseconds), .integer(r.id)])
            guard changed == 1 else { continue }
            try audit(
                actor: actor, action: "propose-revert", subject: "remediation \(r.id)", before: r.state.rawValue, after: to.rawValue, detail: why,
                at: now)
            concerned.append(r.id)
            if try findRule(r.ruleKey)?.mode == .auto, let proposed = try fetchRemediation(r.id, depth: .row) {
                try? startRevert(proposed, event: .approve, cause: .auto, by: "auto:\(r.ruleKey)", reason: why, config: config, at: now)
            }
        }
        return concerned
    }
}
