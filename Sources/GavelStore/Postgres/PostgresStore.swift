import Foundation
import GavelCore
import GavelStore

/// The PostgreSQL engine's session: every store protocol (`Store`) on one connection.
///
/// Not `Sendable`: confined to the thread that opened it, like its `PGConnection`. Decisions,
/// rule changes, claims and configuration applies are each one READ COMMITTED transaction of
/// compare-and-set updates (`UPDATE … WHERE id = $1 AND state = $2`, the row count checked);
/// a lock held by another process is waited for up to 30 s (`lock_timeout`, the one busy policy
/// of console and CLI), then the call fails `unavailable`. Every committed change is announced
/// with `pg_notify` on `PostgresSchema.channel` inside its transaction (delivered on commit), so
/// dispatchers and consoles on other hosts wake at once.
public final class PostgresStore: Store {
    let db: PGConnection
    /// A read-only session (`console --read-only`, metrics) never folds the count deltas.
    let readOnly: Bool
    private var countReads = 0

    init(db: PGConnection, readOnly: Bool) {
        self.db = db
        self.readOnly = readOnly
    }

    // MARK: - One row → one Remediation

    /// How much of a remediation's signals a mapping reads.
    enum Depth {
        /// A list row: the first 20 IPs and users, no signal ids.
        case row
        /// Everything `gavel list --json` shows: the newest 50 signal ids, the first 200 IPs and users.
        case full
    }

    /// The columns `remediation(from:)` reads, in its order (table alias `r`): the row, then its
    /// IPs and users and (at `.full`) its newest signal ids as JSON arrays — one round trip per
    /// list, however long.
    static func remediationColumns(_ depth: Depth) -> String {
        let entityLimit = depth == .row ? 20 : 200
        let signalIDs =
            depth == .row
            ? "NULL"
            : """
            (SELECT coalesce(json_agg(s.signal_id ORDER BY rs.signal DESC), '[]') FROM (SELECT signal FROM remediation_signals
                WHERE remediation = r.id ORDER BY signal DESC LIMIT 50) rs JOIN signals s ON s.id = rs.signal)
            """
        return """
            r.id, r.action, r.target_kind, r.target, r.rule_key, r.rule_name, r.severity_rank, r.state, r.idempotency_key, r.signals,
            r.decided_by, r.decided_ms, r.reason, r.attempts, r.last_status, r.last_error, r.created_ms, r.updated_ms, r.last_seen_ms,
            r.next_attempt_ms, r.claimed_by, r.lease_until_ms, r.bound_request, r.request, r.config_version,
            (SELECT coalesce(json_agg(json_build_array(e.kind, e.value) ORDER BY e.first_signal, e.first_position, e.kind, e.value), '[]')
                FROM (SELECT kind, value, first_signal, first_position FROM remediation_entities WHERE remediation = r.id
                ORDER BY first_signal, first_position, kind, value LIMIT \(entityLimit)) e),
            \(signalIDs)
            """
    }

    /// Maps one `remediationColumns` row to a `Remediation`: the one place a stored remediation
    /// becomes the domain value.
    static func remediation(from r: PGRow) -> Remediation {
        var ips: [String] = []
        var users: [String] = []
        if let text = r.string(25), case .array(let pairs)? = try? JSONValue.parse(text) {
            for case .array(let pair) in pairs where pair.count == 2 {
                switch pair[0].scalarText {
                case "ip": ips.append(pair[1].scalarText ?? "")
                case "user": users.append(pair[1].scalarText ?? "")
                default: break
                }
            }
        }
        var signalIDs: [String] = []
        if let text = r.string(26), case .array(let items)? = try? JSONValue.parse(text) {
            signalIDs = items.compactMap(\.scalarText)
        }
        let claim = r.string(20).map { Claim(worker: $0, leaseUntil: r.int64(21).map(Timestamp.init(milliseconds:))) }
        return Remediation(
            id: r.int64(0) ?? 0, action: r.string(1) ?? "", targetKind: TargetKind(rawValue: r.string(2) ?? "") ?? .signal,
            target: r.string(3) ?? "", ruleKey: r.string(4) ?? "", ruleName: r.string(5), severity: Severity(rank: r.int(6)),
            state: RemediationState(rawValue: r.string(7) ?? "") ?? .pending, idempotencyKey: r.string(8) ?? "", signalCount: r.int(9),
            signalIDs: signalIDs, ips: ips, users: users, decidedBy: r.string(10), decidedAt: r.int64(11).map(Timestamp.init(milliseconds:)),
            reason: r.string(12), attempts: r.int(13), lastStatus: r.int64(14).map { Int($0) }, lastError: r.string(15),
            createdAt: Timestamp(milliseconds: r.int64(16) ?? 0), updatedAt: Timestamp(milliseconds: r.int64(17) ?? 0),
            lastSeenAt: Timestamp(milliseconds: r.int64(18) ?? 0), nextAttemptAt: r.int64(19).map(Timestamp.init(milliseconds:)), claim: claim,
            boundRequest: r.string(22).flatMap(RenderedRequest.init(storageText:)), legacyRequestText: r.string(23),
            configVersion: r.int64(24).map { Int($0) })
    }

