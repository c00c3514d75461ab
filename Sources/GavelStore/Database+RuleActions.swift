import GavelCore

extension Database {
    /// The actions a detection rule proposes: its configured list, else DESIGN.md's default
    /// (`delete-security-group` when its signals name a security group, else `ban-ip` and
    /// `disable-user`).
    public func configuredActions(for rule: RuleRecord, config: GavelConfig) -> [String] {
        var probe = Signal(signalID: "")
        probe.ruleID = rule.ruleID
        probe.ruleName = rule.name
        if let actions = config.ruleConfig(for: probe)?.actions { return actions }
        if (try? ruleNamesSecurityGroups(key: rule.key)) == true { probe.securityGroups = ["sg"] }
        return RemediationPlanner.defaultActions(for: probe)
    }

    /// `configuredActions` less the ones an analyst disabled for this rule.
    public func enabledActions(for rule: RuleRecord, config: GavelConfig) -> [String] {
        configuredActions(for: rule, config: config).filter { !rule.disabledActions.contains($0) }
    }
}
