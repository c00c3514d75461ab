import GavelCore
import GavelStore

extension SQLiteStore {
    /// Stores one delivery of a signal: inserts the signal on first sight (under `ruleKey`, the
    /// rule row it resolved to), otherwise records the delivery and adds only the entities not
    /// seen before; a later delivery also records the sender's newest `status` (an alert resolved),
    /// the highest event count and the newest last-seen time. `post` links the delivery to the
    /// post it came in (`posts`) when that carried several signals. Must run inside a write
    /// transaction (the ingest writer's group commit).
    func record(_ incoming: IncomingSignal, ruleKey: String, post: Int64? = nil) throws -> SignalRecord {
        let s = incoming.signal
        let sha = incoming.bodySHA256
        let received = incoming.receivedAt.milliseconds
        // A new signal is the usual case (a storm's are all new): insert first, and read the stored
        // row only when its id was there already (one statement instead of two per new signal).
        let inserted = try db.run(
            """
            INSERT INTO signals (signal_id, rule_key, rule_name, rule_id, rule_type, severity, title, message, link,
                event_id, date_ms, tags, queries, group_by, event_name, event_outcome, actor, attributes, flags,
                content_type, raw_body, body_sha256, received_ms, updated_ms, source, status, suggested_duration_s, event_count,
                first_seen, last_seen)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            ON CONFLICT(signal_id) DO NOTHING
            """,
            [
                .text(s.signalID), .text(ruleKey), .text(s.ruleName), .text(s.ruleID), .text(s.ruleType),
                .text(s.severity?.rawValue), .text(s.title), .text(s.message), .text(s.link),
                .text(s.eventID), .text(s.date), .text(jsonArray(s.tags)), .text(jsonArray(s.matchedQueries)),
                .text(jsonArray(s.groupByFields)), .text(s.eventName), .text(s.eventOutcome), .text(s.actor),
                .text(incoming.attributesJSON), .text(jsonArray(s.flags.map(\.rawValue))),
                .text(incoming.contentType), .blob(incoming.rawBody), .text(sha), .integer(received), .integer(received),
                .text(s.source), .text(s.status.rawValue), .int(s.suggestedDurationSeconds), .int(s.eventCount), .text(s.firstSeen),
                .text(s.lastSeen),
            ])
        let rowID: Int64
        var duplicate = false
        var updated = false
        if inserted > 0 {
            rowID = db.lastInsertRowID
        } else if let existing = try db.query("SELECT id, body_sha256 FROM signals WHERE signal_id = ?", [.text(s.signalID)]).first,
            let id = existing.int64(0)
        {
            rowID = id
            duplicate = true
            let seenBefore = try !db.query(
                "SELECT 1 FROM deliveries WHERE signal = ? AND body_sha256 = ? LIMIT 1", [.integer(id), .text(sha)]
            ).isEmpty
            updated = !(existing.string(1) == sha || seenBefore)
            try db.run(
                """
                UPDATE signals SET deliveries = deliveries + 1, updated_ms = ?, status = ?,
                    event_count = CASE WHEN ? IS NOT NULL AND (event_count IS NULL OR ? > event_count) THEN ? ELSE event_count END,
                    last_seen = coalesce(?, last_seen)
                WHERE id = ?
                """,
                [
                    .integer(received), .text(s.status.rawValue), .int(s.eventCount), .int(s.eventCount), .int(s.eventCount),
                    .text(s.lastSeen), .integer(id),
                ])
        } else {
            throw StoreError.failed("signal \(s.signalID) was neither inserted nor found")
        }
        try db.run(
            """
            INSERT INTO deliveries (signal, received_ms, peer, content_type, body_sha256, body, duplicate, post)
            VALUES (?,?,?,?,?,?,?,?)
            """,
            [
                .integer(rowID), .integer(received), .text(incoming.peer), .text(incoming.contentType),
                .text(sha), updated ? .blob(incoming.rawBody) : .null, .integer(duplicate ? 1 : 0), post.map { .integer($0) } ?? .null,
            ])
        let deliveryID = db.lastInsertRowID
        var newEntities: [EntityValue] = []
        if !duplicate || updated {
            // A new signal has no entities yet; only an update appends after the stored ones.
            let base = duplicate ? try db.query("SELECT count(*) FROM entities WHERE signal = ?", [.integer(rowID)]).first?.int(0) ?? 0 : 0
            for (i, e) in s.entityValues.enumerated() {
                let folded: SQLValue = e.kind == "ip" || e.kind == "user" ? .text(TextFilter.folded(e.value)) : .null
                let added = try db.run(
                    "INSERT OR IGNORE INTO entities (signal, kind, value, position, delivery, folded) VALUES (?,?,?,?,?,?)",
                    [.integer(rowID), .text(e.kind), .text(e.value), .integer(Int64(base + i)), .integer(deliveryID), folded])
                if added > 0 { newEntities.append(e) }
            }
            if duplicate {
                try db.run("UPDATE deliveries SET new_entities = ? WHERE id = ?", [.integer(Int64(newEntities.count)), .integer(deliveryID)])
            }
        }
        return SignalRecord(rowID: rowID, signalID: s.signalID, duplicate: duplicate, updated: updated, newEntities: newEntities)
    }

