import GavelCore

/// One POST that carried a signal, as the receiver hands it to the store.
public struct IncomingSignal: Sendable {
    /// The normalized signal.
    public var signal: Signal {
        didSet { attributesJSON = signal.attributes?.compactText }
    }
    /// The request body exactly as received.
    public var rawBody: [UInt8] {
        didSet { bodySHA256 = SHA256.hex(SHA256.hash(rawBody)) }
    }
    /// Lowercase hex SHA-256 of `rawBody`, and `signal.attributes` as compact JSON: derived
    /// when the value is made (on the receiver's connection thread, in parallel) so the one
    /// ingest writer thread does not spend its time on them. Kept in step by the `didSet`s.
    public private(set) var bodySHA256: String
    public private(set) var attributesJSON: String?
    /// The request's media type (`application/json`, `application/x-www-form-urlencoded`).
    public var contentType: String?
    /// The peer address (`127.0.0.1:53211`), for the deliveries table.
    public var peer: String?
    /// When the request was received, epoch ms.
    public var receivedMs: Int64

    public init(signal: Signal, rawBody: [UInt8], contentType: String?, peer: String?, receivedMs: Int64 = Timestamp.nowMs()) {
        self.signal = signal
        self.rawBody = rawBody
        self.bodySHA256 = SHA256.hex(SHA256.hash(rawBody))
        self.attributesJSON = signal.attributes?.compactText
        self.contentType = contentType
        self.peer = peer
        self.receivedMs = receivedMs
    }
}

/// What storing one delivery did.
public struct SignalRecordResult: Sendable, Equatable {
    /// Row id of the signal in `signals`.
    public var rowID: Int64
    /// The signal's id (Datadog's, or derived).
    public var signalID: String
    /// True when the signal id was already stored (a retry or an update); no second signal was made.
    public var duplicate: Bool
    /// True when the body differed from every earlier delivery of this id (Datadog's "notify on update").
    public var updated: Bool
    /// Entities (IPs, users, groups …) this delivery added that were not stored before, as (kind, value).
    public var newEntities: [EntityValue]
}

/// One extracted entity of a signal.
public struct EntityValue: Sendable, Equatable, Hashable {
    /// `ip`, `user`, `security_group`, `invalid_ip`, `user_email`, `user_name`, `actor`.
    public var kind: String
    public var value: String
    public init(_ kind: String, _ value: String) {
        self.kind = kind
        self.value = value
    }
}

extension Signal {
    /// The entities stored for this signal, in extraction order.
    public var entityValues: [EntityValue] {
        ips.map { EntityValue("ip", $0.description) }
            + users.map { EntityValue("user", $0) }
            + securityGroups.map { EntityValue("security_group", $0) }
            + invalidIPs.map { EntityValue("invalid_ip", $0) }
            + userEmails.map { EntityValue("user_email", $0) }
            + userNames.map { EntityValue("user_name", $0) }
            + (actor.map { [EntityValue("actor", $0)] } ?? [])
    }
}

func jsonArray(_ items: [String]) -> String {
    JSONValue.array(items.map { .string($0) }).compactText
}

