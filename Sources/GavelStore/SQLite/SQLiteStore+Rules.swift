import GavelCore
import GavelStore

/// The global kill switch for automatic dispatch is stored in `settings` under this key.
let autoKillSwitchKey = "auto_disabled"

extension SQLiteStore {
    static let ruleColumns = "rule_key, rule_id, rule_name, mode, disabled_actions, throttled_ms, last_seen_ms"

    /// Maps one `ruleColumns` row to a `Rule`.
    static func rule(from r: Row) -> Rule {
        Rule(
            key: r.string(0) ?? "", ruleID: r.string(1), name: r.string(2), mode: RuleMode(rawValue: r.string(3) ?? "") ?? .manual,
            disabledActions: Set(stringArray(r.string(4))), throttledAt: r.int64(5).map(Timestamp.init(milliseconds:)),
            lastSeenAt: r.int64(6).map(Timestamp.init(milliseconds:)))
    }

    /// The key of the rule row a signal with this rule id and name belongs to, when one exists:
    /// the row its id was first seen with, else the row its name was (so fifteen signals with one
    /// rule's name and fifteen made-up ids are one rule, with one mode and one budget).
    func resolveRuleKey(ruleID: String?, name: String?) throws -> String? {
        if let ruleID, let key = try db.query("SELECT rule_key FROM rule_aliases WHERE kind = 'id' AND value = ?", [.text(ruleID)]).first?.string(0) {
            return key
        }
        if let name, let key = try db.query("SELECT rule_key FROM rule_aliases WHERE kind = 'name' AND value = ?", [.text(name)]).first?.string(0) {
            return key
        }
        return nil
    }

    /// Records that the rule row `key` is known by this id and name (first mapping wins).
    ///
    /// Inside a write transaction each (key, id, name) is inserted once: `INSERT OR IGNORE` of the
    /// same rows again in the same transaction changes nothing (`Database.transactionFacts`).
    func addRuleAliases(key: String, ruleID: String?, name: String?) throws {
        if db.transactionDepth > 0 {
            guard db.transactionFacts.insert(["aliases", key, ruleID, name]).inserted else { return }
        }
        if let ruleID { try db.run("INSERT OR IGNORE INTO rule_aliases (kind, value, rule_key) VALUES ('id', ?, ?)", [.text(ruleID), .text(key)]) }
        if let name { try db.run("INSERT OR IGNORE INTO rule_aliases (kind, value, rule_key) VALUES ('name', ?, ?)", [.text(name), .text(key)]) }
    }

    /// The rule row for a signal's rule, created on first sight with `startingMode` (the
    /// config's), and marked seen now. Must run in a write transaction.
    ///
    /// Touched again in the same write transaction with the same id and name as its last touch,
    /// the insert-or-update could only move `last_seen_ms` (the id and name are already set, the
    /// mode is not changed): so only that is updated, and the row is not read back (`RETURNING`
    /// costs SQLite a temporary table per statement). A touch with another name in between
    /// (a rule renamed) renamed the row, so the next one with the first name runs in full again.
    func touchRule(key: String, ruleID: String?, name: String?, startingMode: RuleMode, at now: Timestamp) throws -> Rule {
        let touchedWith = [ruleID, name]
        if db.transactionDepth > 0, let last = db.transactionRules[key], last.touchedWith == touchedWith {
            try db.run("UPDATE rules SET last_seen_ms = ? WHERE rule_key = ?", [.integer(now.milliseconds), .text(key)])
            var known = last.rule
            known.lastSeenAt = now
            db.transactionRules[key] = (touchedWith, known)
            return known
        }
        let rows = try db.query(
            """
            INSERT INTO rules (rule_key, rule_id, rule_name, mode, last_seen_ms) VALUES (?,?,?,?,?)
            ON CONFLICT(rule_key) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,
                rule_id = coalesce(rule_id, excluded.rule_id), rule_name = coalesce(excluded.rule_name, rule_name)
            RETURNING \(Self.ruleColumns)
            """, [.text(key), .text(ruleID), .text(name), .text(startingMode.rawValue), .integer(now.milliseconds)])
        try addRuleAliases(key: key, ruleID: ruleID, name: name)
        guard let row = rows.first else { throw StoreError.failed("rule \(key) vanished while it was touched") }
        let rule = Self.rule(from: row)
        if db.transactionDepth > 0 { db.transactionRules[key] = (touchedWith, rule) }
        return rule
    }

    /// The rule with this key, id or name (in the caller's transaction).
    func findRule(_ named: String) throws -> Rule? {
        let key =
            try db.query("SELECT rule_key FROM rules WHERE rule_key = ?", [.text(named)]).first?.string(0)
            ?? resolveRuleKey(ruleID: named, name: named)
            ?? db.query("SELECT rule_key FROM rules WHERE rule_id = ?1 OR rule_name = ?1 LIMIT 1", [.text(named)]).first?.string(0)
        guard let key else { return nil }
        return try db.query("SELECT \(Self.ruleColumns) FROM rules WHERE rule_key = ?", [.text(key)]).first.map(Self.rule(from:))
    }

    public func rules() throws(StoreError) -> [Rule] {
        try storeCall {
            try db.query("SELECT \(Self.ruleColumns) FROM rules ORDER BY last_seen_ms DESC, rule_key").map(Self.rule(from:))
        }
    }

    public func rule(named: String) throws(StoreError) -> Rule? {
        try storeCall { try findRule(named) }
    }

