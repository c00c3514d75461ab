import Foundation
import GavelCore
import GavelStore

/// The console's view of the SQLite store: every list is a keyset page, every call one short
/// read. Owned by the UI thread (it holds a `Database`, which is not `Sendable`).
public final class StoreDataSource: ConsoleDataSource {
    let db: Database
    let config: GavelConfig
    let listenAddress: String?
    let analyst: String
    /// Extra banner text from the process (dispatcher or receiver trouble); nil when healthy.
    let problems: () -> String?

    /// - Parameter analyst: the name decisions from this console carry (shown in the request preview).
    public init(db: Database, config: GavelConfig, listenAddress: String?, analyst: String = "(you)", problems: @escaping () -> String? = { nil }) {
        self.analyst = analyst
        self.db = db
        self.config = config
        self.listenAddress = listenAddress
        self.problems = problems
    }

    func row(_ r: Row) throws -> RemediationRow {
        let id = r.int64(0) ?? 0
        // The first 20 distinct IPs and users of its signals, by first appearance (schema v3 keeps
        // them per remediation: a few index rows, however many signals it gathers).
        let entities = try db.query(
            """
            SELECT kind, value FROM remediation_entities WHERE remediation = ?
            ORDER BY first_signal, first_position, kind, value LIMIT 20
            """, [.integer(id)])
        let state = RemediationState(rawValue: r.string(1) ?? "") ?? .pending
        let action = r.string(2) ?? ""
        return RemediationRow(
            id: id, state: state, action: action, target: r.string(3) ?? "",
            targetKind: TargetKind(rawValue: r.string(4) ?? "") ?? .signal, rule: r.string(5) ?? "", ruleKey: r.string(6),
            severity: Severity(rank: r.int(7)), createdAt: date(r.int64(8) ?? 0), signals: r.int(9),
            ips: entities.filter { $0.string(0) == "ip" }.compactMap { $0.string(1) },
            users: entities.filter { $0.string(0) == "user" }.compactMap { $0.string(1) },
            decidedBy: r.string(10), reason: r.string(11), lastError: r.string(12),
            confirm: config.actions[action]?.confirm ?? false, suppressedBy: state == .suppressed ? r.string(11) : nil)
    }

    public func detail(remediationID id: Int64) throws -> RemediationDetail? {
        try db.readTransaction {
            guard
                let r = try db.query(
                    """
                    SELECT r.id, r.state, r.action, r.target, r.target_kind, coalesce(r.rule_name, r.rule_key), r.rule_key, r.severity_rank,
                        r.created_ms, r.signals, r.decided_by, r.reason, r.last_error, r.request, r.idempotency_key
                    FROM remediations r WHERE r.id = ?
                    """, [.integer(id)]
                ).first
            else { return nil }
            let row = try row(r)
            let signals = try db.query(
                """
                SELECT s.id, s.signal_id, s.title, s.message, s.severity, s.event_name, s.event_outcome, s.actor, s.link, s.attributes, s.received_ms
                FROM remediation_signals rs JOIN signals s ON s.id = rs.signal WHERE rs.remediation = ? ORDER BY rs.signal DESC LIMIT 10
                """, [.integer(id)]
            ).map { s in try card(s) }
            return RemediationDetail(
                row: row, signals: signals, targetHistory: try history(of: row),
                requestText: try requestText(row, stored: r.string(13), idempotencyKey: r.string(14) ?? ""),
                attempts: try attempts(id))
        }
    }

    private func card(_ s: Row) throws -> SignalCard {
        let sid = s.int64(0) ?? 0
        let entities = try db.query("SELECT kind, value FROM entities WHERE signal = ? ORDER BY position", [.integer(sid)])
        func values(_ kind: String) -> [String] { entities.filter { $0.string(0) == kind }.compactMap { $0.string(1) } }
        var outline: [String] = []
        if let text = s.string(9), let attributes = try? JSONValue.parse(text) {
            outline = Array(attributes.outlineLines().prefix(400))
        }
        return SignalCard(
            id: sid, signalID: s.string(1) ?? "", title: s.string(2), message: s.string(3),
            severity: s.string(4).flatMap { Severity(rawValue: $0) }, ips: values("ip"), users: values("user"),
            eventName: s.string(5), eventOutcome: s.string(6), securityGroups: values("security_group"),
            actor: s.string(7), link: s.string(8), attributeLines: outline, receivedAt: date(s.int64(10) ?? 0))
    }

