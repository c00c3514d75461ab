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
    /// Audit rows recorded in the open transaction, appended to the chain just before its COMMIT
    /// (`flushAudit`).
    private var pendingAudit: [PendingAudit] = []

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
    /// IPs and users, (at `.full`) its newest signal ids and its approvals as JSON arrays — one
    /// round trip per list, however long.
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
            r.next_attempt_ms, r.claimed_by, r.lease_until_ms, r.bound_request, r.request, r.config_version, r.dispatched_ms, r.expires_ms,
            r.duration_ms, r.dispatch_response, r.revert_request, r.reverted_by, r.reverted_ms, r.revert_reason,
            (SELECT coalesce(json_agg(json_build_array(e.kind, e.value) ORDER BY e.first_signal, e.first_position, e.kind, e.value), '[]')
                FROM (SELECT kind, value, first_signal, first_position FROM remediation_entities WHERE remediation = r.id
                ORDER BY first_signal, first_position, kind, value LIMIT \(entityLimit)) e),
            \(signalIDs),
            (SELECT json_agg(json_build_array(a.analyst, a.at_ms) ORDER BY a.at_ms, a.analyst) FROM approvals a WHERE a.remediation = r.id),
            r.false_positive, r.batch_key
            """
    }

    /// Maps one `remediationColumns` row to a `Remediation`: the one place a stored remediation
    /// becomes the domain value.
    static func remediation(from r: PGRow) -> Remediation {
        var ips: [String] = []
        var users: [String] = []
        if let text = r.string(33), case .array(let pairs)? = try? JSONValue.parse(text) {
            for case .array(let pair) in pairs where pair.count == 2 {
                switch pair[0].scalarText {
                case "ip": ips.append(pair[1].scalarText ?? "")
                case "user": users.append(pair[1].scalarText ?? "")
                default: break
                }
            }
        }
        var signalIDs: [String] = []
        if let text = r.string(34), case .array(let items)? = try? JSONValue.parse(text) {
            signalIDs = items.compactMap(\.scalarText)
        }
        var approvals: [Approval] = []
        if let text = r.string(35), case .array(let items)? = try? JSONValue.parse(text) {
            for case .array(let pair) in items where pair.count == 2 {
                approvals.append(
                    Approval(analyst: pair[0].scalarText ?? "", at: Timestamp(milliseconds: pair[1].scalarText.flatMap { Int64($0) } ?? 0)))
            }
        }
        let claim = r.string(20).map { Claim(worker: $0, leaseUntil: r.int64(21).map(Timestamp.init(milliseconds:))) }
        var remediation = Remediation(
            id: r.int64(0) ?? 0, action: r.string(1) ?? "", targetKind: TargetKind(rawValue: r.string(2) ?? "") ?? .signal,
            target: r.string(3) ?? "", ruleKey: r.string(4) ?? "", ruleName: r.string(5), severity: Severity(rank: r.int(6)),
            state: RemediationState(rawValue: r.string(7) ?? "") ?? .pending, idempotencyKey: r.string(8) ?? "", signalCount: r.int(9),
            signalIDs: signalIDs, ips: ips, users: users, decidedBy: r.string(10), decidedAt: r.int64(11).map(Timestamp.init(milliseconds:)),
            reason: r.string(12), attempts: r.int(13), lastStatus: r.int64(14).map { Int($0) }, lastError: r.string(15),
            createdAt: Timestamp(milliseconds: r.int64(16) ?? 0), updatedAt: Timestamp(milliseconds: r.int64(17) ?? 0),
            lastSeenAt: Timestamp(milliseconds: r.int64(18) ?? 0), nextAttemptAt: r.int64(19).map(Timestamp.init(milliseconds:)), claim: claim,
            boundRequest: r.string(22).flatMap(RenderedRequest.init(storageText:)), legacyRequestText: r.string(23),
            configVersion: r.int64(24).map { Int($0) }, inForceSince: r.int64(25).map(Timestamp.init(milliseconds:)),
            expiresAt: r.int64(26).map(Timestamp.init(milliseconds:)), durationMs: r.int64(27))
        remediation.dispatchResponse = r.string(28)
        remediation.revertRequest = r.string(29).flatMap(RenderedRequest.init(storageText:))
        remediation.revertedBy = r.string(30)
        remediation.revertedAt = r.int64(31).map(Timestamp.init(milliseconds:))
        remediation.revertReason = r.string(32)
        remediation.approvals = approvals
        remediation.falsePositive = r.int(36) != 0
        remediation.batchKey = r.string(37)
        return remediation
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

    // MARK: - Transactions and the audit chain

    /// One audit row recorded in the open transaction, not yet chained.
    struct PendingAudit {
        var at: Timestamp
        var actor: String
        var action: String
        var subject: String
        var before: String?
        var after: String?
        var detail: String?
    }

    /// Runs `body` in a transaction of this session (`PGConnection.transaction`; nested: a
    /// savepoint) and appends the audit rows it recorded to the chain just before COMMIT. Every
    /// writing call of this engine goes through here. The rows of a part that failed are dropped
    /// with it.
    @discardableResult
    func transaction<T>(_ mode: String = "", _ body: () throws -> T) throws -> T {
        let mark = pendingAudit.count
        do {
            return try db.transaction(mode) {
                let value = try body()
                if db.transactionDepth == 1 { try flushAudit() }
                return value
            }
        } catch {
            if pendingAudit.count > mark { pendingAudit.removeSubrange(mark...) }
            throw error
        }
    }

    /// Records one audit row, appended to the chain when the caller's transaction commits (in
    /// a transaction of its own when there is none).
    /// - Parameters:
    ///   - actor: who did it (`--by`, the OS user, `auto:RULE`, `dispatcher`, `gavel` for the system).
    ///   - action: what was done (`approve`, `reject`, `mode`, `dispatch`, …).
    ///   - subject: what it was done to (`remediation 12`, `rule Foo`).
    func audit(
        actor: String, action: String, subject: String, before: String? = nil, after: String? = nil, detail: String? = nil, at now: Timestamp
    ) throws {
        let entry = PendingAudit(at: now, actor: actor, action: action, subject: subject, before: before, after: after, detail: detail)
        if db.transactionDepth == 0 {
            try transaction { pendingAudit.append(entry) }
        } else {
            pendingAudit.append(entry)
        }
    }

    /// Appends the transaction's audit rows to the hash chain (`AuditChain`), last thing before
    /// COMMIT: takes the audit lock (`PostgresSchema.auditLockKey`, held to the end of the
    /// transaction), reads the chain's head as committed (READ COMMITTED: a statement after the
    /// lock sees every append before it), numbers the rows after it and inserts them with their
    /// hashes in one statement. Writers on any number of hosts so keep one line; taking the lock
    /// last, after every row lock, means it never joins a deadlock, and is held only for the
    /// append and the commit.
    private func flushAudit() throws {
        guard !pendingAudit.isEmpty else { return }
        try db.query("SELECT pg_advisory_xact_lock($1)", [.integer(PostgresSchema.auditLockKey)])
        let head = try db.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").first
        var id = head?.int64(0) ?? 0
        var previous = head?.string(1) ?? AuditChain.genesis
        var values: [PGValue] = []
        var tuples: [String] = []
        for p in pendingAudit {
            id += 1
            let entry = AuditEntry(
                id: id, at: p.at, actor: p.actor, action: p.action, subject: p.subject, before: p.before, after: p.after, detail: p.detail)
            let hash = AuditChain.hash(previous: previous, content: entry.chainContent)
            tuples.append("(" + Self.placeholders(from: values.count + 1, count: 10) + ")")
            values += [
                .integer(id), .integer(p.at.milliseconds), .text(p.actor), .text(p.action), .text(p.subject), .text(p.before), .text(p.after),
                .text(p.detail), .text(previous), .text(hash),
            ]
            previous = hash
        }
        try db.run(
            "INSERT INTO audit (id, at_ms, actor, action, subject, before, after, detail, prev_hash, hash) VALUES " + tuples.joined(separator: ", "),
            values)
        pendingAudit.removeAll()
    }

    /// The columns `auditEntry(from:)` reads.
    static let auditColumns = "id, at_ms, actor, action, subject, before, after, detail, prev_hash, hash"

    /// Maps one `auditColumns` row to an `AuditEntry`.
    static func auditEntry(from r: PGRow) -> AuditEntry {
        AuditEntry(
            id: r.int64(0) ?? 0, at: Timestamp(milliseconds: r.int64(1) ?? 0), actor: r.string(2) ?? "", action: r.string(3) ?? "",
            subject: r.string(4) ?? "", before: r.string(5), after: r.string(6), detail: r.string(7), previousHash: r.string(8), hash: r.string(9))
    }

    public func auditEntries(limit: Int, before: Int64?, subject: String?) throws(StoreError) -> [AuditEntry] {
        try pgCall {
            var sql = "SELECT \(Self.auditColumns) FROM audit WHERE id < $1"
            var values: [PGValue] = [.integer(before ?? Int64.max)]
            if let subject {
                sql += " AND subject = $2"
                values.append(.text(subject))
            }
            sql += " ORDER BY id DESC LIMIT $\(values.count + 1)"
            values.append(Self.limit(limit))
            return try db.query(sql, values).map(Self.auditEntry(from:))
        }
    }

    public func auditChain(after id: Int64, limit: Int) throws(StoreError) -> [AuditEntry] {
        try pgCall {
            try db.query("SELECT \(Self.auditColumns) FROM audit WHERE id > $1 ORDER BY id LIMIT $2", [.integer(id), Self.limit(limit)])
                .map(Self.auditEntry(from:))
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
