import Synchronization

/// Counters the receiver exposes at `/metrics` in the Prometheus text exposition format
/// (version 0.0.4). Thread-safe: every counter is an `Atomic`.
public final class ReceiverMetrics: Sendable {
    public let requests = Atomic<Int>(0)
    public let signalsStored = Atomic<Int>(0)
    public let duplicates = Atomic<Int>(0)
    public let intakeErrors = Atomic<Int>(0)
    public let storeErrors = Atomic<Int>(0)
    public let unauthorized = Atomic<Int>(0)
    public let openConnections = Atomic<Int>(0)
    public let refusedConnections = Atomic<Int>(0)
    /// `accept` failures (EMFILE, ENFILE, …), each followed by a back-off.
    public let acceptErrors = Atomic<Int>(0)
    private let status1xx = Atomic<Int>(0)
    private let status2xx = Atomic<Int>(0)
    private let status3xx = Atomic<Int>(0)
    private let status4xx = Atomic<Int>(0)
    private let status5xx = Atomic<Int>(0)
    /// Per sender (`Signal.source`): deliveries stored, and new signals flagged `unrecognised`.
    private let perSource = Mutex<[String: (deliveries: Int, unrecognised: Int)]>([:])

    public init() {}

    /// Counts one stored delivery of a signal from `source` (and a new signal or a duplicate in the totals).
    public func countDelivery(source: String, duplicate: Bool) {
        if duplicate {
            duplicates.add(1, ordering: .relaxed)
        } else {
            signalsStored.add(1, ordering: .relaxed)
        }
        perSource.withLock { $0[source, default: (0, 0)].deliveries += 1 }
    }

    /// Counts one new signal from `source` kept flagged `unrecognised`.
    public func countUnrecognised(source: String) {
        perSource.withLock { $0[source, default: (0, 0)].unrecognised += 1 }
    }

    /// Deliveries stored from `source` so far.
    public func deliveries(source: String) -> Int { perSource.withLock { $0[source]?.deliveries ?? 0 } }

    /// Counts one response by its status class (1xx … 5xx).
    public func count(status: Int) {
        switch status / 100 {
        case 1: status1xx.add(1, ordering: .relaxed)
        case 2: status2xx.add(1, ordering: .relaxed)
        case 3: status3xx.add(1, ordering: .relaxed)
        case 4: status4xx.add(1, ordering: .relaxed)
        default: status5xx.add(1, ordering: .relaxed)
        }
    }

    /// The exposition text. `extra` lines (already formatted) are appended.
    public func exposition(extra: [String] = []) -> String {
        var lines: [String] = []
        func counter(_ name: String, _ help: String, _ value: Int) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) counter")
            lines.append("\(name) \(value)")
        }
        counter("gavel_http_requests_total", "HTTP requests received.", requests.load(ordering: .relaxed))
        lines.append("# HELP gavel_http_responses_total HTTP responses sent, by status class.")
        lines.append("# TYPE gavel_http_responses_total counter")
        let classes = [
            status1xx.load(ordering: .relaxed), status2xx.load(ordering: .relaxed), status3xx.load(ordering: .relaxed),
            status4xx.load(ordering: .relaxed), status5xx.load(ordering: .relaxed),
        ]
        for (i, value) in classes.enumerated() { lines.append("gavel_http_responses_total{code=\"\(i + 1)xx\"} \(value)") }
        counter("gavel_signals_stored_total", "Signals committed for the first time.", signalsStored.load(ordering: .relaxed))
        counter("gavel_signal_duplicates_total", "Deliveries of an already stored signal id.", duplicates.load(ordering: .relaxed))
        counter("gavel_intake_errors_total", "Bodies refused as malformed (kept in intake_errors).", intakeErrors.load(ordering: .relaxed))
        counter("gavel_store_errors_total", "Requests answered 503 because the store failed.", storeErrors.load(ordering: .relaxed))
        counter("gavel_unauthorized_total", "Requests refused with 401.", unauthorized.load(ordering: .relaxed))
        counter(
            "gavel_connections_refused_total", "Connections refused over the connection cap (global or per peer).",
            refusedConnections.load(ordering: .relaxed))
        counter(
            "gavel_accept_errors_total", "accept() failures (such as out of file descriptors), each followed by a 100 ms back-off.",
            acceptErrors.load(ordering: .relaxed))
        let sources = perSource.withLock { $0 }.sorted { $0.key < $1.key }
        lines.append("# HELP gavel_deliveries_total Signal deliveries stored, by sender (a post of several alerts counts each signal).")
        lines.append("# TYPE gavel_deliveries_total counter")
        for (source, counts) in sources { lines.append("gavel_deliveries_total{source=\"\(Self.labelValue(source))\"} \(counts.deliveries)") }
        lines.append("# HELP gavel_signals_unrecognised_total New signals from which no rule and no entity could be read, by sender.")
        lines.append("# TYPE gavel_signals_unrecognised_total counter")
        for (source, counts) in sources where counts.unrecognised > 0 {
            lines.append("gavel_signals_unrecognised_total{source=\"\(Self.labelValue(source))\"} \(counts.unrecognised)")
        }
        lines.append("# HELP gavel_open_connections Connections open now.")
        lines.append("# TYPE gavel_open_connections gauge")
        lines.append("gavel_open_connections \(openConnections.load(ordering: .relaxed))")
        return (lines + extra).joined(separator: "\n") + "\n"
    }

    /// A label value escaped as the text exposition format requires: `\\`, `\"` and `\n`.
    static func labelValue(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
