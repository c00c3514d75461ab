/// Who (or what) causes a change of a remediation's state.
///
/// The state machine table (`RemediationLifecycle.table`) says, for every transition, which
/// causes may make it; the store asks it before every compare-and-set update.
public enum TransitionCause: String, Sendable, CaseIterable, Hashable {
    /// The receiver recording a signal's proposals.
    case intake
    /// A person, in the console or with a CLI verb (`--by NAME`).
    case analyst
    /// Auto-remediation of a rule in `auto` mode (`decided_by` = `auto:RULE`).
    case auto
    /// The brakes on automatic dispatch: the kill switch (`gavel auto --all off`) or a rule
    /// switched out of `auto`, taking back automatic approvals not yet sent.
    case brakes
    /// A dispatcher sending a remediation and recording how it went.
    case dispatcher
    /// A dispatcher recovering a claim whose holder died or whose lease ran out.
    case recovery
    /// The allowlist: a target found allowlisted when it was about to be sent, or while in force.
    case allowlist
    /// Time: a remediation in force reaching its expiry.
    case clock
}

/// What happens to a remediation. Each event moves it from some states to one state
/// (see `RemediationLifecycle.table`).
public enum RemediationEvent: String, Sendable, CaseIterable, Hashable {
    /// A signal proposed it (from no state): `pending`, or `suppressed` (allowlisted or invalid
    /// target) or `simulated` (rule in dry-run).
    case propose
    /// The decision to send it (the analyst's, or auto's within the budgets).
    case approve
    /// The decision not to send it, with a reason.
    case reject
    /// An approval taken back before anything was sent: back to `pending`.
    case withdraw
    /// A dispatcher takes it to send it now (under a lease).
    case claim
    /// The endpoint accepted it.
    case succeed
    /// It failed in a way that may pass; it waits for its next attempt.
    case retryLater = "retry-later"
    /// It failed for good (or its retries ran out).
    case fail
    /// Its target turned out allowlisted when it was about to be sent.
    case suppress
    /// A claim whose holder died: sent again with the same idempotency key (idempotent action).
    case requeue
    /// A claim whose holder died on a non-idempotent action: `failed`, "interrupted; outcome unknown".
    case abandon
    /// An analyst sends a failed remediation (or a failed revert) again.
    case retry
    /// A remediation in force reached its expiry: its revert goes now.
    case lapse
    /// An analyst undoes a remediation in force now.
    case revert
    /// The target of a remediation in force became allowlisted: a revert is proposed.
    case proposeRevert = "propose-revert"
    /// The expiry of a remediation in force moves (by hand, or a repeat offender's new signal).
    case extend
    /// One approval of several required (the two-person rule): recorded, the remediation stays pending.
    case endorse
    /// A pending remediation waited past its `pending_ttl`: never dispatched.
    case expire
    /// A dispatcher gives back a claim it never sent (its action's circuit opened, or it stops):
    /// due again at once, its unstarted attempt removed, its retries untouched.
    case release
}

/// One row of the state machine table: `event` moves a remediation in `from` to `to`, and
/// only the listed causes may make it.
public struct RemediationTransition: Sendable, Hashable {
    /// The state before; nil for a remediation being created.
    public var from: RemediationState?
    public var event: RemediationEvent
    public var to: RemediationState
    public var causes: Set<TransitionCause>

    public init(_ from: RemediationState?, _ event: RemediationEvent, _ to: RemediationState, by causes: Set<TransitionCause>) {
        self.from = from
        self.event = event
        self.to = to
        self.causes = causes
    }
}

/// Why the state machine refuses a change.
public struct TransitionRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The state the remediation is in (nil: it does not exist yet).
    public var state: RemediationState?
    public var event: RemediationEvent
    public var cause: TransitionCause

    public init(state: RemediationState?, event: RemediationEvent, cause: TransitionCause) {
        self.state = state
        self.event = event
        self.cause = cause
    }

    public var description: String {
        let what = state.map { "a remediation in state \($0.rawValue)" } ?? "a new remediation"
        return "\(cause.rawValue) cannot \(event.rawValue) \(what)"
    }
}

