import GavelCore
import GavelStore

/// Accountability (issue 14): notes, pending TTLs.
extension SQLiteStore {
    public func addNote(to id: Int64, text: String, by author: String, at now: Timestamp) throws(StoreError) -> Note {
        try storeCall {
            try db.writeTransaction {
                guard try fetchRemediation(id, depth: .row) != nil else { throw StoreError.notFound("remediation \(id) does not exist") }
                try db.run(
                    "INSERT INTO notes (remediation, author, at_ms, text) VALUES (?,?,?,?)",
                    [.integer(id), .text(author), .integer(now.milliseconds), .text(text)])
                let note = Note(id: db.lastInsertRowID, remediationID: id, author: author, at: now, text: text)
                try audit(actor: author, action: "note", subject: "remediation \(id)", detail: text, at: now)
                return note
            }
        }
    }

    public func notes(ofRemediation id: Int64) throws(StoreError) -> [Note] {
        try storeCall {
            try db.query("SELECT id, author, at_ms, text FROM notes WHERE remediation = ? ORDER BY at_ms, id", [.integer(id)]).map {
                Note(
                    id: $0.int64(0) ?? 0, remediationID: id, author: $0.string(1) ?? "", at: Timestamp(milliseconds: $0.int64(2) ?? 0),
                    text: $0.string(3) ?? "")
            }
        }
    }

    public func expirePending(config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64] {
        try storeCall {
            let ttls = config.actions.values.compactMap(\.pendingTTLMs) + config.rules.values.compactMap(\.pendingTTLMs)
            guard let shortest = ttls.min() else { return [] }
            let oldest = now.adding(milliseconds: -shortest).milliseconds
            // Look first without the write lock: the sweep runs every few seconds.
            if try db.query("SELECT 1 FROM remediations WHERE state = 'pending' AND created_ms < ? LIMIT 1", [.integer(oldest)]).isEmpty {
                return []
            }
            return try db.writeTransaction {
                var expired: [Int64] = []
                for row in try db.query(
                    "SELECT \(Self.remediationColumns) FROM remediations r WHERE r.state = 'pending' AND r.created_ms < ?", [.integer(oldest)])
                {
                    let r = try remediation(from: row, depth: .row)
                    guard let ttl = config.pendingTTL(action: r.action, ruleID: r.ruleKey, ruleName: r.ruleName),
                        now.milliseconds(since: r.createdAt) > ttl
                    else { continue }
                    let to = try RemediationLifecycle.next(from: .pending, on: .expire, by: .clock)
                    let changed = try db.run(
                        "UPDATE remediations SET state = ?, updated_ms = ? WHERE id = ? AND state = 'pending'",
                        [.text(to.rawValue), .integer(now.milliseconds), .integer(r.id)])
                    guard changed == 1 else { continue }
                    try audit(
                        actor: "expiry", action: "expire", subject: "remediation \(r.id)", before: "pending", after: to.rawValue,
                        detail: "pending longer than \(DurationText.text(ttl)) without a decision", at: now)
                    expired.append(r.id)
                }
                return expired
            }
        }
    }
}
