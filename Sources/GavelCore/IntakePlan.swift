/// An (action, target) pair: what at most one open remediation may act on at a time.
public struct ActionTarget: Sendable, Hashable {
    public var action: String
    public var target: String

    public init(_ action: String, _ target: String) {
        self.action = action
        self.target = target
    }
}

/// A remediation already stored that a new proposal may attach to.
public struct ExistingRemediation: Sendable, Equatable {
    public var id: Int64
    public var state: RemediationState

    public init(id: Int64, state: RemediationState) {
        self.id = id
        self.state = state
    }
}

/// Automatic approvals already made within the budget window (`AutoLimits.windowSeconds`).
public struct AutoUsage: Sendable, Equatable {
    /// By this rule (`decided_by` = `auto:RULE`).
    public var rule: Int
    /// By every rule.
    public var overall: Int

    public init(rule: Int = 0, overall: Int = 0) {
        self.rule = rule
        self.overall = overall
    }
}

/// What a store knows, when one delivery arrives, that decides what the delivery does —
/// the input of `IntakePlan.make` (besides the configuration).
public struct IntakeSituation: Sendable, Equatable {
    /// The normalized signal of this delivery.
    public var signal: Signal
    /// The detection rule as stored (mode, disabled actions), after this signal touched it.
    public var rule: Rule
    /// For an update of a signal already stored: the entity values it added (only they propose);
    /// nil for a new signal.
    public var newEntityValues: Set<String>?
    /// For each proposal: the remediation it attaches to, when one exists — for a `pending`
    /// proposal the one of the same (action, target) that still gathers signals
    /// (`RemediationState.gathersSignals`: open, or in force and not being reverted, so a target
    /// already banned is never banned twice); for a `suppressed` or `simulated` one the newest one
    /// in that state of the same rule.
    public var existing: [ActionTarget: ExistingRemediation]
    /// Automatic approvals already made in the window.
    public var autoUsage: AutoUsage
    /// The kill switch (`gavel auto --all off`).
    public var automaticDispatchDisabled: Bool
    /// Now: when the delivery was received.
    public var now: Timestamp
    /// `IntakePlan.configuredProposals(for: signal, config:)` when it was made before (nil: made here).
    public var configuredProposals: [ProposedRemediation]?

    public init(
        signal: Signal, rule: Rule, newEntityValues: Set<String>? = nil, existing: [ActionTarget: ExistingRemediation] = [:],
        autoUsage: AutoUsage = AutoUsage(), automaticDispatchDisabled: Bool = false, now: Timestamp,
        configuredProposals: [ProposedRemediation]? = nil
    ) {
        self.configuredProposals = configuredProposals
        self.signal = signal
        self.rule = rule
        self.newEntityValues = newEntityValues
        self.existing = existing
        self.autoUsage = autoUsage
        self.automaticDispatchDisabled = automaticDispatchDisabled
        self.now = now
    }
}

/// What one delivery does to the remediations: the intake plan, a pure function of the signal,
/// the configuration (rules, actions, allowlist, auto budgets) and what the store knows.
///
/// For every proposal of the signal (`RemediationPlanner.propose`, within the rule's enabled
/// actions; for an update only its new entities): attach to an existing remediation of the
/// same (action, target), or create one — `pending`, `suppressed` (allowlisted or invalid
/// target) or `simulated` (rule in dry-run). For a rule in `auto`, each new `pending` one is
/// approved as `auto:RULE` unless the kill switch is on, the signal is not fresh
/// (`isFresh`), or a budget is spent (then the rule is marked throttled). A store applies the
/// plan in the delivery's transaction, asking `RemediationLifecycle` for every state it sets.
public struct IntakePlan: Sendable, Equatable {
    /// What to do with one proposal.
    public enum Disposition: Sendable, Equatable {
        /// Gather the signal into this existing remediation.
        case attach(ExistingRemediation)
        /// Create a remediation in this state (`pending`, `suppressed`, `simulated`); `reason`
        /// is the allowlist entry or validation failure of a suppressed one.
        case create(RemediationState, reason: String?)
    }

    /// What auto mode does with a new pending remediation.
    public enum AutoDecision: Sendable, Equatable {
        /// Approve it as `auto:RULE`.
        case approve
        /// Leave it pending for an analyst, for this reason (audited as `auto-skip`).
        case skip(String)
        /// Leave it pending: a budget is spent (audited as `throttled`; the rule is marked throttled).
        case throttle(String)
    }

    /// One proposal and what to do with it.
    public struct Step: Sendable, Equatable {
        public var action: String
        public var targetKind: TargetKind
        public var target: String
        public var disposition: Disposition
        /// For a new pending remediation of a rule in auto; nil otherwise.
        public var auto: AutoDecision?
        /// For a signal attaching to a remediation in force whose action says so
        /// (`extend_on_repeat`): restart its duration from now (a repeat offender stays banned).
        public var extend: Bool

        public init(
            action: String, targetKind: TargetKind, target: String, disposition: Disposition, auto: AutoDecision? = nil, extend: Bool = false
        ) {
            self.action = action
            self.targetKind = targetKind
            self.target = target
            self.disposition = disposition
            self.auto = auto
            self.extend = extend
        }
    }

    /// In proposal order.
    public var steps: [Step]

    /// True when a budget stopped an automatic approval (mark the rule throttled).
    public var throttled: Bool { steps.contains { if case .throttle = $0.auto { true } else { false } } }

    public init(steps: [Step]) { self.steps = steps }

    /// Signals whose `DATE` is older than this are stored and shown but never auto-remediated
    /// (hardening checklist D8): 1 hour, in milliseconds.
    public static let maxAutoSignalAgeMs: Int64 = 3_600_000
    /// How far in the future a `DATE` may be (clock skew between Datadog and this host): 5 minutes.
    public static let maxFutureSkewMs: Int64 = 300_000