    /// Keeps a body the receiver refused, for the analyst's Intake errors view.
    /// The body is cut to `maxBodyBytes` (default 64 KiB; `body_size` keeps the real size) and
    /// the table to the newest `maxRows` rows (default 10,000).
    func recordIntakeError(_ e: IntakeErrorEntry, maxBodyBytes: Int = 65536, maxRows: Int = 10000) throws {
        try db.run(
            """
            INSERT INTO intake_errors (received_ms, peer, status, reason, content_type, body, body_size)
            VALUES (?,?,?,?,?,?,?)
            """,
            [
                .integer(e.receivedAt.milliseconds), .text(e.peer), .integer(Int64(e.status)), .text(e.reason), .text(e.contentType),
                .blob(Array(e.body.prefix(maxBodyBytes))), .integer(Int64(e.bodySize)),
            ])
        let id = db.lastInsertRowID
        if id % 100 == 0 || id > Int64(maxRows) {
            try db.run("DELETE FROM intake_errors WHERE id <= ?", [.integer(id - Int64(maxRows))])
        }
    }

    /// The columns `storedSignal(from:)` reads (table alias `s`).
    static let signalColumns = """
        s.id, s.signal_id, s.source, s.rule_name, s.rule_id, s.rule_type, s.severity, s.title, s.message, s.link, s.event_id, s.date_ms,
        s.tags, s.queries, s.group_by, s.event_name, s.event_outcome, s.actor, s.flags, s.attributes, s.received_ms, s.deliveries,
        s.status, s.suggested_duration_s, s.event_count, s.first_seen, s.last_seen
        """

    /// Maps one `signalColumns` row (and its entities) to a `StoredSignal`: the one place a stored
    /// signal becomes the domain value.
    func storedSignal(from r: Row) throws -> StoredSignal {
        let id = r.int64(0) ?? 0
        var s = Signal(signalID: r.string(1) ?? "")
        s.ruleName = r.string(3)
        s.ruleID = r.string(4)
        s.ruleType = r.string(5)
        s.severity = r.string(6).flatMap(Severity.init(rawValue:))
        s.title = r.string(7)
        s.message = r.string(8)
        s.link = r.string(9)
        s.eventID = r.string(10)
        s.date = r.string(11)
        s.tags = stringArray(r.string(12))
        s.matchedQueries = stringArray(r.string(13))
        s.groupByFields = stringArray(r.string(14))
        s.eventName = r.string(15)
        s.eventOutcome = r.string(16)
        s.actor = r.string(17)
        s.flags = stringArray(r.string(18)).compactMap(SignalFlag.init(rawValue:))
        s.source = r.string(2) ?? "datadog"
        s.status = r.string(22).flatMap(SignalStatus.init(rawValue:)) ?? .firing
        s.suggestedDurationSeconds = r.int64(23).map { Int($0) }
        s.eventCount = r.int64(24).map { Int($0) }
        s.firstSeen = r.string(25)
        s.lastSeen = r.string(26)
        for e in try db.query("SELECT kind, value FROM entities WHERE signal = ? ORDER BY position", [.integer(id)]) {
            s.addStoredEntity(kind: e.string(0) ?? "", value: e.string(1) ?? "")
        }
        return StoredSignal(
            id: id, signal: s, attributesText: r.string(19), source: r.string(2) ?? "datadog",
            receivedAt: Timestamp(milliseconds: r.int64(20) ?? 0), deliveries: r.int(21))
    }

    public func signals(limit: Int, before: Int64?) throws(StoreError) -> [StoredSignal] {
        try storeCall {
            try db.readTransaction {
                try db.query(
                    "SELECT \(Self.signalColumns) FROM signals s WHERE s.id < ? ORDER BY s.id DESC LIMIT ?",
                    [.integer(before ?? Int64.max), .integer(limit == 0 ? -1 : Int64(limit))]
                ).map { try storedSignal(from: $0) }
            }
        }
    }

    public func signals(ofRemediation id: Int64, limit: Int) throws(StoreError) -> [StoredSignal] {
        try storeCall {
            try db.readTransaction {
                try db.query(
                    """
                    SELECT \(Self.signalColumns) FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
                    WHERE rs.remediation = ? ORDER BY rs.signal DESC LIMIT ?
                    """, [.integer(id), .integer(limit == 0 ? -1 : Int64(limit))]
                ).map { try storedSignal(from: $0) }
            }
        }
    }

    public func latestSignal(ofRemediation id: Int64) throws(StoreError) -> SignalReference? {
        try storeCall { try latestSignalReference(id) }
    }

    /// The newest signal of a remediation (in the caller's transaction).
    func latestSignalReference(_ id: Int64) throws -> SignalReference? {
        try db.query(
            """
            SELECT s.signal_id, s.rule_id, s.severity FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
            WHERE rs.remediation = ? ORDER BY s.id DESC LIMIT 1
            """, [.integer(id)]
        ).first.map { SignalReference(signalID: $0.string(0) ?? "", ruleID: $0.string(1), severity: $0.string(2).flatMap(Severity.init(rawValue:))) }
    }

    public func signalCount(naming value: String, kind: String) throws(StoreError) -> Int {
        // count(*) is count(DISTINCT signal) here: (signal, kind, value) is the key of entities.
        try storeCall { try db.query("SELECT count(*) FROM entities WHERE kind = ? AND value = ?", [.text(kind), .text(value)]).first?.int(0) ?? 0 }
    }

    public func intakeErrors(limit: Int, before: Int64?) throws(StoreError) -> [IntakeErrorEntry] {
        try storeCall {
            try db.query(
                """
                SELECT id, received_ms, peer, status, reason, content_type, substr(body, 1, 512), body_size FROM intake_errors
                WHERE id < ? ORDER BY id DESC LIMIT ?
                """, [.integer(before ?? Int64.max), .integer(limit == 0 ? -1 : Int64(limit))]
            ).map { r in
                IntakeErrorEntry(
                    id: r.int64(0) ?? 0, receivedAt: Timestamp(milliseconds: r.int64(1) ?? 0), peer: r.string(2), status: r.int(3),
                    reason: r.string(4) ?? "", contentType: r.string(5), body: r.bytes(6) ?? [], bodySize: r.int(7))
            }
        }
    }
}
