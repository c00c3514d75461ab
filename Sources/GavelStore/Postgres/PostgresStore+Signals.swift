import GavelCore
import GavelStore

extension PostgresStore {
    /// Stores one delivery of a signal, in the caller's transaction: one `INSERT … ON CONFLICT
    /// (signal_id) DO UPDATE` makes the signal on first sight or counts the delivery on a
    /// signal already stored (concurrent deliveries of one id to several receivers queue on its
    /// row and make one signal); then the delivery row and the entities not seen before. A later
    /// delivery also records the sender's newest `status`, the highest event count and the newest
    /// last-seen time; `post` links the delivery to the post it came in when that carried several.
    func record(_ incoming: IncomingSignal, ruleKey: String, post: Int64? = nil) throws -> SignalRecord {
        let s = incoming.signal
        let sha = incoming.bodySHA256
        let received = incoming.receivedAt.milliseconds
        // The signal (made or counted) and this delivery's row in one round trip.
        let stored = try db.query(
            """
            WITH s AS (
                INSERT INTO signals (signal_id, rule_key, rule_name, rule_id, rule_type, severity, title, message, link,
                    event_id, date_ms, tags, queries, group_by, event_name, event_outcome, actor, attributes, flags,
                    content_type, raw_body, body_sha256, received_ms, updated_ms, source, status, suggested_duration_s, event_count,
                    first_seen, last_seen)
                VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$23,$25,$26,$27,$28,$29,$30)
                ON CONFLICT (signal_id) DO UPDATE SET deliveries = signals.deliveries + 1, updated_ms = excluded.updated_ms,
                    status = excluded.status, last_seen = coalesce(excluded.last_seen, signals.last_seen),
                    event_count = CASE WHEN excluded.event_count IS NOT NULL AND (signals.event_count IS NULL OR excluded.event_count > signals.event_count)
                                       THEN excluded.event_count ELSE signals.event_count END
                RETURNING id, (xmax = 0) AS inserted, body_sha256),
            d AS (
                INSERT INTO deliveries (signal, received_ms, peer, content_type, body_sha256, duplicate, post)
                SELECT s.id, $23, $24, $20, $22, CASE WHEN s.inserted THEN 0 ELSE 1 END, $31 FROM s RETURNING id)
            SELECT s.id, s.inserted, s.body_sha256, d.id FROM s, d
            """,
            [
                .text(s.signalID), .text(ruleKey), .text(s.ruleName), .text(s.ruleID), .text(s.ruleType), .text(s.severity?.rawValue),
                .text(s.title), .text(s.message), .text(s.link), .text(s.eventID), .text(s.date), .text(pgJSONArray(s.tags)),
                .text(pgJSONArray(s.matchedQueries)), .text(pgJSONArray(s.groupByFields)), .text(s.eventName), .text(s.eventOutcome),
                .text(s.actor), .text(incoming.attributesJSON), .text(pgJSONArray(s.flags.map(\.rawValue))), .text(incoming.contentType),
                .bytes(incoming.rawBody), .text(sha), .integer(received), .text(incoming.peer), .text(s.source), .text(s.status.rawValue),
                .int(s.suggestedDurationSeconds), .int(s.eventCount), .text(s.firstSeen), .text(s.lastSeen), post.map { .integer($0) } ?? .null,
            ]
        ).first
        guard let stored, let rowID = stored.int64(0), let deliveryID = stored.int64(3) else {
            throw StoreError.failed("signal \(s.signalID) was not stored")
        }
        let duplicate = !stored.bool(1)
        var updated = false
        if duplicate && stored.string(2) != sha {
            // A body never delivered before for this signal is an update (Datadog's "notify on
            // update"); its delivery keeps the body.
            updated = try db.query(
                "SELECT 1 FROM deliveries WHERE signal = $1 AND body_sha256 = $2 AND id <> $3 LIMIT 1",
                [.integer(rowID), .text(sha), .integer(deliveryID)]
            ).isEmpty
            if updated { try db.run("UPDATE deliveries SET body = $1 WHERE id = $2", [.bytes(incoming.rawBody), .integer(deliveryID)]) }
        }
        var newEntities: [EntityValue] = []
        if !duplicate {
            // A new signal: every entity in one statement (positions in extraction order).
            let values = s.entityValues
            if !values.isEmpty {
                let added = try db.query(
                    """
                    INSERT INTO entities (signal, kind, value, position, delivery, folded)
                    SELECT $1, e.kind, e.value, (e.n - 1)::integer, $2, e.folded
                    FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(kind, value, folded, n) ORDER BY e.n
                    ON CONFLICT (signal, kind, value) DO NOTHING RETURNING kind, value
                    """,
                    [
                        .integer(rowID), .integer(deliveryID), .text(pgArray(values.map(\.kind))), .text(pgArray(values.map(\.value))),
                        .text(pgArray(values.map { $0.kind == "ip" || $0.kind == "user" ? TextFilter.folded($0.value) : nil })),
                    ])
                var inserted = Set(added.map { EntityValue($0.string(0) ?? "", $0.string(1) ?? "") })
                for e in values where inserted.remove(e) != nil { newEntities.append(e) }
            }
        } else if updated {
            // An update appends after the stored entities, and its new IPs and users join the
            // remediations the signal is gathered into.
            let base = try db.query("SELECT count(*) FROM entities WHERE signal = $1", [.integer(rowID)]).first?.int(0) ?? 0
            for (i, e) in s.entityValues.enumerated() {
                let searchable = e.kind == "ip" || e.kind == "user"
                let folded: PGValue = searchable ? .text(TextFilter.folded(e.value)) : .null
                let added = try db.run(
                    """
                    INSERT INTO entities (signal, kind, value, position, delivery, folded) VALUES ($1,$2,$3,$4,$5,$6)
                    ON CONFLICT (signal, kind, value) DO NOTHING
                    """, [.integer(rowID), .text(e.kind), .text(e.value), .int(base + i), .integer(deliveryID), folded])
                guard added > 0 else { continue }
                newEntities.append(e)
                if searchable { try spreadEntity(signal: rowID, kind: e.kind, value: e.value, position: base + i, folded: folded) }
            }
            try db.run("UPDATE deliveries SET new_entities = $1 WHERE id = $2", [.int(newEntities.count), .integer(deliveryID)])
        }
        return SignalRecord(rowID: rowID, signalID: s.signalID, duplicate: duplicate, updated: updated, newEntities: newEntities)
    }