    /// Whether a signal counts as fresh for auto mode (hardening checklist D8). A missing `DATE`
    /// means "received now" (the payloads of Datadog's own guide carry none). A present `DATE`
    /// must be epoch milliseconds within the last hour (and at most 5 minutes ahead); a `DATE`
    /// that was sent but is not such a number (`invalidDate` flag), negative, in seconds (it
    /// reads as January 1970), out of range or far in the future is not fresh.
    public static func isFresh(_ signal: Signal, now: Timestamp) -> Bool {
        if signal.flags.contains(.invalidDate) { return false }
        guard let text = signal.date else { return true }
        guard let ms = Int64(text) else { return false }
        let age = now.milliseconds(since: Timestamp(milliseconds: ms))
        return age <= maxAutoSignalAgeMs && age >= -maxFutureSkewMs
    }

    /// The remediations a delivery proposes (before attaching): `RemediationPlanner.propose`
    /// within the rule's enabled actions (its configured list, or the defaults, less what an
    /// analyst disabled); for an update of a stored signal, only those on its new entities.
    ///
    /// `configured`, when given, is `configuredProposals(for:config:)` of the same signal and
    /// configuration, made earlier on another thread: the rule's disabled actions are then only
    /// taken out of it (the same list, without validating and allowlisting the targets again).
    public static func proposals(
        signal: Signal, rule: Rule, newEntityValues: Set<String>?, config: GavelConfig, configured: [ProposedRemediation]? = nil
    ) -> [ProposedRemediation] {
        let proposals: [ProposedRemediation]
        if let configured {
            proposals = rule.disabledActions.isEmpty ? configured : configured.filter { !rule.disabledActions.contains($0.action) }
        } else {
            let actions = config.ruleConfig(for: signal)?.actions ?? RemediationPlanner.defaultActions(for: signal)
            proposals = RemediationPlanner.propose(for: signal, config: config, enabledActions: Set(actions).subtracting(rule.disabledActions))
        }
        guard let newEntityValues else { return proposals }
        return proposals.filter { newEntityValues.contains($0.target) }
    }

    /// What the configuration proposes for `signal` whatever its rule's row says: every action of
    /// its rule's configured list (or the defaults) on every target, validated and allowlisted
    /// (`RemediationPlanner.propose` with no action disabled). It needs no store, so the receiver
    /// makes it on the connection's thread (`IncomingSignal.configuredProposals`) and the ingest
    /// writer only takes out the rule's disabled actions (`proposals(…, configured:)`): a
    /// proposal's action is always one of the list, so the result is the same.
    public static func configuredProposals(for signal: Signal, config: GavelConfig) -> [ProposedRemediation] {
        RemediationPlanner.propose(for: signal, config: config, enabledActions: nil)
    }

    /// The state a new remediation for `proposal` starts in: `suppressed` when stopped by the
    /// allowlist or validation, `simulated` for a rule in dry-run, else `pending`.
    public static func startState(of proposal: ProposedRemediation, rule: Rule) -> RemediationState {
        proposal.suppressedBy != nil ? .suppressed : (rule.mode == .dryRun ? .simulated : .pending)
    }

    /// The plan for one delivery.
    /// - Parameters:
    ///   - situation: the signal and what the store knows (see `IntakeSituation`).
    ///   - config: the configuration in force (rule action lists, actions, allowlist, auto limits).
    public static func make(_ situation: IntakeSituation, config: GavelConfig) -> IntakePlan {
        let rule = situation.rule
        let proposals = proposals(
            signal: situation.signal, rule: rule, newEntityValues: situation.newEntityValues, config: config,
            configured: situation.configuredProposals)
        var usage = situation.autoUsage
        let fresh = isFresh(situation.signal, now: situation.now)
        let minutes = max(1, config.autoLimits.windowSeconds / 60)
        var steps: [Step] = []
        for p in proposals {
            let state = startState(of: p, rule: rule)
            let disposition: Disposition
            var extend = false
            if let existing = situation.existing[ActionTarget(p.action, p.target)] {
                disposition = .attach(existing)
                extend = existing.state == .dispatched && (config.actions[p.action]?.extendOnRepeat ?? false)
            } else {
                disposition = .create(state, reason: p.suppressedBy)
            }
            var step = Step(action: p.action, targetKind: p.targetKind, target: p.target, disposition: disposition, extend: extend)
            if case .create(.pending, _) = disposition, rule.mode == .auto {
                let needed = config.requiredApprovals(action: p.action, ruleID: situation.signal.ruleID, ruleName: situation.signal.ruleName)
                if needed > 1 {
                    step.auto = .skip("needs \(needed) approvals by different analysts: auto mode never counts as one, it waits for people")
                } else if situation.automaticDispatchDisabled {
                    step.auto = .skip("automatic dispatch is switched off (gavel auto --all off)")
                } else if !fresh {
                    step.auto = .skip("signal DATE is missing a plausible time within the last hour: left for an analyst")
                } else if usage.rule >= config.autoLimits.perRule {
                    step.auto = .throttle("rule budget of \(config.autoLimits.perRule) automatic dispatches per \(minutes) min reached")
                } else if usage.overall >= config.autoLimits.global {
                    step.auto = .throttle("global budget of \(config.autoLimits.global) automatic dispatches per \(minutes) min reached")
                } else {
                    step.auto = .approve
                    usage.rule += 1
                    usage.overall += 1
                }
            }
            steps.append(step)
        }
        return IntakePlan(steps: steps)
    }
}
