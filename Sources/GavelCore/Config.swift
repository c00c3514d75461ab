/// gavel's configuration: the receiver's settings, the actions remediations dispatch to,
/// per-rule action lists and modes, the allowlist and the automatic-dispatch budgets.
///
/// Loaded from a JSON file by `load(path:environment:databasePath:)` (field reference:
/// `docs/configuration.md`); without a file, `builtInDefaults(databasePath:)` applies: no
/// secret (unless `$GAVEL_TOKEN`), the three built-in actions writing to the outbox
/// `gavel-outbox.jsonl` beside the database, every rule manual.
public struct GavelConfig: Sendable, Equatable {
    /// `HOST:PORT` the receiver listens on; nil = the command line's default (`127.0.0.1:8787`).
    public var listen: String?
    /// The receiver's shared secret; nil = no authentication (the receiver decides whether to allow that).
    public var secret: String?
    /// The header that may carry the secret (besides `Authorization`). Default `X-Gavel-Token`.
    public var secretHeader: String
    /// Largest accepted webhook body, in bytes. Default 1 MiB (1 048 576).
    public var maxBodyBytes: Int
    /// Actions by name. Always holds the built-ins `ban-ip`, `disable-user` and
    /// `delete-security-group` (as outbox actions unless the config redefines them).
    public var actions: [String: ActionConfig]
    /// Per-rule settings, keyed by detection rule id or rule name (`SECURITY_RULE_ID` /
    /// `SECURITY_RULE_NAME`).
    public var rules: [String: RuleConfig]
    /// Targets never remediated.
    public var allowlist: Allowlist
    /// Budgets for automatic dispatch.
    public var autoLimits: AutoLimits
    /// Whether action URLs may point at loopback, link-local, metadata or private addresses. Default false.
    public var allowInternalActionURLs: Bool
    /// The default outbox file for outbox actions; nil = `gavel-outbox.jsonl` beside the database.
    public var outboxPath: String?
    /// The version of the configuration in force in the store this was read from (recorded with
    /// every request bound under it); nil for a file not (yet) applied, or the built-in defaults.
    public var version: Int?
    /// Per-sender settings (`senders`): Alertmanager and Grafana label names, generic senders.
    /// Default `SenderSettings()`.
    public var senders = SenderSettings()
    /// The word back to Datadog (`datadog`): nil (the default) sends nothing to Datadog.
    public var datadogTriage: DatadogTriageConfig?

    /// The configuration used when there is no config file.
    /// - Parameter databasePath: the SQLite database's path; the outbox goes beside it.
    public static func builtInDefaults(databasePath: String) -> GavelConfig {
        let outbox = defaultOutboxPath(databasePath: databasePath)
        return GavelConfig(
            listen: nil, secret: nil, secretHeader: "X-Gavel-Token", maxBodyBytes: 1 << 20,
            actions: ActionConfig.builtInActions(outboxPath: outbox), rules: [:],
            allowlist: Allowlist(), autoLimits: AutoLimits(), allowInternalActionURLs: false,
            outboxPath: nil)
    }

    /// `gavel-outbox.jsonl` in the directory of `databasePath` (the bare file name when the
    /// database path has no directory part).
    public static func defaultOutboxPath(databasePath: String) -> String {
        guard let slash = databasePath.lastIndex(of: "/") else { return "gavel-outbox.jsonl" }
        let directory = databasePath[..<slash]
        return (directory.isEmpty ? "/" : directory + "/") + "gavel-outbox.jsonl"
    }

    /// The rule settings for `signal`: looked up by its rule id first, then its rule name.
    public func ruleConfig(for signal: Signal) -> RuleConfig? {
        ruleConfig(ruleID: signal.ruleID, ruleName: signal.ruleName)
    }

    /// The rule settings for a rule with this id and name: looked up by id first, then by name.
    public func ruleConfig(ruleID: String?, ruleName: String?) -> RuleConfig? {
        if let id = ruleID, let rule = rules[id] { return rule }
        if let name = ruleName, let rule = rules[name] { return rule }
        return nil
    }
}