    /// Reads `remediation_counts` (schema v3, kept by triggers), so it costs the same with ten
    /// remediations or a million.
    public func ruleCounts() throws(StoreError) -> [String: RuleCounts] {
        try storeCall {
            var out: [String: RuleCounts] = [:]
            for r in try db.query(
                """
                SELECT rule_key, sum(n * (state = 'pending')), sum(n * (state = 'dispatched')) FROM remediation_counts
                GROUP BY rule_key HAVING sum(n) > 0
                """)
            {
                out[r.string(0) ?? ""] = RuleCounts(pending: r.int(1), dispatched: r.int(2))
            }
            return out
        }
    }

    public func ruleNamesSecurityGroups(key: String) throws(StoreError) -> Bool {
        try storeCall {
            try !db.query(
                """
                SELECT 1 FROM entities WHERE kind = 'security_group' AND signal = (SELECT max(id) FROM signals WHERE rule_key = ?) LIMIT 1
                """, [.text(key)]
            ).isEmpty
        }
    }

    @discardableResult
    public func setMode(rule named: String, to mode: RuleMode, by actor: String, at now: Timestamp) throws(StoreError) -> RuleMode? {
        try storeCall {
            try db.writeTransaction {
                let before = try findRule(named)
                let key = before?.key ?? named
                try db.run(
                    """
                    INSERT INTO rules (rule_key, rule_name, mode, mode_explicit) VALUES (?,?,?,1)
                    ON CONFLICT(rule_key) DO UPDATE SET mode = excluded.mode, mode_explicit = 1, throttled_ms = NULL
                    """, [.text(key), .text(before == nil ? named : nil), .text(mode.rawValue)])
                db.transactionRules.removeAll()
                if before == nil { try addRuleAliases(key: key, ruleID: nil, name: named) }
                try audit(actor: actor, action: "mode", subject: "rule \(key)", before: before?.mode.rawValue, after: mode.rawValue, at: now)
                if before?.mode == .auto && mode != .auto {
                    try withdrawAutomaticApprovals(actor: "auto:\(key)", reason: "rule \(key) switched to \(mode.rawValue) by \(actor)", at: now)
                }
                return before?.mode
            }
        }
    }

    public func setAction(rule named: String, action: String, enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                guard var r = try findRule(named) else { throw StoreError.notFound("no detection rule '\(named)'") }
                let before = r.disabledActions.sorted().joined(separator: ",")
                if enabled { r.disabledActions.remove(action) } else { r.disabledActions.insert(action) }
                try db.run(
                    "UPDATE rules SET disabled_actions = ? WHERE rule_key = ?", [.text(jsonArray(r.disabledActions.sorted())), .text(r.key)])
                db.transactionRules.removeAll()
                try audit(
                    actor: actor, action: enabled ? "enable-action" : "disable-action", subject: "rule \(r.key)", before: before,
                    after: r.disabledActions.sorted().joined(separator: ","), detail: action, at: now)
            }
        }
    }

    public func automaticDispatchDisabled() throws(StoreError) -> Bool {
        try storeCall { try killSwitchOn() }
    }

    func killSwitchOn() throws -> Bool {
        try db.query("SELECT value FROM settings WHERE key = ?", [.text(autoKillSwitchKey)]).first?.string(0) == "1"
    }

    public func setAutomaticDispatch(enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError) {
        try storeCall {
            try db.writeTransaction {
                let before = try killSwitchOn()
                try db.run(
                    "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [.text(autoKillSwitchKey), .text(enabled ? "0" : "1")])
                try audit(
                    actor: actor, action: "auto-all", subject: "all rules", before: before ? "off" : "on", after: enabled ? "on" : "off", at: now)
                if !enabled {
                    try withdrawAutomaticApprovals(actor: nil, reason: "automatic dispatch switched off (gavel auto --all off) by \(actor)", at: now)
                }
            }
        }
    }

    /// Takes back automatic approvals not yet claimed: `approved` → `pending` (the brakes), for
    /// one rule's `auto:RULE` (`actor`) or every rule's (nil). Audited per remediation.
    func withdrawAutomaticApprovals(actor: String?, reason: String, at now: Timestamp) throws {
        let from = RemediationState.approved
        let to = try RemediationLifecycle.next(from: from, on: .withdraw, by: .brakes)
        let rows: [Row]
        if let actor {
            rows = try db.query("SELECT id FROM remediations WHERE state = ? AND decided_by = ?", [.text(from.rawValue), .text(actor)])
        } else {
            rows = try db.query(
                "SELECT id FROM remediations WHERE state = ? AND decided_by >= 'auto:' AND decided_by < 'auto;'", [.text(from.rawValue)])
        }
        for row in rows {
            guard let id = row.int64(0) else { continue }
            let changed = try db.run(
                """
                UPDATE remediations SET state = ?, decided_by = NULL, decided_ms = NULL, bound_request = NULL, config_version = NULL,
                    next_attempt_ms = NULL, updated_ms = ? WHERE id = ? AND state = ?
                """, [.text(to.rawValue), .integer(now.milliseconds), .integer(id), .text(from.rawValue)])
            if changed > 0 {
                try audit(
                    actor: "gavel", action: "withdraw", subject: "remediation \(id)", before: from.rawValue, after: to.rawValue, detail: reason,
                    at: now)
            }
        }
    }
}