    /// The `ON CONFLICT` clause that keeps a remediation entity's smallest signal and position.
    static let keepFirstEntity = """
        ON CONFLICT (remediation, kind, value) DO UPDATE SET
            first_signal = least(remediation_entities.first_signal, excluded.first_signal),
            first_position = least(remediation_entities.first_position, excluded.first_position)
        WHERE excluded.first_signal < remediation_entities.first_signal OR excluded.first_position < remediation_entities.first_position
        """

    /// A new IP or user of a stored signal joins the entities of every remediation the signal is
    /// gathered into (the SQLite engine's `remediation_entities_entity` trigger).
    func spreadEntity(signal: Int64, kind: String, value: String, position: Int, folded: PGValue) throws {
        try db.run(
            """
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position, folded)
            SELECT remediation, $2, $3, $1, $4, $5 FROM remediation_signals WHERE signal = $1
            """ + "\n" + Self.keepFirstEntity, [.integer(signal), .text(kind), .text(value), .int(position), folded])
    }

    /// Gathers a signal into a remediation with its IPs and users (the SQLite engine's
    /// `remediation_entities_link` trigger), and with `attach` also counts it on the remediation
    /// (one more signal, seen now, the highest severity) — one round trip. Returns false when it
    /// was gathered already (nothing is changed then).
    @discardableResult
    func link(remediation: Int64, signal: Int64, attach: (now: Timestamp, severityRank: Int64)? = nil) throws -> Bool {
        let added =
            try db.query(
                """
                WITH added AS (
                    INSERT INTO remediation_signals (remediation, signal) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING remediation, signal),
                entities_added AS (
                    INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position, folded)
                    SELECT a.remediation, e.kind, e.value, e.signal, e.position, e.folded FROM added a
                    JOIN entities e ON e.signal = a.signal AND e.kind IN ('ip','user')
                """ + "\n" + Self.keepFirstEntity + """
                    ),
                    attached AS (
                        UPDATE remediations SET signals = signals + 1, last_seen_ms = $4, updated_ms = $4, severity_rank = greatest(severity_rank, $5)
                        WHERE id = $1 AND $3 AND EXISTS (SELECT 1 FROM added))
                    SELECT count(*) FROM added
                    """,
                [
                    .integer(remediation), .integer(signal), .text(attach == nil ? "false" : "true"), .integer(attach?.now.milliseconds ?? 0),
                    .integer(attach?.severityRank ?? -1),
                ]
            ).first?.int(0) ?? 0
        return added > 0
    }

    /// Keeps a body the receiver refused, for the analyst's Intake errors view.
    /// The body is cut to `maxBodyBytes` (default 64 KiB; `body_size` keeps the real size) and
    /// the table to the newest `maxRows` rows (default 10,000).
    func recordIntakeError(_ e: IntakeErrorEntry, maxBodyBytes: Int = 65536, maxRows: Int = 10000) throws {
        let id =
            try db.query(
                """
                INSERT INTO intake_errors (received_ms, peer, status, reason, content_type, body, body_size)
                VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id
                """,
                [
                    .integer(e.receivedAt.milliseconds), .text(e.peer), .int(e.status), .text(e.reason), .text(e.contentType),
                    .bytes(Array(e.body.prefix(maxBodyBytes))), .int(e.bodySize),
                ]
            ).first?.int64(0) ?? 0
        if id % 100 == 0 || id > Int64(maxRows) {
            try db.run("DELETE FROM intake_errors WHERE id <= $1", [.integer(id - Int64(maxRows))])
        }
    }

