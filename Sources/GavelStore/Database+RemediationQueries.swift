import GavelCore

/// A remediation as `gavel list --json` shows it (DESIGN.md "JSON output of the CLI").
public struct RemediationSummary: Sendable, Equatable {
    public var id: Int64
    public var state: RemediationState
    public var action: String
    public var targetKind: TargetKind
    public var target: String
    /// The detection rule's name (or key when unnamed).
    public var rule: String
    public var ruleKey: String
    public var severity: Severity?
    /// How many signals this remediation gathers.
    public var signals: Int
    /// Datadog ids of those signals (the newest 50).
    public var signalIDs: [String]
    public var ips: [String]
    public var users: [String]
    public var decidedBy: String?
    public var reason: String?
    public var attempts: Int
    public var lastStatus: Int?
    public var lastError: String?
    public var createdMs: Int64
    public var updatedMs: Int64
    /// The rendered request recorded for a dry-run (`simulated`) remediation.
    public var request: String?

    /// The contract's JSON object.
    public var json: JSONValue {
        func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return .object([
            JSONMember("id", .number(String(id))),
            JSONMember("state", .string(state.rawValue)),
            JSONMember("action", .string(action)),
            JSONMember("target", .string(target)),
            JSONMember("target_kind", .string(targetKind.rawValue)),
            JSONMember("rule", .string(rule)),
            JSONMember("severity", opt(severity?.rawValue)),
            JSONMember("signals", .number(String(signals))),
            JSONMember("signal_ids", strings(signalIDs)),
            JSONMember("ips", strings(ips)),
            JSONMember("users", strings(users)),
            JSONMember("decided_by", opt(decidedBy)),
            JSONMember("reason", opt(reason)),
            JSONMember("attempts", .number(String(attempts))),
            JSONMember("last_status", lastStatus.map { .number(String($0)) } ?? .null),
            JSONMember("last_error", opt(lastError)),
            JSONMember("created_at", .string(Timestamp.rfc3339(ms: createdMs))),
            JSONMember("updated_at", .string(Timestamp.rfc3339(ms: updatedMs))),
        ])
    }
}

/// One dispatch attempt of a remediation.
public struct AttemptRecord: Sendable, Equatable {
    public var startedMs: Int64
    public var durationMs: Int?
    public var status: Int?
    public var outcome: String?
    public var error: String?
    public var response: String?
}

/// One audit-log row.
public struct AuditRecord: Sendable, Equatable {
    public var id: Int64
    public var atMs: Int64
    public var actor: String
    public var action: String
    public var subject: String
    public var before: String?
    public var after: String?
    public var detail: String?

    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return .object([
            JSONMember("id", .number(String(id))), JSONMember("at", .string(Timestamp.rfc3339(ms: atMs))),
            JSONMember("actor", .string(actor)), JSONMember("action", .string(action)), JSONMember("subject", .string(subject)),
            JSONMember("before", opt(before)), JSONMember("after", opt(after)), JSONMember("detail", opt(detail)),
        ])
    }
}

/// Filters for listing remediations; all optional.
public struct RemediationFilter: Sendable, Equatable {
    public var states: [RemediationState]
    /// Rule key, id or name.
    public var rule: String?
    /// Matches target, rule name, or an IP/user entity of the remediation's signals (substring).
    public var text: String?
    public init(states: [RemediationState] = [], rule: String? = nil, text: String? = nil) {
        self.states = states
        self.rule = rule
        self.text = text
    }
}

let remediationColumns = """
    r.id, r.state, r.action, r.target_kind, r.target, coalesce(r.rule_name, r.rule_key), r.rule_key, r.severity_rank, r.signals,
    r.decided_by, r.reason, r.attempts, r.last_status, r.last_error, r.created_ms, r.updated_ms, r.request
    """

extension Database {
    /// Remediations newest first (`limit` 0: no limit), optionally filtered.
    public func remediations(_ filter: RemediationFilter = RemediationFilter(), limit: Int, before: Int64? = nil) throws -> [RemediationSummary] {
        try readTransaction {
            var sql = "SELECT \(remediationColumns) FROM remediations r WHERE r.id < ?"
            var values: [SQLValue] = [.integer(before ?? Int64.max)]
            if !filter.states.isEmpty {
                sql += " AND r.state IN (" + filter.states.map { _ in "?" }.joined(separator: ",") + ")"
                values += filter.states.map { .text($0.rawValue) }
            }
            if let rule = filter.rule {
                sql += " AND r.rule_key IN (SELECT rule_key FROM rules WHERE rule_key = ? OR rule_id = ? OR rule_name = ? UNION SELECT ?)"
                values += [.text(rule), .text(rule), .text(rule), .text(rule)]
            }
            if let text = filter.text, !text.isEmpty {
                sql += """
                     AND (instr(r.target, ?) > 0 OR instr(coalesce(r.rule_name, r.rule_key), ?) > 0 OR EXISTS (
                        SELECT 1 FROM remediation_entities re WHERE re.remediation = r.id AND instr(re.value, ?) > 0))
                    """
                values += [.text(text), .text(text), .text(text)]
            }
            sql += " ORDER BY r.id DESC LIMIT ?"
            values.append(.integer(limit == 0 ? -1 : Int64(limit)))
            return try query(sql, values).map { try remediationSummary($0) }
        }
    }

