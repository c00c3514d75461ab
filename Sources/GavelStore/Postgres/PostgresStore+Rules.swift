import GavelCore
import GavelStore

/// The global kill switch for automatic dispatch is stored in `settings` under this key (as in the SQLite engine).
let pgAutoKillSwitchKey = "auto_disabled"

extension PostgresStore {
    static let ruleColumns = "rule_key, rule_id, rule_name, mode, disabled_actions, throttled_ms, last_seen_ms"

    /// Maps one `ruleColumns` row to a `Rule`.
    static func rule(from r: PGRow) -> Rule {
        Rule(
            key: r.string(0) ?? "", ruleID: r.string(1), name: r.string(2), mode: RuleMode(rawValue: r.string(3) ?? "") ?? .manual,
            disabledActions: Set(pgStringArray(r.string(4))), throttledAt: r.int64(5).map(Timestamp.init(milliseconds:)),
            lastSeenAt: r.int64(6).map(Timestamp.init(milliseconds:)))
    }

    /// The key of the rule row a signal with this rule id and name belongs to, when one exists:
    /// the row its id was first seen with, else the row its name was.
    func resolveRuleKey(ruleID: String?, name: String?) throws -> String? {
        if let ruleID, let key = try db.query("SELECT rule_key FROM rule_aliases WHERE kind = 'id' AND value = $1", [.text(ruleID)]).first?.string(0)
        {
            return key
        }
        if let name, let key = try db.query("SELECT rule_key FROM rule_aliases WHERE kind = 'name' AND value = $1", [.text(name)]).first?.string(0) {
            return key
        }
        return nil
    }

    /// Records that the rule row `key` is known by this id and name (first mapping wins).
    func addRuleAliases(key: String, ruleID: String?, name: String?) throws {
        if let ruleID {
            try db.run("INSERT INTO rule_aliases (kind, value, rule_key) VALUES ('id', $1, $2) ON CONFLICT DO NOTHING", [.text(ruleID), .text(key)])
        }
        if let name {
            try db.run("INSERT INTO rule_aliases (kind, value, rule_key) VALUES ('name', $1, $2) ON CONFLICT DO NOTHING", [.text(name), .text(key)])
        }
    }

    /// The rule row for a signal's rule, created on first sight with `startingMode` (the
    /// config's), and marked seen now. Must run in a transaction.
    ///
    /// A rule row that already says all this (its id and name, seen within the last second) is
    /// only read: writing it would make every receiver's delivery of the rule queue behind the
    /// row lock until the previous one commits. So `last_seen` is kept to the second here.
    func touchRule(key: String, ruleID: String?, name: String?, startingMode: RuleMode, at now: Timestamp) throws -> Rule {
        // The row and whether its aliases are known, in one round trip.
        if let row = try db.query(
            """
            SELECT \(Self.ruleColumns),
                (SELECT count(*) FROM rule_aliases WHERE (kind = 'id' AND value = $2) OR (kind = 'name' AND value = $3))
            FROM rules WHERE rule_key = $1
            """, [.text(key), .text(ruleID), .text(name)]
        ).first {
            let rule = Self.rule(from: row)
            let current =
                (ruleID == nil || rule.ruleID != nil) && (name == nil || rule.name == name)
                && (rule.lastSeenAt.map { now.milliseconds - $0.milliseconds < 1000 } ?? false)
            if current && row.int(7) == (ruleID == nil ? 0 : 1) + (name == nil ? 0 : 1) { return rule }
        }
        let rows = try db.query(
            """
            INSERT INTO rules (rule_key, rule_id, rule_name, mode, last_seen_ms) VALUES ($1,$2,$3,$4,$5)
            ON CONFLICT (rule_key) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,
                rule_id = coalesce(rules.rule_id, excluded.rule_id), rule_name = coalesce(excluded.rule_name, rules.rule_name)
            RETURNING \(Self.ruleColumns)
            """, [.text(key), .text(ruleID), .text(name), .text(startingMode.rawValue), .integer(now.milliseconds)])
        try addRuleAliases(key: key, ruleID: ruleID, name: name)
        guard let row = rows.first else { throw StoreError.failed("rule \(key) vanished while it was touched") }
        return Self.rule(from: row)
    }

    /// The rule with this key, id or name (in the caller's transaction).
    func findRule(_ named: String) throws -> Rule? {
        let key =
            try db.query("SELECT rule_key FROM rules WHERE rule_key = $1", [.text(named)]).first?.string(0)
            ?? resolveRuleKey(ruleID: named, name: named)
            ?? db.query("SELECT rule_key FROM rules WHERE rule_id = $1 OR rule_name = $1 LIMIT 1", [.text(named)]).first?.string(0)
        guard let key else { return nil }
        return try db.query("SELECT \(Self.ruleColumns) FROM rules WHERE rule_key = $1", [.text(key)]).first.map(Self.rule(from:))
    }

    public func rules() throws(StoreError) -> [Rule] {
        try pgCall {
            try db.query("SELECT \(Self.ruleColumns) FROM rules ORDER BY last_seen_ms DESC NULLS LAST, rule_key").map(Self.rule(from:))
        }
    }

    public func rule(named: String) throws(StoreError) -> Rule? {
        try pgCall { try findRule(named) }
    }

