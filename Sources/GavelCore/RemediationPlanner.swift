/// One remediation a signal proposes: an action on one validated target.
public struct ProposedRemediation: Sendable, Equatable {
    /// The action's name.
    public var action: String
    /// What the action acts on.
    public var targetKind: TargetKind
    /// The target (a canonical IP, user id, security-group id or signal id).
    public var target: String
    /// Why it must not be dispatched (`"allowlist: 10.0.0.0/8 (RFC 1918)"`,
    /// `"invalid target: …"`), or nil. A suppressed proposal is recorded `suppressed`, for the audit trail.
    public var suppressedBy: String?

    public init(action: String, targetKind: TargetKind, target: String, suppressedBy: String? = nil) {
        self.action = action
        self.targetKind = targetKind
        self.target = target
        self.suppressedBy = suppressedBy
    }
}

/// Decides which remediations a signal proposes (DESIGN.md, "Which remediations a signal proposes").
///
/// The signal's detection rule is looked up in the config by rule id, then by rule name.
/// - A rule config listing `actions`: each of those actions, applied to every entity of the
///   action's target kind in the signal (`ip` → `Signal.ips`, `user` → `Signal.users`,
///   `security_group` → `Signal.securityGroups`, `signal` → the signal id).
/// - Otherwise: a signal naming a security group proposes only `delete-security-group` for
///   each group (its caller IP is context, not a target); any other signal proposes `ban-ip`
///   for each IP and `disable-user` for each user.
///
/// The rule's enabled actions (narrowed by the analyst, from the database) filter the result.
/// Each (action, target) appears once, in action order then entity order. Targets that fail
/// `TargetValidator` are proposed suppressed with `"invalid target: …"`, and allowlisted ones
/// suppressed with the allowlist's reason, so the audit trail shows what was not done and why.
/// Non-IP values of `network.client.ip` (`Signal.invalidIPs`) are never targets, nor is any
/// `Signal.context…` entity; a resolved signal (`Signal.isResolved`) proposes nothing.
public enum RemediationPlanner {
    /// The actions proposed when a rule has no configured action list.
    public static func defaultActions(for signal: Signal) -> [String] {
        signal.securityGroups.isEmpty ? ["ban-ip", "disable-user"] : ["delete-security-group"]
    }

    /// The remediations `signal` proposes.
    /// - Parameters:
    ///   - config: the loaded configuration (actions, rules, allowlist).
    ///   - enabledActions: the rule's enabled actions as narrowed in the console; nil = all.
    /// - Returns: proposals in order, de-duplicated by (action, target); actions missing from
    ///   `config.actions` are skipped.
    public static func propose(for signal: Signal, config: GavelConfig, enabledActions: Set<String>?) -> [ProposedRemediation] {
        // A resolved alert (Alertmanager, Grafana, a generic sender's status) is recorded, never acted on.
        if signal.isResolved { return [] }
        let names = config.ruleConfig(for: signal)?.actions ?? defaultActions(for: signal)
        var proposals: [ProposedRemediation] = []
        var seen: Set<[String]> = []
        for name in names {
            if let enabledActions, !enabledActions.contains(name) { continue }
            guard let action = config.actions[name] else { continue }
            for entity in entities(of: action.target, in: signal) where seen.insert([name, entity]).inserted {
                var proposal = ProposedRemediation(action: name, targetKind: action.target, target: entity)
                switch TargetValidator.validate(entity, kind: action.target, pattern: action.targetPattern) {
                case .failure(let refusal):
                    proposal.suppressedBy = "invalid target: \(refusal.message)"
                case .success:
                    proposal.suppressedBy = config.allowlist.match(kind: action.target, target: entity)
                }
                proposals.append(proposal)
            }
        }
        return proposals
    }

    /// The mode the signal's rule starts in: its config's `mode`, else `manual`.
    public static func mode(for signal: Signal, config: GavelConfig) -> RuleMode {
        config.ruleConfig(for: signal)?.mode ?? .manual
    }

    /// The signal's values of one target kind, in order.
    public static func entities(of kind: TargetKind, in signal: Signal) -> [String] {
        switch kind {
        case .ip: signal.ips.map(\.description)
        case .user: signal.users
        case .securityGroup: signal.securityGroups
        case .signal: [signal.signalID]
        }
    }
}