    /// The columns `storedSignal(from:)` reads (table alias `s`), the entities last as a JSON array.
    static let signalColumns = """
        s.id, s.signal_id, s.source, s.rule_name, s.rule_id, s.rule_type, s.severity, s.title, s.message, s.link, s.event_id, s.date_ms,
        s.tags, s.queries, s.group_by, s.event_name, s.event_outcome, s.actor, s.flags, s.attributes, s.received_ms, s.deliveries,
        (SELECT coalesce(json_agg(json_build_array(e.kind, e.value) ORDER BY e.position), '[]') FROM entities e WHERE e.signal = s.id),
        s.status, s.suggested_duration_s, s.event_count, s.first_seen, s.last_seen
        """

    /// Maps one `signalColumns` row to a `StoredSignal`: the one place a stored signal becomes the domain value.
    static func storedSignal(from r: PGRow) -> StoredSignal {
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
        s.tags = pgStringArray(r.string(12))
        s.matchedQueries = pgStringArray(r.string(13))
        s.groupByFields = pgStringArray(r.string(14))
        s.eventName = r.string(15)
        s.eventOutcome = r.string(16)
        s.actor = r.string(17)
        s.flags = pgStringArray(r.string(18)).compactMap(SignalFlag.init(rawValue:))
        s.source = r.string(2) ?? "datadog"
        s.status = r.string(23).flatMap(SignalStatus.init(rawValue:)) ?? .firing
        s.suggestedDurationSeconds = r.int64(24).map { Int($0) }
        s.eventCount = r.int64(25).map { Int($0) }
        s.firstSeen = r.string(26)
        s.lastSeen = r.string(27)
        if let text = r.string(22), case .array(let pairs)? = try? JSONValue.parse(text) {
            for case .array(let pair) in pairs where pair.count == 2 {
                s.addStoredEntity(kind: pair[0].scalarText ?? "", value: pair[1].scalarText ?? "")
            }
        }
        return StoredSignal(
            id: r.int64(0) ?? 0, signal: s, attributesText: r.string(19), source: r.string(2) ?? "datadog",
            receivedAt: Timestamp(milliseconds: r.int64(20) ?? 0), deliveries: r.int(21))
    }

    public func signals(limit: Int, before: Int64?) throws(StoreError) -> [StoredSignal] {
        try pgCall {
            try db.query(
                "SELECT \(Self.signalColumns) FROM signals s WHERE s.id < $1 ORDER BY s.id DESC LIMIT $2",
                [.integer(before ?? Int64.max), Self.limit(limit)]
            ).map(Self.storedSignal(from:))
        }
    }

    public func signals(ofRemediation id: Int64, limit: Int) throws(StoreError) -> [StoredSignal] {
        try pgCall {
            try db.query(
                """
                SELECT \(Self.signalColumns) FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
                WHERE rs.remediation = $1 ORDER BY rs.signal DESC LIMIT $2
                """, [.integer(id), Self.limit(limit)]
            ).map(Self.storedSignal(from:))
        }
    }

    public func latestSignal(ofRemediation id: Int64) throws(StoreError) -> SignalReference? {
        try pgCall { try latestSignalReference(id) }
    }

    /// The newest signal of a remediation (in the caller's transaction).
    func latestSignalReference(_ id: Int64) throws -> SignalReference? {
        try db.query(
            """
            SELECT s.signal_id, s.rule_id, s.severity FROM remediation_signals rs JOIN signals s ON s.id = rs.signal
            WHERE rs.remediation = $1 ORDER BY s.id DESC LIMIT 1
            """, [.integer(id)]
        ).first.map { SignalReference(signalID: $0.string(0) ?? "", ruleID: $0.string(1), severity: $0.string(2).flatMap(Severity.init(rawValue:))) }
    }

    public func signalCount(naming value: String, kind: String) throws(StoreError) -> Int {
        // count(*) is count(DISTINCT signal) here: (signal, kind, value) is the key of entities.
        try pgCall { try db.query("SELECT count(*) FROM entities WHERE kind = $1 AND value = $2", [.text(kind), .text(value)]).first?.int(0) ?? 0 }
    }

    public func intakeErrors(limit: Int, before: Int64?) throws(StoreError) -> [IntakeErrorEntry] {
        try pgCall {
            try db.query(
                """
                SELECT id, received_ms, peer, status, reason, content_type, substr(body, 1, 512), body_size FROM intake_errors
                WHERE id < $1 ORDER BY id DESC LIMIT $2
                """, [.integer(before ?? Int64.max), Self.limit(limit)]
            ).map { r in
                IntakeErrorEntry(
                    id: r.int64(0) ?? 0, receivedAt: Timestamp(milliseconds: r.int64(1) ?? 0), peer: r.string(2), status: r.int(3),
                    reason: r.string(4) ?? "", contentType: r.string(5), body: r.bytes(6) ?? [], bodySize: r.int(7))
            }
        }
    }
}

/// A PostgreSQL array literal of text (`{"a","b\\"c",NULL}`) for a `$n::text[]` parameter.
func pgArray(_ items: [String?]) -> String {
    "{"
        + items.map { item in
            guard let item else { return "NULL" }
            return "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
}
