import GavelCore

/// What one decision does to one remediation, worked out without the database: the pending TTL,
/// the two-person rule, decisions on a revert, and the fields a decision sets. Both engines ask
/// it, then carry the answer out in SQL as one compare-and-set (`WHERE id = ? AND state = from`)
/// in their own transaction — so the policy is written once, and only the SQL twice.
public enum DecisionPlan: Sendable, Equatable {
    /// Approving a proposed revert, or retrying a failed one: the engine starts the revert
    /// (`startRevert`) with this reason.
    case startRevert(reason: String)
    /// Rejecting a proposed revert: the remediation stays in force (`to`), its `revert_reason`
    /// set to `revertReason`; audited as `reject-revert` with `detail`.
    case keepInForce(to: RemediationState, revertReason: String, detail: String)
    /// One approval of several (the two-person rule): the approval is recorded (a new row), the
    /// remediation stays `to` (pending); audited as `approve` with `detail` ("1 of 2 approvals").
    case endorse(to: RemediationState, detail: String)
    /// The decision proper: `to` and the fields it sets (see `DecisionFields`).
    case decide(DecisionFields)
}

/// The fields a decision sets on its remediation, and what else it records.
public struct DecisionFields: Sendable, Equatable {
    /// How a decision treats the approvals table.
    public enum ApprovalRecord: Sendable, Equatable {
        /// Nothing to record.
        case none
        /// A new approval row (the final one of several: the same analyst was already refused).
        case add
        /// The approval row of this analyst, added or its time replaced (one approval needed).
        case upsert
        /// Every approval of the remediation removed (a withdrawn approval).
        case removeAll
    }

    /// How a decision treats the request bound to the remediation.
    public enum Binding: Sendable, Equatable {
        /// Leaves `bound_request` empty (a rejection or a withdrawal).
        case none
        /// Renders and binds the request this decision sends now (or its refusal), under the
        /// configuration in force.
        case render
        /// Keeps the request bound at the approval, under the configuration version it was
        /// rendered with (an analyst's retry of a bound remediation).
        case keep(RenderedRequest, configVersion: Int?)
    }

    /// The state the remediation moves to.
    public var to: RemediationState
    /// `decided_by` (nil: cleared — a withdrawal).
    public var decidedBy: String?
    /// `decided_ms` (nil: cleared).
    public var decidedAt: Timestamp?
    /// `reason` (a rejection's; nil otherwise).
    public var reason: String?
    /// `next_attempt_ms`: an approval's grace delay (nil: due at once).
    public var nextAttemptAt: Timestamp?
    /// `false_positive`: a rejection marked as a false positive.
    public var falsePositive: Bool
    /// A retry clears `last_error`.
    public var clearsLastError: Bool
    /// Whether `request` (the refusal column) is rewritten: every decision but a rejection.
    public var rewritesRefusal: Bool
    /// What happens to the approvals table.
    public var approval: ApprovalRecord
    /// What happens to the bound request.
    public var binding: Binding
    /// The audit entry's detail (a rejection's reason; a binding refusal replaces it).
    public var auditDetail: String?
    /// The word back to queue after the change (a rejection), or nil.
    public var triage: TriageEvent?
}