extension Database {
    /// Stores one delivery of a signal: inserts the signal on first sight, otherwise records
    /// the delivery and adds only the entities not seen before. Must run inside a write
    /// transaction (the ingest writer's group commit).
    /// - Throws: `SQLiteError`.
    public func record(_ incoming: IncomingSignal) throws -> SignalRecordResult {
        let s = incoming.signal
        let sha = incoming.bodySHA256
        let existing = try query("SELECT id, body_sha256 FROM signals WHERE signal_id = ?", [.text(s.signalID)]).first
        let rowID: Int64
        var duplicate = false
        var updated = false
        if let existing, let id = existing.int64(0) {
            rowID = id
            duplicate = true
            let seenBefore = try !query(
                "SELECT 1 FROM deliveries WHERE signal = ? AND body_sha256 = ? LIMIT 1",
                [.integer(id), .text(sha)]
            ).isEmpty
            let seen = existing.string(1) == sha || seenBefore
            updated = !seen
            try run("UPDATE signals SET deliveries = deliveries + 1, updated_ms = ? WHERE id = ?", [.integer(incoming.receivedMs), .integer(id)])
        } else {
            try run(
                """
                INSERT INTO signals (signal_id, rule_key, rule_name, rule_id, rule_type, severity, title, message, link,
                    event_id, date_ms, tags, queries, group_by, event_name, event_outcome, actor, attributes, flags,
                    content_type, raw_body, body_sha256, received_ms, updated_ms)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """,
                [
                    .text(s.signalID), .text(s.ruleKey), .text(s.ruleName), .text(s.ruleID), .text(s.ruleType),
                    .text(s.severity?.rawValue), .text(s.title), .text(s.message), .text(s.link),
                    .text(s.eventID), .text(s.date), .text(jsonArray(s.tags)), .text(jsonArray(s.matchedQueries)),
                    .text(jsonArray(s.groupByFields)), .text(s.eventName), .text(s.eventOutcome), .text(s.actor),
                    .text(incoming.attributesJSON), .text(jsonArray(s.flags.map(\.rawValue))),
                    .text(incoming.contentType), .blob(incoming.rawBody), .text(sha),
                    .integer(incoming.receivedMs), .integer(incoming.receivedMs),
                ])
            rowID = lastInsertRowID
        }
        try run(
            """
            INSERT INTO deliveries (signal, received_ms, peer, content_type, body_sha256, body, duplicate)
            VALUES (?,?,?,?,?,?,?)
            """,
            [
                .integer(rowID), .integer(incoming.receivedMs), .text(incoming.peer), .text(incoming.contentType),
                .text(sha), updated ? .blob(incoming.rawBody) : .null, .integer(duplicate ? 1 : 0),
            ])
        let deliveryID = lastInsertRowID
        var newEntities: [EntityValue] = []
        if !duplicate || updated {
            // A new signal has no entities yet; only an update appends after the stored ones.
            let base = duplicate ? try query("SELECT count(*) FROM entities WHERE signal = ?", [.integer(rowID)]).first?.int(0) ?? 0 : 0
            for (i, e) in s.entityValues.enumerated() {
                let added = try run(
                    "INSERT OR IGNORE INTO entities (signal, kind, value, position, delivery) VALUES (?,?,?,?,?)",
                    [.integer(rowID), .text(e.kind), .text(e.value), .integer(Int64(base + i)), .integer(deliveryID)])
                if added > 0 { newEntities.append(e) }
            }
            if duplicate {
                try run("UPDATE deliveries SET new_entities = ? WHERE id = ?", [.integer(Int64(newEntities.count)), .integer(deliveryID)])
            }
        }
        return SignalRecordResult(rowID: rowID, signalID: s.signalID, duplicate: duplicate, updated: updated, newEntities: newEntities)
    }

    /// Keeps a body the receiver refused, for the analyst's Intake errors view.
    /// The body is cut to `maxBodyBytes` (default 64 KiB; `body_size` keeps the real size) and
    /// the table to the newest `maxRows` rows (default 10,000).
    public func recordIntakeError(
        status: Int, reason: String, contentType: String?, peer: String?, body: [UInt8],
        receivedMs: Int64 = Timestamp.nowMs(), maxBodyBytes: Int = 65536, maxRows: Int = 10000
    ) throws {
        try run(
            """
            INSERT INTO intake_errors (received_ms, peer, status, reason, content_type, body, body_size)
            VALUES (?,?,?,?,?,?,?)
            """,
            [
                .integer(receivedMs), .text(peer), .integer(Int64(status)), .text(reason), .text(contentType),
                .blob(Array(body.prefix(maxBodyBytes))), .integer(Int64(body.count)),
            ])
        let id = lastInsertRowID
        if id % 100 == 0 || id > Int64(maxRows) {
            try run("DELETE FROM intake_errors WHERE id <= ?", [.integer(id - Int64(maxRows))])
        }
    }

    /// Appends one row to the audit log.
    /// - Parameters:
    ///   - actor: who did it (`--by`, the OS user, `auto:RULE`, `gavel` for the system).
    ///   - action: what was done (`approve`, `reject`, `mode`, `dispatch`, …).
    ///   - subject: what it was done to (`remediation 12`, `rule Foo`).
    public func audit(
        actor: String, action: String, subject: String, before: String? = nil, after: String? = nil,
        detail: String? = nil, atMs: Int64 = Timestamp.nowMs()
    ) throws {
        try run(
            "INSERT INTO audit (at_ms, actor, action, subject, before, after, detail) VALUES (?,?,?,?,?,?,?)",
            [.integer(atMs), .text(actor), .text(action), .text(subject), .text(before), .text(after), .text(detail)])
    }
}