    /// One remediation, or nil.
    public func remediation(id: Int64) throws -> RemediationSummary? {
        try readTransaction {
            try query("SELECT \(remediationColumns) FROM remediations r WHERE r.id = ?", [.integer(id)]).first.map { try remediationSummary($0) }
        }
    }

    func remediationSummary(_ r: Row) throws -> RemediationSummary {
        let id = r.int64(0) ?? 0
        let signalIDs = try query(
            """
            SELECT s.signal_id FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
            WHERE rs.remediation = ? ORDER BY rs.signal DESC LIMIT 50
            """, [.integer(id)]
        ).compactMap { $0.string(0) }
        let entities = try query(
            """
            SELECT e.kind, e.value, min(e.signal * 1000 + e.position) AS first FROM remediation_signals rs JOIN entities e ON e.signal = rs.signal
            WHERE rs.remediation = ? AND e.kind IN ('ip','user') GROUP BY e.kind, e.value ORDER BY first LIMIT 200
            """, [.integer(id)])
        return RemediationSummary(
            id: id, state: RemediationState(rawValue: r.string(1) ?? "") ?? .pending, action: r.string(2) ?? "",
            targetKind: TargetKind(rawValue: r.string(3) ?? "") ?? .signal, target: r.string(4) ?? "", rule: r.string(5) ?? "",
            ruleKey: r.string(6) ?? "", severity: Severity(rank: r.int(7)), signals: r.int(8), signalIDs: signalIDs,
            ips: entities.filter { $0.string(0) == "ip" }.compactMap { $0.string(1) },
            users: entities.filter { $0.string(0) == "user" }.compactMap { $0.string(1) },
            decidedBy: r.string(9), reason: r.string(10), attempts: r.int(11), lastStatus: r.int64(12).map { Int($0) },
            lastError: r.string(13), createdMs: r.int64(14) ?? 0, updatedMs: r.int64(15) ?? 0, request: r.string(16))
    }

    /// The dispatch attempts of a remediation, oldest first.
    public func attempts(remediation id: Int64) throws -> [AttemptRecord] {
        try query("SELECT started_ms, duration_ms, status, outcome, error, response FROM attempts WHERE remediation = ? ORDER BY id", [.integer(id)])
            .map {
                AttemptRecord(
                    startedMs: $0.int64(0) ?? 0, durationMs: $0.int64(1).map { Int($0) }, status: $0.int64(2).map { Int($0) },
                    outcome: $0.string(3), error: $0.string(4), response: $0.string(5))
            }
    }

    /// Audit rows newest first; `subject` narrows to one subject (e.g. `remediation 12`).
    public func auditLog(limit: Int, before: Int64? = nil, subject: String? = nil) throws -> [AuditRecord] {
        var sql = "SELECT id, at_ms, actor, action, subject, before, after, detail FROM audit WHERE id < ?"
        var values: [SQLValue] = [.integer(before ?? Int64.max)]
        if let subject {
            sql += " AND subject = ?"
            values.append(.text(subject))
        }
        sql += " ORDER BY id DESC LIMIT ?"
        values.append(.integer(limit == 0 ? -1 : Int64(limit)))
        return try query(sql, values).map {
            AuditRecord(
                id: $0.int64(0) ?? 0, atMs: $0.int64(1) ?? 0, actor: $0.string(2) ?? "", action: $0.string(3) ?? "",
                subject: $0.string(4) ?? "", before: $0.string(5), after: $0.string(6), detail: $0.string(7))
        }
    }

    /// Per-rule counts for `gavel rules`: pending and dispatched remediations. Rules with no
    /// remediation are absent. Reads `remediation_counts` (schema v3, kept by triggers), so it
    /// costs the same with ten remediations or a million.
    public func ruleCounts() throws -> [String: (pending: Int, dispatched: Int)] {
        var out: [String: (pending: Int, dispatched: Int)] = [:]
        // remediation_counts (schema v3) holds count(*) per (rule, state), kept by triggers.
        for r in try query(
            """
            SELECT rule_key, sum(n * (state = 'pending')), sum(n * (state = 'dispatched')) FROM remediation_counts
            GROUP BY rule_key HAVING sum(n) > 0
            """)
        {
            out[r.string(0) ?? ""] = (r.int(1), r.int(2))
        }
        return out
    }

    /// Counts of remediations per state; states with none are absent. Reads `remediation_counts`
    /// (schema v3, kept by triggers) rather than scanning `remediations`.
    public func stateCounts() throws -> [RemediationState: Int] {
        var out: [RemediationState: Int] = [:]
        for r in try query("SELECT state, sum(n) FROM remediation_counts GROUP BY state HAVING sum(n) > 0") {
            if let s = RemediationState(rawValue: r.string(0) ?? "") { out[s] = r.int(1) }
        }
        return out
    }
}