    /// Reads `remediation_counts` and the deltas not yet folded into it, so it costs about the
    /// same with ten remediations or a million.
    public func ruleCounts() throws(StoreError) -> [String: RuleCounts] {
        try pgCall {
            var out: [String: RuleCounts] = [:]
            for r in try countRows() {
                let key = r.string(0) ?? ""
                var counts = out[key] ?? RuleCounts()
                switch r.string(1) {
                case RemediationState.pending.rawValue: counts.pending += r.int(2)
                case RemediationState.dispatched.rawValue: counts.dispatched += r.int(2)
                default: break
                }
                out[key] = counts
            }
            return out
        }
    }

    public func ruleNamesSecurityGroups(key: String) throws(StoreError) -> Bool {
        try pgCall {
            try !db.query(
                """
                SELECT 1 FROM entities WHERE kind = 'security_group' AND signal = (SELECT max(id) FROM signals WHERE rule_key = $1) LIMIT 1
                """, [.text(key)]
            ).isEmpty
        }
    }

    @discardableResult
    public func setMode(rule named: String, to mode: RuleMode, by actor: String, at now: Timestamp) throws(StoreError) -> RuleMode? {
        try pgCall {
            try transaction {
                let before = try findRule(named)
                let key = before?.key ?? named
                try db.run(
                    """
                    INSERT INTO rules (rule_key, rule_name, mode, mode_explicit) VALUES ($1,$2,$3,1)
                    ON CONFLICT (rule_key) DO UPDATE SET mode = excluded.mode, mode_explicit = 1, throttled_ms = NULL
                    """, [.text(key), .text(before == nil ? named : nil), .text(mode.rawValue)])
                if before == nil { try addRuleAliases(key: key, ruleID: nil, name: named) }
                try audit(actor: actor, action: "mode", subject: "rule \(key)", before: before?.mode.rawValue, after: mode.rawValue, at: now)
                if before?.mode == .auto && mode != .auto {
                    try withdrawAutomaticApprovals(actor: "auto:\(key)", reason: "rule \(key) switched to \(mode.rawValue) by \(actor)", at: now)
                }
                try announce("rule")
                return before?.mode
            }
        }
    }

    public func setAction(rule named: String, action: String, enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError) {
        try pgCall {
            try transaction {
                guard var r = try findRule(named) else { throw StoreError.notFound("no detection rule '\(named)'") }
                let before = r.disabledActions.sorted().joined(separator: ",")
                if enabled { r.disabledActions.remove(action) } else { r.disabledActions.insert(action) }
                try db.run(
                    "UPDATE rules SET disabled_actions = $1 WHERE rule_key = $2", [.text(pgJSONArray(r.disabledActions.sorted())), .text(r.key)])
                try audit(
                    actor: actor, action: enabled ? "enable-action" : "disable-action", subject: "rule \(r.key)", before: before,
                    after: r.disabledActions.sorted().joined(separator: ","), detail: action, at: now)
                try announce("rule")
            }
        }
    }

    public func automaticDispatchDisabled() throws(StoreError) -> Bool {
        try pgCall { try killSwitchOn() }
    }

    func killSwitchOn() throws -> Bool {
        try db.query("SELECT value FROM settings WHERE key = $1", [.text(pgAutoKillSwitchKey)]).first?.string(0) == "1"
    }

    public func setAutomaticDispatch(enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError) {
        try pgCall {
            try transaction {
                let before = try killSwitchOn()
                try db.run(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [.text(pgAutoKillSwitchKey), .text(enabled ? "0" : "1")])
                try audit(
                    actor: actor, action: "auto-all", subject: "all rules", before: before ? "off" : "on", after: enabled ? "on" : "off", at: now)
                if !enabled {
                    try withdrawAutomaticApprovals(actor: nil, reason: "automatic dispatch switched off (gavel auto --all off) by \(actor)", at: now)
                }
                try announce("rule")
            }
        }
    }

    /// Takes back automatic approvals not yet claimed: `approved` → `pending` (the brakes), for
    /// one rule's `auto:RULE` (`actor`) or every rule's (nil). Audited per remediation.
    func withdrawAutomaticApprovals(actor: String?, reason: String, at now: Timestamp) throws {
        let from = RemediationState.approved
        let to = try RemediationLifecycle.next(from: from, on: .withdraw, by: .brakes)
        let rows: [PGRow]
        if let actor {
            rows = try db.query("SELECT id FROM remediations WHERE state = $1 AND decided_by = $2 ORDER BY id", [.text(from.rawValue), .text(actor)])
        } else {
            rows = try db.query(
                "SELECT id FROM remediations WHERE state = $1 AND decided_by >= 'auto:' AND decided_by < 'auto;' ORDER BY id", [.text(from.rawValue)])
        }
        for row in rows {
            guard let id = row.int64(0) else { continue }
            let changed = try db.run(
                """
                UPDATE remediations SET state = $1, decided_by = NULL, decided_ms = NULL, bound_request = NULL, config_version = NULL,
                    next_attempt_ms = NULL, updated_ms = $2 WHERE id = $3 AND state = $4
                """, [.text(to.rawValue), .integer(now.milliseconds), .integer(id), .text(from.rawValue)])
            if changed > 0 {
                try audit(
                    actor: "gavel", action: "withdraw", subject: "remediation \(id)", before: from.rawValue, after: to.rawValue, detail: reason,
                    at: now)
            }
        }
    }
}