    /// The remediation with this id, mapped at `depth`; nil when missing.
    func fetchRemediation(_ id: Int64, depth: Depth = .full, lock: Bool = false) throws -> Remediation? {
        try db.query(
            "SELECT \(Self.remediationColumns(depth)) FROM remediations r WHERE r.id = $1" + (lock ? " FOR UPDATE OF r" : ""), [.integer(id)]
        ).first.map(Self.remediation(from:))
    }

    /// The filter text of a remediation's own fields (`TextFilter.folded`, one per line).
    static func searchText(ruleName: String?, ruleKey: String, target: String, action: String) -> String {
        [ruleName ?? "", ruleKey, target, action].map(TextFilter.folded).joined(separator: "\n")
    }

    /// `TextFilter` in SQL over the stored folded forms (`strpos`, byte-exact under `COLLATE "C"`);
    /// `$n` is the folded pattern.
    static func textFilterClause(_ n: Int) -> String {
        """
        (strpos(r.search_text, $\(n)) > 0 OR EXISTS (SELECT 1 FROM remediation_entities re WHERE re.remediation = r.id AND strpos(re.folded, $\(n)) > 0))
        """
    }

    /// `$first, $first+1, …` for `count` parameters.
    static func placeholders(from first: Int, count: Int) -> String {
        (first..<first + count).map { "$\($0)" }.joined(separator: ",")
    }

    /// A `LIMIT` parameter: NULL (no limit) for 0.
    static func limit(_ n: Int) -> PGValue { n == 0 ? .null : .int(n) }

    // MARK: - Announcements

    /// Announces a change to every listener once this transaction commits (`pg_notify`; one
    /// announcement per kind and transaction).
    func announce(_ what: String) throws {
        try db.query("SELECT pg_notify($1, $2)", [.text(PostgresSchema.channel), .text(what)])
    }

    // MARK: - Audit

    /// Appends one row to the audit log (in the caller's transaction).
    /// - Parameters:
    ///   - actor: who did it (`--by`, the OS user, `auto:RULE`, `dispatcher`, `gavel` for the system).
    ///   - action: what was done (`approve`, `reject`, `mode`, `dispatch`, …).
    ///   - subject: what it was done to (`remediation 12`, `rule Foo`).
    func audit(
        actor: String, action: String, subject: String, before: String? = nil, after: String? = nil, detail: String? = nil, at now: Timestamp
    ) throws {
        try db.run(
            "INSERT INTO audit (at_ms, actor, action, subject, before, after, detail) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            [.integer(now.milliseconds), .text(actor), .text(action), .text(subject), .text(before), .text(after), .text(detail)])
    }

    public func auditEntries(limit: Int, before: Int64?, subject: String?) throws(StoreError) -> [AuditEntry] {
        try pgCall {
            var sql = "SELECT id, at_ms, actor, action, subject, before, after, detail FROM audit WHERE id < $1"
            var values: [PGValue] = [.integer(before ?? Int64.max)]
            if let subject {
                sql += " AND subject = $2"
                values.append(.text(subject))
            }
            sql += " ORDER BY id DESC LIMIT $\(values.count + 1)"
            values.append(Self.limit(limit))
            return try db.query(sql, values).map {
                AuditEntry(
                    id: $0.int64(0) ?? 0, at: Timestamp(milliseconds: $0.int64(1) ?? 0), actor: $0.string(2) ?? "", action: $0.string(3) ?? "",
                    subject: $0.string(4) ?? "", before: $0.string(5), after: $0.string(6), detail: $0.string(7))
            }
        }
    }

    // MARK: - Counts

    /// Folds the appended count deltas into `remediation_counts` (one short transaction; safe
    /// while others append or fold: a delta is deleted by exactly one folder).
    func foldCounts() throws {
        guard !readOnly, db.transactionDepth == 0 else { return }
        try db.run(
            """
            WITH moved AS (DELETE FROM remediation_count_deltas RETURNING rule_key, state, n),
            sums AS (SELECT rule_key, state, sum(n) AS n FROM moved GROUP BY rule_key, state)
            INSERT INTO remediation_counts (rule_key, state, n) SELECT rule_key, state, n FROM sums
            ON CONFLICT (rule_key, state) DO UPDATE SET n = remediation_counts.n + excluded.n
            """)
    }

    /// The counts per (rule, state): folded counts plus the deltas not yet folded. Every 20th
    /// read of a writing session folds first, so the deltas stay few.
    func countRows() throws -> [PGRow] {
        countReads += 1
        if countReads % 20 == 1 { try foldCounts() }
        return try db.query(
            """
            SELECT rule_key, state, sum(n) FROM (SELECT rule_key, state, n FROM remediation_counts
                UNION ALL SELECT rule_key, state, n FROM remediation_count_deltas) c
            GROUP BY rule_key, state HAVING sum(n) > 0
            """)
    }
}

/// A JSON array of strings, as the text columns `tags`, `queries`, `group_by`, `flags` hold.
func pgJSONArray(_ items: [String]) -> String {
    JSONValue.array(items.map { .string($0) }).compactText
}

/// The strings of a `pgJSONArray` column (empty for NULL or anything else).
func pgStringArray(_ text: String?) -> [String] {
    guard let text, case .array(let items)? = try? JSONValue.parse(text) else { return [] }
    return items.compactMap(\.scalarText)
}