extension DecisionPlan {
    /// The plan for `decision` by `actor` (`cause`) on `current`, under `config` at `now`.
    /// - Throws: `StoreError.conflict` when the state machine does not allow it from the current
    ///   state (naming who decided it and how) or when a pending remediation outlived its TTL
    ///   (state `expired`); `StoreError.refused` when auto mode would count as one of several
    ///   approvals, or the same analyst approves twice.
    public static func make(
        _ current: Remediation, _ decision: Decision, by actor: String, cause: TransitionCause, config: GavelConfig, at now: Timestamp
    ) throws(StoreError) -> DecisionPlan {
        let id = current.id
        var approval = DecisionFields.ApprovalRecord.none
        switch (current.state, decision) {
        case (.revertPending, .approve), (.revertFailed, .retry):
            return .startRevert(reason: current.revertReason ?? "revert approved")
        case (.revertPending, .reject(let text, _)):
            let kept = try next(current, .reject, cause, wanted: decision.verb)
            return .keepInForce(to: kept, revertReason: "revert rejected: \(text)", detail: text)
        case (.pending, .approve):
            if let ttl = config.pendingTTL(action: current.action, ruleID: current.ruleKey, ruleName: current.ruleName),
                now.milliseconds(since: current.createdAt) > ttl
            {
                throw StoreError.conflict(
                    DecisionConflict(
                        id: id, state: .expired, decidedBy: nil, decidedAt: nil,
                        reason: "pending longer than \(DurationText.text(ttl)) without a decision", wanted: decision.verb))
            }
            let required = config.requiredApprovals(action: current.action, ruleID: current.ruleKey, ruleName: current.ruleName)
            if required > 1 {
                guard cause == .analyst else {
                    throw StoreError.refused("remediation \(id) needs \(required) approvals by different analysts: auto mode never counts as one")
                }
                if let mine = current.approvals.first(where: { $0.analyst == actor }) {
                    throw StoreError.refused(
                        "\(actor) already approved remediation \(id) at \(mine.at.rfc3339) (\(current.approvals.count) of \(required) approvals): "
                            + "another analyst must approve it")
                }
                let count = current.approvals.count + 1
                if count < required {
                    let stays = try next(current, .endorse, cause, wanted: decision.verb)
                    return .endorse(to: stays, detail: "\(count) of \(required) approvals")
                }
                approval = .add
            } else {
                approval = .upsert
            }
        default:
            break
        }
        let to = try next(current, decision.event, cause, wanted: decision.verb)
        var fields = DecisionFields(
            to: to, decidedBy: actor, decidedAt: now, reason: nil, nextAttemptAt: nil, falsePositive: false, clearsLastError: false,
            rewritesRefusal: decision.event != .reject, approval: approval, binding: .none, auditDetail: nil, triage: nil)
        switch decision {
        case .approve:
            // A grace delay: the approval waits, visibly, and can be withdrawn before it goes.
            if let grace = config.actions[current.action]?.graceMs { fields.nextAttemptAt = now.adding(milliseconds: grace) }
            // The request is bound here, at the approval: every attempt and retry sends these
            // bytes. One that cannot be rendered safely binds its refusal instead.
            fields.binding = .render
        case .retry:
            fields.clearsLastError = true
            // Refused at its approval (or approved before requests were bound): the analyst's retry
            // is a new decision, so it binds what it would send now.
            fields.binding = current.boundRequest.map { .keep($0, configVersion: current.configVersion) } ?? .render
        case .reject(let text, let marked):
            fields.reason = text
            fields.falsePositive = marked
            fields.auditDetail = marked ? "false positive: \(text)" : text
            if to == .rejected { fields.triage = marked ? .falsePositive : .rejected }
        case .withdraw:
            fields.decidedBy = nil
            fields.decidedAt = nil
            fields.approval = .removeAll
        }
        return .decide(fields)
    }

    /// The refusal of a decision that would reopen `current` (a retry of a failed remediation)
    /// while `open` — another remediation of the same action and target — is open: one open
    /// remediation per (action, target) (the store's unique index).
    public static func alreadyOpen(_ current: Remediation, other open: (id: Int64, state: RemediationState), wanted: String) -> StoreError {
        StoreError.refused(
            "remediation \(open.id) (\(current.action) \(current.target)) is \(open.state.rawValue) for the same target: "
                + "decide that one; \(wanted) of remediation \(current.id) is refused while it is open")
    }

    /// The conflict a decision meets when `current` is no longer where it was read (the
    /// compare-and-set changed no row) or the state machine refuses it.
    public static func conflict(_ current: Remediation, wanted: String, reason: String?) -> StoreError {
        StoreError.conflict(
            DecisionConflict(
                id: current.id, state: current.state, decidedBy: current.decidedBy, decidedAt: current.decidedAt, reason: reason,
                wanted: wanted))
    }

    private static func next(_ current: Remediation, _ event: RemediationEvent, _ cause: TransitionCause, wanted: String) throws(StoreError)
        -> RemediationState
    {
        do {
            return try RemediationLifecycle.next(from: current.state, on: event, by: cause)
        } catch {
            throw conflict(current, wanted: wanted, reason: current.reason)
        }
    }
}