/// A detection rule's settings in the config.
public struct RuleConfig: Sendable, Equatable {
    /// The actions the rule proposes, in order; nil = the defaults (see `RemediationPlanner`).
    public var actions: [String]?
    /// The mode the rule starts in (the console can change it; the database then wins). Default `manual`.
    public var mode: RuleMode
    /// Durations overriding the actions' own for this rule (`durations`: action name → duration;
    /// nil value: permanent), in milliseconds.
    public var durations: [String: Int64?]
    /// Approvals required, overriding the actions' own for this rule (`approvals`: action name → 1…5).
    public var approvals: [String: Int]
    /// How long this rule's proposals may stay pending, overriding the actions' (`pending_ttl`), in ms.
    public var pendingTTLMs: Int64?

    public init(
        actions: [String]? = nil, mode: RuleMode = .manual, durations: [String: Int64?] = [:], approvals: [String: Int] = [:],
        pendingTTLMs: Int64? = nil
    ) {
        self.actions = actions
        self.mode = mode
        self.durations = durations
        self.approvals = approvals
        self.pendingTTLMs = pendingTTLMs
    }
}

extension GavelConfig {
    /// How many different analysts must approve a remediation of `action` for this rule (the
    /// two-person rule): the rule's `approvals` entry, else the action's. At least 1.
    public func requiredApprovals(action: String, ruleID: String?, ruleName: String?) -> Int {
        ruleConfig(ruleID: ruleID, ruleName: ruleName)?.approvals[action] ?? actions[action]?.approvals ?? 1
    }

    /// How long a proposal of `action` for this rule may stay pending (ms), nil: forever.
    public func pendingTTL(action: String, ruleID: String?, ruleName: String?) -> Int64? {
        ruleConfig(ruleID: ruleID, ruleName: ruleName)?.pendingTTLMs ?? actions[action]?.pendingTTLMs
    }

    /// How long a remediation of `action` for a rule with this id and name stays in force, in
    /// milliseconds (nil: permanent): the rule's `durations` entry, else the action's `duration`.
    public func duration(action: String, ruleID: String?, ruleName: String?) -> Int64? {
        if let rule = ruleConfig(ruleID: ruleID, ruleName: ruleName), let override = rule.durations[action] { return override }
        return actions[action]?.durationMs
    }
}

/// Budgets for automatic dispatch (hardening checklist D7): within any `windowSeconds`, at
/// most `perRule` automatic approvals per detection rule and `global` in all; the rest wait
/// for an analyst.
public struct AutoLimits: Sendable, Equatable {
    /// Automatic approvals per rule per window. Default 10.
    public var perRule: Int
    /// Automatic approvals across all rules per window. Default 50.
    public var global: Int
    /// The sliding window, in seconds. Default 600.
    public var windowSeconds: Int

    public init(perRule: Int = 10, global: Int = 50, windowSeconds: Int = 600) {
        self.perRule = perRule
        self.global = global
        self.windowSeconds = windowSeconds
    }
}

/// A config file problem, naming the field at fault as a path such as
/// `actions.ban-ip.http.url` or `rules["Impossible travel"].actions[1]`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field's path; empty for a problem with the file as a whole.
    public var field: String
    /// What is wrong with it.
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `config: FIELD: MESSAGE` (or `config: MESSAGE` for the whole file).
    public var description: String {
        field.isEmpty ? "config: \(message)" : "config: \(field): \(message)"
    }
}

/// Builds the field paths named in `ConfigError`s.
enum ConfigPath {
    /// `parent.key`, or `parent["key"]` when the key is not a plain name (`[A-Za-z0-9_-]+`).
    static func child(_ parent: String, _ key: String) -> String {
        let plain =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }
        if plain { return parent.isEmpty ? key : "\(parent).\(key)" }
        return "\(parent)[\(key.quotedForMessage)]"
    }
}