/// The remediation state machine as data (DESIGN.md "Remediation states").
///
/// Every state, every allowed transition and who may cause it are rows of `table`; nothing
/// else in gavel moves a remediation's state. The store asks `next(from:on:by:)` before each
/// compare-and-set update (`UPDATE … SET state = to WHERE id = ? AND state = from`), so two
/// processes racing for one remediation cannot both move it. A new state or transition is one
/// edit of `table`; `RemediationLifecycleTests` walks every pair of states.
public enum RemediationLifecycle {
    /// Every allowed transition.
    public static let table: [RemediationTransition] = [
        RemediationTransition(nil, .propose, .pending, by: [.intake]),
        RemediationTransition(nil, .propose, .suppressed, by: [.intake, .allowlist]),
        RemediationTransition(nil, .propose, .simulated, by: [.intake]),
        RemediationTransition(.pending, .approve, .approved, by: [.analyst, .auto]),
        RemediationTransition(.pending, .reject, .rejected, by: [.analyst]),
        RemediationTransition(.approved, .withdraw, .pending, by: [.analyst, .brakes]),
        RemediationTransition(.approved, .claim, .dispatching, by: [.dispatcher]),
        RemediationTransition(.dispatching, .succeed, .dispatched, by: [.dispatcher]),
        RemediationTransition(.dispatching, .retryLater, .approved, by: [.dispatcher]),
        RemediationTransition(.dispatching, .fail, .failed, by: [.dispatcher]),
        RemediationTransition(.dispatching, .suppress, .suppressed, by: [.allowlist]),
        RemediationTransition(.dispatching, .withdraw, .pending, by: [.brakes]),
        RemediationTransition(.dispatching, .requeue, .approved, by: [.recovery]),
        RemediationTransition(.dispatching, .abandon, .failed, by: [.recovery]),
        RemediationTransition(.failed, .retry, .approved, by: [.analyst]),
        // Life after dispatch (issue 12): in force until it expires, reverted at expiry or by hand.
        RemediationTransition(.dispatched, .extend, .dispatched, by: [.analyst, .intake]),
        RemediationTransition(.dispatched, .lapse, .reverting, by: [.clock]),
        RemediationTransition(.dispatched, .revert, .reverting, by: [.analyst]),
        RemediationTransition(.dispatched, .proposeRevert, .revertPending, by: [.allowlist]),
        RemediationTransition(.revertPending, .approve, .reverting, by: [.analyst, .auto]),
        RemediationTransition(.revertPending, .reject, .dispatched, by: [.analyst]),
        RemediationTransition(.reverting, .claim, .reverting, by: [.dispatcher]),
        RemediationTransition(.reverting, .succeed, .reverted, by: [.dispatcher]),
        RemediationTransition(.reverting, .retryLater, .reverting, by: [.dispatcher]),
        RemediationTransition(.reverting, .fail, .revertFailed, by: [.dispatcher]),
        RemediationTransition(.reverting, .requeue, .reverting, by: [.recovery]),
        RemediationTransition(.reverting, .abandon, .revertFailed, by: [.recovery]),
        RemediationTransition(.revertFailed, .retry, .reverting, by: [.analyst]),
        // Accountability (issue 14): approvals by several analysts, and a pending remediation's TTL.
        RemediationTransition(.pending, .endorse, .pending, by: [.analyst]),
        RemediationTransition(.pending, .expire, .expired, by: [.clock]),
        // Storms (issue 15): claims taken ahead and given back unsent.
        RemediationTransition(.dispatching, .release, .approved, by: [.dispatcher]),
        RemediationTransition(.reverting, .release, .reverting, by: [.dispatcher]),
    ]

    private static let index: [Key: RemediationTransition] = {
        var index: [Key: RemediationTransition] = [:]
        for t in table { index[Key(from: t.from, event: t.event)] = t }
        return index
    }()

    private struct Key: Hashable {
        var from: RemediationState?
        var event: RemediationEvent
    }

    /// The transition `event` makes from `state`, whoever causes it; nil when none.
    public static func transition(from state: RemediationState?, on event: RemediationEvent) -> RemediationTransition? {
        index[Key(from: state, event: event)]
    }

    /// The state `event` caused by `cause` moves a remediation in `state` to.
    /// - Throws: `TransitionRefusal` when the table has no such transition or `cause` may not make it.
    public static func next(from state: RemediationState?, on event: RemediationEvent, by cause: TransitionCause) throws(TransitionRefusal)
        -> RemediationState
    {
        guard let t = transition(from: state, on: event), t.causes.contains(cause) else {
            throw TransitionRefusal(state: state, event: event, cause: cause)
        }
        return t.to
    }

    /// The states `event` may start from when `cause` makes it (for updates of many rows).
    public static func sources(of event: RemediationEvent, by cause: TransitionCause) -> [RemediationState] {
        table.filter { $0.event == event && $0.causes.contains(cause) }.compactMap(\.from)
    }

    /// For a proposal: the state it starts in (`pending`, `suppressed` or `simulated`).
    public static func canStartIn(_ state: RemediationState, by cause: TransitionCause) -> Bool {
        table.contains { $0.from == nil && $0.to == state && $0.causes.contains(cause) }
    }

    /// The states a remediation may leave, to any state, by any event: what is not final.
    public static var nonFinalStates: Set<RemediationState> { Set(table.compactMap(\.from)) }
}
