import GavelCore
import GavelStore

/// Accountability (issue 14): notes, pending TTLs.
extension PostgresStore {
    public func addNote(to id: Int64, text: String, by author: String, at now: Timestamp) throws(StoreError) -> Note {
        try pgCall {
            try transaction {
                guard try fetchRemediation(id, depth: .row) != nil else { throw StoreError.notFound("remediation \(id) does not exist") }
                let noteID =
                    try db.query(
                        "INSERT INTO notes (remediation, author, at_ms, text) VALUES ($1,$2,$3,$4) RETURNING id",
                        [.integer(id), .text(author), .integer(now.milliseconds), .text(text)]
                    ).first?.int64(0) ?? 0
                try audit(actor: author, action: "note", subject: "remediation \(id)", detail: text, at: now)
                try announce("note")
                return Note(id: noteID, remediationID: id, author: author, at: now, text: text)
            }
        }
    }

    public func notes(ofRemediation id: Int64) throws(StoreError) -> [Note] {
        try pgCall {
            try db.query("SELECT id, author, at_ms, text FROM notes WHERE remediation = $1 ORDER BY at_ms, id", [.integer(id)]).map {
                Note(
                    id: $0.int64(0) ?? 0, remediationID: id, author: $0.string(1) ?? "", at: Timestamp(milliseconds: $0.int64(2) ?? 0),
                    text: $0.string(3) ?? "")
            }
        }
    }

    /// Expires what waited too long; rows another process is deciding right now are locked and
    /// skipped (`SKIP LOCKED`), so every dispatcher on every host may sweep at once, and a
    /// remediation is either approved or expired, never both.
    public func expirePending(config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64] {
        try pgCall {
            let ttls = config.actions.values.compactMap(\.pendingTTLMs) + config.rules.values.compactMap(\.pendingTTLMs)
            guard let shortest = ttls.min() else { return [] }
            let oldest = now.adding(milliseconds: -shortest).milliseconds
            // Look first without a transaction: the sweep runs every few seconds.
            if try db.query("SELECT 1 FROM remediations WHERE state = 'pending' AND created_ms < $1 LIMIT 1", [.integer(oldest)]).isEmpty {
                return []
            }
            return try transaction {
                var expired: [Int64] = []
                for row in try db.query(
                    """
                    SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE r.state = 'pending' AND r.created_ms < $1
                    ORDER BY r.id FOR UPDATE OF r SKIP LOCKED
                    """, [.integer(oldest)])
                {
                    let r = Self.remediation(from: row)
                    guard let ttl = config.pendingTTL(action: r.action, ruleID: r.ruleKey, ruleName: r.ruleName),
                        now.milliseconds(since: r.createdAt) > ttl
                    else { continue }
                    let to = try RemediationLifecycle.next(from: .pending, on: .expire, by: .clock)
                    let changed = try db.run(
                        "UPDATE remediations SET state = $1, updated_ms = $2 WHERE id = $3 AND state = 'pending'",
                        [.text(to.rawValue), .integer(now.milliseconds), .integer(r.id)])
                    guard changed == 1 else { continue }
                    try audit(
                        actor: "expiry", action: "expire", subject: "remediation \(r.id)", before: "pending", after: to.rawValue,
                        detail: "pending longer than \(DurationText.text(ttl)) without a decision", at: now)
                    expired.append(r.id)
                }
                if !expired.isEmpty { try announce("decision") }
                return expired
            }
        }
    }
}
