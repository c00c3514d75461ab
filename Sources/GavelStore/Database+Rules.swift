import GavelCore

/// A detection rule as the store keeps it: its mode and the actions an analyst disabled.
public struct RuleRecord: Sendable, Equatable {
    /// The rule's id when signals carry one, else its name.
    public var key: String
    public var ruleID: String?
    public var name: String?
    public var mode: RuleMode
    /// Actions the analyst switched off for this rule (console Rules view), persisted.
    public var disabledActions: Set<String>
    /// When automatic dispatch last hit a budget (epoch ms), nil when not throttled.
    public var throttledMs: Int64?
    public var lastSeenMs: Int64?
}

/// The global kill switch for automatic dispatch is stored in `settings` under this key.
let autoKillSwitchKey = "auto_disabled"

extension Database {
    /// The rule row for `key`, creating it (with `startingMode`, the config's) on first sight,
    /// and marking it seen now: a lookup in the small `rules` table and an upsert with
    /// `RETURNING` (SQLite ≥ 3.35) per signal ingested.
    public func touchRule(key: String, ruleID: String?, name: String?, startingMode: RuleMode, nowMs: Int64) throws -> RuleRecord {
        // A rule named before its first signal (`gavel auto "Name" on`), or seen earlier without
        // an id, keeps its row — and so its mode — when signals start carrying SECURITY_RULE_ID.
        var storedKey = key
        if let ruleID, key == ruleID,
            let named = try query(
                "SELECT rule_key FROM rules WHERE rule_key != ?1 AND (rule_id = ?1 OR (rule_id IS NULL AND rule_name = ?2)) LIMIT 1",
                [.text(ruleID), .text(name)]
            ).first?.string(0)
        {
            storedKey = named
        }
        let rows = try query(
            """
            INSERT INTO rules (rule_key, rule_id, rule_name, mode, last_seen_ms) VALUES (?,?,?,?,?)
            ON CONFLICT(rule_key) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,
                rule_id = coalesce(excluded.rule_id, rule_id), rule_name = coalesce(excluded.rule_name, rule_name)
            RETURNING rule_key, rule_id, rule_name, mode, disabled_actions, throttled_ms, last_seen_ms
            """, [.text(storedKey), .text(ruleID), .text(name), .text(startingMode.rawValue), .integer(nowMs)])
        guard let row = rows.first else { return try rule(key: storedKey)! }
        return RuleRecord(row: row)
    }

    /// The rule with this key, or with this id or name; nil when unknown.
    public func rule(key: String) throws -> RuleRecord? {
        guard
            let r = try query(
                """
                SELECT rule_key, rule_id, rule_name, mode, disabled_actions, throttled_ms, last_seen_ms FROM rules
                WHERE rule_key = ?1 OR rule_id = ?1 OR rule_name = ?1 ORDER BY rule_key = ?1 DESC LIMIT 1
                """, [.text(key)]
            ).first
        else { return nil }
        return RuleRecord(row: r)
    }

    /// All rules, most recently seen first.
    public func rules() throws -> [RuleRecord] {
        try query(
            "SELECT rule_key, rule_id, rule_name, mode, disabled_actions, throttled_ms, last_seen_ms FROM rules ORDER BY last_seen_ms DESC, rule_key"
        )
        .map(RuleRecord.init(row:))
    }

    /// Sets a rule's mode (creating the rule row when a rule was named before any signal),
    /// clears its throttled flag, and writes an audit row. Returns the mode before.
    @discardableResult
    public func setRuleMode(key: String, to mode: RuleMode, by actor: String, nowMs: Int64 = Timestamp.nowMs()) throws -> RuleMode? {
        try writeTransaction {
            let before = try rule(key: key)
            let storedKey = before?.key ?? key
            try run(
                """
                INSERT INTO rules (rule_key, rule_name, mode, mode_explicit) VALUES (?,?,?,1)
                ON CONFLICT(rule_key) DO UPDATE SET mode = excluded.mode, mode_explicit = 1, throttled_ms = NULL
                """, [.text(storedKey), .text(before == nil ? key : nil), .text(mode.rawValue)])
            try audit(actor: actor, action: "mode", subject: "rule \(storedKey)", before: before?.mode.rawValue, after: mode.rawValue, atMs: nowMs)
            return before?.mode
        }
    }

    /// Enables or disables one action for a rule (persisted; the planner skips disabled ones).
    public func setRuleAction(key: String, action: String, enabled: Bool, by actor: String, nowMs: Int64 = Timestamp.nowMs()) throws {
        try writeTransaction {
            guard var r = try rule(key: key) else { throw StoreError.notFound("no detection rule '\(key)'") }
            let before = r.disabledActions.sorted().joined(separator: ",")
            if enabled { r.disabledActions.remove(action) } else { r.disabledActions.insert(action) }
            try run("UPDATE rules SET disabled_actions = ? WHERE rule_key = ?", [.text(jsonArray(r.disabledActions.sorted())), .text(r.key)])
            try audit(
                actor: actor, action: enabled ? "enable-action" : "disable-action", subject: "rule \(r.key)",
                before: before, after: r.disabledActions.sorted().joined(separator: ","), detail: action, atMs: nowMs)
        }
    }

    /// True when the rule's latest signal named a security group (so its default action is
    /// `delete-security-group`, DESIGN.md "Which remediations a signal proposes").
    public func ruleNamesSecurityGroups(key: String) throws -> Bool {
        try !query(
            """
            SELECT 1 FROM entities WHERE kind = 'security_group' AND signal = (SELECT max(id) FROM signals WHERE rule_key = ?) LIMIT 1
            """, [.text(key)]
        ).isEmpty
    }

    /// True when the global kill switch (`gavel auto --all off`) stops automatic dispatch.
    public func automaticDispatchDisabled() throws -> Bool {
        try query("SELECT value FROM settings WHERE key = ?", [.text(autoKillSwitchKey)]).first?.string(0) == "1"
    }

    /// Sets the global kill switch and writes an audit row.
    public func setAutomaticDispatch(enabled: Bool, by actor: String, nowMs: Int64 = Timestamp.nowMs()) throws {
        try writeTransaction {
            let before = try automaticDispatchDisabled()
            try run(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [.text(autoKillSwitchKey), .text(enabled ? "0" : "1")])
            try audit(
                actor: actor, action: "auto-all", subject: "all rules", before: before ? "off" : "on", after: enabled ? "on" : "off", atMs: nowMs)
        }
    }
}

extension RuleRecord {
    init(row r: Row) {
        let disabled: Set<String>
        if let text = r.string(4), case .array(let a)? = try? JSONValue.parse(text) {
            disabled = Set(a.compactMap(\.scalarText))
        } else {
            disabled = []
        }
        self.init(
            key: r.string(0) ?? "", ruleID: r.string(1), name: r.string(2), mode: RuleMode(rawValue: r.string(3) ?? "") ?? .manual,
            disabledActions: disabled, throttledMs: r.int64(5), lastSeenMs: r.int64(6))
    }
}

/// A store-level refusal with a message for the analyst (exit 1 in the CLI).
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case conflict(String)
    case refused(String)

    public var description: String {
        switch self {
        case .notFound(let m), .conflict(let m), .refused(let m): m
        }
    }
}