    /// gavel's own history of the target: other remediations of it, and how many signals named it.
    private func history(of row: RemediationRow) throws -> [String] {
        var lines: [String] = []
        let kind = row.targetKind == .securityGroup ? "security_group" : row.targetKind.rawValue
        // count(*) is count(DISTINCT signal) here: (signal, kind, value) is the key of entities.
        let seen = try db.query("SELECT count(*), min(signal) FROM entities WHERE kind = ? AND value = ?", [.text(kind), .text(row.target)]).first
        if let n = seen?.int(0), n > 0 { lines.append("\(n) signal(s) named \(row.target)") }
        for other in try db.query(
            """
            SELECT id, action, state, decided_by, reason, updated_ms FROM remediations WHERE target = ? AND id != ? ORDER BY id DESC LIMIT 10
            """, [.text(row.target), .integer(row.id)])
        {
            let who = other.string(3).map { " by \($0)" } ?? ""
            let why = other.string(4).map { " (\($0))" } ?? ""
            lines.append(
                "#\(other.int(0)) \(other.string(1) ?? "") \(other.string(2) ?? "")\(who)\(why) \(Timestamp.rfc3339(ms: other.int64(5) ?? 0))")
        }
        return lines
    }

    /// The exact request approving this remediation sends (secrets masked); for a dry-run, what was recorded.
    private func requestText(_ row: RemediationRow, stored: String?, idempotencyKey: String) throws -> String? {
        if let stored, !stored.isEmpty { return stored }
        guard row.state != .suppressed, let action = config.actions[row.action] else { return nil }
        // The same values the dispatcher renders with (Database.claimNext).
        let signal = try db.latestSignal(ofRemediation: row.id)
        let context = TemplateContext(
            action: action, target: row.target, signalID: signal.signalID, ruleName: row.rule, ruleID: signal.ruleID,
            severity: signal.severity, remediationID: String(row.id), idempotencyKey: idempotencyKey,
            decidedBy: row.decidedBy ?? analyst)
        do {
            return try action.render(context).masked().displayText
        } catch {
            return "refused: \(error)"
        }
    }

    private func attempts(_ id: Int64) throws -> [AttemptRow] {
        try db.attempts(remediation: id).enumerated().map { i, a in
            AttemptRow(number: i + 1, at: date(a.startedMs), status: a.status, error: a.error, durationMilliseconds: a.durationMs)
        }
    }

    public func rules() throws -> [RuleRow] {
        try db.readTransaction {
            let counts = try db.ruleCounts()
            return try db.rules().map { r in
                RuleRow(
                    rule: r.name ?? r.key, ruleID: r.ruleID, key: r.key, mode: r.mode,
                    enabledActions: db.enabledActions(for: r, config: config),
                    allActions: db.configuredActions(for: r, config: config), throttled: r.throttledMs != nil,
                    pending: counts[r.key]?.pending ?? 0, dispatched: counts[r.key]?.dispatched ?? 0,
                    lastSeen: r.lastSeenMs.map(date))
            }.sorted { $0.rule.localizedStandardCompare($1.rule) == .orderedAscending }
        }
    }

    public func audit(limit: Int, before: Int64?) throws -> [AuditRow] {
        try db.auditLog(limit: limit, before: before).map { a in
            let remediation = a.subject.hasPrefix("remediation ") ? Int64(a.subject.dropFirst("remediation ".count)) : nil
            var text = a.subject
            if a.before != nil || a.after != nil { text += ": \(a.before ?? "") → \(a.after ?? "")" }
            if let d = a.detail, !d.isEmpty { text += " — \(d)" }
            return AuditRow(id: a.id, at: date(a.atMs), actor: a.actor, verb: a.action, remediationID: remediation, text: text)
        }
    }

    public func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorRow] {
        try db.query(
            """
            SELECT id, received_ms, peer, status, reason, substr(body, 1, 512) FROM intake_errors WHERE id < ? ORDER BY id DESC LIMIT ?
            """, [.integer(before ?? Int64.max), .integer(Int64(limit))]
        ).map { r in
            IntakeErrorRow(
                id: r.int64(0) ?? 0, at: date(r.int64(1) ?? 0), peer: r.string(2) ?? "-", status: r.int(3),
                reason: r.string(4) ?? "", bodyExcerpt: String(decoding: r.bytes(5) ?? [], as: UTF8.self))
        }
    }

    public func summary() throws -> ConsoleSummary {
        try db.readTransaction {
            var banners: [String] = []
            if try db.automaticDispatchDisabled() { banners.append("AUTO OFF (kill switch)") }
            let throttled = try db.query("SELECT count(*) FROM rules WHERE throttled_ms IS NOT NULL AND mode = 'auto'").first?.int(0) ?? 0
            if throttled > 0 { banners.append("\(throttled) rule(s) throttled") }
            if let p = problems() { banners.append(p) }
            let auto = try db.query("SELECT count(*) FROM rules WHERE mode = 'auto'").first?.int(0) ?? 0
            return ConsoleSummary(
                counts: try db.stateCounts(), rulesInAuto: auto, listenAddress: listenAddress,
                banner: banners.isEmpty ? nil : banners.joined(separator: " · "))
        }
    }

    private func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
}
