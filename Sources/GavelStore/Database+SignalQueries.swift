import GavelCore

/// A stored signal as `gavel signals --json` lists it (DESIGN.md "JSON output of the CLI").
public struct SignalSummary: Sendable, Equatable {
    public var id: Int64
    public var signalID: String
    public var rule: String?
    public var ruleID: String?
    public var severity: String?
    public var title: String?
    public var link: String?
    /// Canonical IPs.
    public var ips: [String]
    /// User ids.
    public var users: [String]
    /// Security-group ids.
    public var resources: [String]
    public var receivedMs: Int64
    /// How many POSTs carried this signal.
    public var deliveries: Int
    /// Sender format (`datadog`).
    public var source: String
    /// Payload flags (`derived_id`, `invalid_ip`, …).
    public var flags: [String]

    /// The contract's JSON object for this signal.
    public var json: JSONValue {
        func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return .object([
            JSONMember("id", .number(String(id))),
            JSONMember("signal_id", .string(signalID)),
            JSONMember("rule", opt(rule)),
            JSONMember("rule_id", opt(ruleID)),
            JSONMember("severity", opt(severity)),
            JSONMember("title", opt(title)),
            JSONMember("link", opt(link)),
            JSONMember("ips", strings(ips)),
            JSONMember("users", strings(users)),
            JSONMember("resources", strings(resources)),
            JSONMember("received_at", .string(Timestamp.rfc3339(ms: receivedMs))),
            JSONMember("deliveries", .number(String(deliveries))),
            JSONMember("source", .string(source)),
            JSONMember("flags", strings(flags)),
        ])
    }
}

extension Database {
    /// Signals newest first. `limit` 0 means no limit.
    public func signals(limit: Int, before: Int64? = nil) throws -> [SignalSummary] {
        try readTransaction {
            let rows = try query(
                """
                SELECT id, signal_id, rule_name, rule_id, severity, title, link, received_ms, deliveries, source, flags
                FROM signals WHERE id < ? ORDER BY id DESC LIMIT ?
                """, [.integer(before ?? Int64.max), .integer(limit == 0 ? -1 : Int64(limit))])
            return try rows.map { r in
                let id = r.int64(0) ?? 0
                let entities = try query("SELECT kind, value FROM entities WHERE signal = ? ORDER BY position", [.integer(id)])
                func values(_ kind: String) -> [String] { entities.filter { $0.string(0) == kind }.compactMap { $0.string(1) } }
                let flags =
                    (try? JSONValue.parse(r.string(10) ?? "[]")).flatMap { v -> [String]? in
                        if case .array(let a) = v { return a.compactMap(\.scalarText) }
                        return nil
                    } ?? []
                return SignalSummary(
                    id: id, signalID: r.string(1) ?? "", rule: r.string(2), ruleID: r.string(3),
                    severity: r.string(4), title: r.string(5), link: r.string(6),
                    ips: values("ip"), users: values("user"), resources: values("security_group"),
                    receivedMs: r.int64(7) ?? 0, deliveries: r.int(8), source: r.string(9) ?? "datadog",
                    flags: flags)
            }
        }
    }
}
