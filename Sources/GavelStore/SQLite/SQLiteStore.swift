import Foundation
import GavelCore
import GavelStore

/// The SQLite engine's session: every store protocol (`Store`) on one connection.
///
/// Not `Sendable`: confined to the thread that opened it, like its `Database`. Decisions, rule
/// changes and configuration applies are each one `BEGIN IMMEDIATE` transaction; the busy
/// handler retries every millisecond for up to 30 s (the one busy policy of console and CLI),
/// and the ingest writer leaves the lock free a few milliseconds after every 200 ms of
/// back-to-back commits so such a waiter gets its turn during a storm.
public final class SQLiteStore: Store {
    let db: Database

    init(db: Database) { self.db = db }

    /// The filter text of a remediation's own fields (`TextFilter.folded`, one per line).
    static func searchText(ruleName: String?, ruleKey: String, target: String, action: String) -> String {
        [ruleName ?? "", ruleKey, target, action].map(TextFilter.folded).joined(separator: "\n")
    }

    // MARK: - One row → one Remediation

    /// The columns `remediation(from:)` reads, in its order (table alias `r`).
    static let remediationColumns = """
        r.id, r.action, r.target_kind, r.target, r.rule_key, r.rule_name, r.severity_rank, r.state, r.idempotency_key, r.signals,
        r.decided_by, r.decided_ms, r.reason, r.attempts, r.last_status, r.last_error, r.created_ms, r.updated_ms, r.last_seen_ms,
        r.next_attempt_ms, r.claimed_by, r.lease_until_ms, r.bound_request, r.request, r.config_version, r.dispatched_ms, r.expires_ms,
        r.duration_ms, r.dispatch_response, r.revert_request, r.reverted_by, r.reverted_ms, r.revert_reason, r.false_positive, r.batch_key
        """

    /// How much of a remediation's signals a mapping reads.
    enum Depth {
        /// A list row: the first 20 IPs and users, no signal ids.
        case row
        /// Everything `gavel list --json` shows: the newest 50 signal ids, the first 200 IPs and users.
        case full
        /// The row alone, no IPs, users or approvals (what a dispatch claim needs).
        case bare
    }

    /// Maps one `remediationColumns` row to a `Remediation`: the one place a stored remediation
    /// becomes the domain value.
    func remediation(from r: Row, depth: Depth) throws -> Remediation {
        let id = r.int64(0) ?? 0
        let entityLimit: Int64 = depth == .row ? 20 : 200
        let entities =
            depth == .bare
            ? []
            : try db.query(
                """
                SELECT kind, value FROM remediation_entities WHERE remediation = ?
                ORDER BY first_signal, first_position, kind, value LIMIT ?
                """, [.integer(id), .integer(entityLimit)])
        var signalIDs: [String] = []
        if depth == .full {
            signalIDs = try db.query(
                """
                SELECT s.signal_id FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
                WHERE rs.remediation = ? ORDER BY rs.signal DESC LIMIT 50
                """, [.integer(id)]
            ).compactMap { $0.string(0) }
        }
        let claim = r.string(20).map { Claim(worker: $0, leaseUntil: r.int64(21).map(Timestamp.init(milliseconds:))) }
        var remediation = Remediation(
            id: id, action: r.string(1) ?? "", targetKind: TargetKind(rawValue: r.string(2) ?? "") ?? .signal, target: r.string(3) ?? "",
            ruleKey: r.string(4) ?? "", ruleName: r.string(5), severity: Severity(rank: r.int(6)),
            state: RemediationState(rawValue: r.string(7) ?? "") ?? .pending, idempotencyKey: r.string(8) ?? "", signalCount: r.int(9),
            signalIDs: signalIDs, ips: entities.filter { $0.string(0) == "ip" }.compactMap { $0.string(1) },
            users: entities.filter { $0.string(0) == "user" }.compactMap { $0.string(1) }, decidedBy: r.string(10),
            decidedAt: r.int64(11).map(Timestamp.init(milliseconds:)), reason: r.string(12), attempts: r.int(13),
            lastStatus: r.int64(14).map { Int($0) }, lastError: r.string(15), createdAt: Timestamp(milliseconds: r.int64(16) ?? 0),
            updatedAt: Timestamp(milliseconds: r.int64(17) ?? 0), lastSeenAt: Timestamp(milliseconds: r.int64(18) ?? 0),
            nextAttemptAt: r.int64(19).map(Timestamp.init(milliseconds:)), claim: claim,
            boundRequest: r.string(22).flatMap(RenderedRequest.init(storageText:)), legacyRequestText: r.string(23),
            configVersion: r.int64(24).map { Int($0) }, inForceSince: r.int64(25).map(Timestamp.init(milliseconds:)),
            expiresAt: r.int64(26).map(Timestamp.init(milliseconds:)), durationMs: r.int64(27))
        remediation.dispatchResponse = r.string(28)
        remediation.revertRequest = r.string(29).flatMap(RenderedRequest.init(storageText:))
        remediation.revertedBy = r.string(30)
        remediation.revertedAt = r.int64(31).map(Timestamp.init(milliseconds:))
        remediation.revertReason = r.string(32)
        remediation.falsePositive = r.int(33) != 0
        remediation.batchKey = r.string(34)
        if depth == .bare { return remediation }
        remediation.approvals = try db.query("SELECT analyst, at_ms FROM approvals WHERE remediation = ? ORDER BY at_ms, analyst", [.integer(id)])
            .map { Approval(analyst: $0.string(0) ?? "", at: Timestamp(milliseconds: $0.int64(1) ?? 0)) }
        return remediation
    }

    /// The remediation with this id, mapped at `depth`; nil when missing.
    func fetchRemediation(_ id: Int64, depth: Depth = .full) throws -> Remediation? {
        try db.query("SELECT \(Self.remediationColumns) FROM remediations r WHERE r.id = ?", [.integer(id)]).first.map {
            try remediation(from: $0, depth: depth)
        }
    }

    // MARK: - Audit

    /// The columns `auditEntry(from:)` reads.
    static let auditColumns = "id, at_ms, actor, action, subject, before, after, detail, prev_hash, hash"

    /// Maps one `auditColumns` row to an `AuditEntry`.
    static func auditEntry(from r: Row) -> AuditEntry {
        AuditEntry(
            id: r.int64(0) ?? 0, at: Timestamp(milliseconds: r.int64(1) ?? 0), actor: r.string(2) ?? "", action: r.string(3) ?? "",
            subject: r.string(4) ?? "", before: r.string(5), after: r.string(6), detail: r.string(7), previousHash: r.string(8),
            hash: r.string(9))
    }

    /// Appends one row to the audit log (in the caller's write transaction), chained to the one
    /// before (`AuditChain`): the write lock serializes appends, so ids and the chain agree.
    /// - Parameters:
    ///   - actor: who did it (`--by`, the OS user, `auto:RULE`, `dispatcher`, `gavel` for the system).
    ///   - action: what was done (`approve`, `reject`, `mode`, `dispatch`, …).
    ///   - subject: what it was done to (`remediation 12`, `rule Foo`).
    func audit(
        actor: String, action: String, subject: String, before: String? = nil, after: String? = nil, detail: String? = nil, at now: Timestamp
    ) throws {
        let last = try db.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").first
        let entry = AuditEntry(
            id: (last?.int64(0) ?? 0) + 1, at: now, actor: actor, action: action, subject: subject, before: before, after: after, detail: detail)
        let previous = last?.string(1) ?? AuditChain.genesis
        try db.run(
            "INSERT INTO audit (id, at_ms, actor, action, subject, before, after, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                .integer(entry.id), .integer(now.milliseconds), .text(actor), .text(action), .text(subject), .text(before), .text(after),
                .text(detail), .text(previous), .text(AuditChain.hash(previous: previous, content: entry.chainContent)),
            ])
    }

    /// Appends several entries (ids and hashes assigned here, in order), reading the chain's end once.
    func audit(_ entries: [AuditEntry]) throws {
        guard !entries.isEmpty else { return }
        let last = try db.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").first
        var id = last?.int64(0) ?? 0
        var previous = last?.string(1) ?? AuditChain.genesis
        for var entry in entries {
            id += 1
            entry.id = id
            let hash = AuditChain.hash(previous: previous, content: entry.chainContent)
            try db.run(
                "INSERT INTO audit (id, at_ms, actor, action, subject, before, after, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    .integer(id), .integer(entry.at.milliseconds), .text(entry.actor), .text(entry.action), .text(entry.subject), .text(entry.before),
                    .text(entry.after), .text(entry.detail), .text(previous), .text(hash),
                ])
            previous = hash
        }
    }

    public func auditEntries(limit: Int, before: Int64?, subject: String?) throws(StoreError) -> [AuditEntry] {
        try storeCall {
            var sql = "SELECT \(Self.auditColumns) FROM audit WHERE id < ?"
            var values: [SQLValue] = [.integer(before ?? Int64.max)]
            if let subject {
                sql += " AND subject = ?"
                values.append(.text(subject))
            }
            sql += " ORDER BY id DESC LIMIT ?"
            values.append(.integer(limit == 0 ? -1 : Int64(limit)))
            return try db.query(sql, values).map(Self.auditEntry(from:))
        }
    }

    public func auditChain(after id: Int64, limit: Int) throws(StoreError) -> [AuditEntry] {
        try storeCall {
            try db.query(
                "SELECT \(Self.auditColumns) FROM audit WHERE id > ? ORDER BY id LIMIT ?", [.integer(id), .integer(limit == 0 ? -1 : Int64(limit))]
            ).map(Self.auditEntry(from:))
        }
    }
}

/// A JSON array of strings, as the TEXT columns `tags`, `queries`, `group_by`, `flags` hold.
func jsonArray(_ items: [String]) -> String {
    JSONValue.array(items.map { .string($0) }).compactText
}

/// The strings of a `jsonArray` column (empty for NULL or anything else).
func stringArray(_ text: String?) -> [String] {
    guard let text, case .array(let items)? = try? JSONValue.parse(text) else { return [] }
    return items.compactMap(\.scalarText)
}
