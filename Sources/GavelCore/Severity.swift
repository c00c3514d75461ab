/// The severity of a security signal, as Datadog names it.
///
/// Source: Datadog's `$SECURITY_SIGNAL_SEVERITY` webhook variable, which carries a word
/// (`info`, `low`, `medium`, `high`, `critical`); some templates send the 0–4 integer
/// that Datadog uses internally, which maps in the same order.
public enum Severity: String, Sendable, CaseIterable, Comparable, Codable {
    case info, low, medium, high, critical

    /// 0 (`info`) … 4 (`critical`); used to sort the pending queue.
    public var rank: Int {
        switch self {
        case .info: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }

    /// Parses a severity word (case-insensitive, surrounding blanks ignored) or a 0–4 integer.
    /// - Returns: nil for anything else (the signal is then stored with no severity).
    public init?(parsing text: String) {
        let t = text.trimmingASCIIWhitespace().lowercased()
        if let s = Severity(rawValue: t) {
            self = s
            return
        }
        switch t {
        case "0": self = .info
        case "1": self = .low
        case "2": self = .medium
        case "3": self = .high
        case "4": self = .critical
        default: return nil
        }
    }

    /// Parses a severity as alerting tools write it: anything `init(parsing:)` accepts, plus the
    /// words Prometheus alerting rules, Grafana and Elastic use (case-insensitive, surrounding
    /// blanks ignored): `crit`, `fatal`, `emergency`, `page` → critical; `error`, `err`, `major`
    /// → high; `warning`, `warn`, `moderate` → medium; `minor` → low; `informational`, `none`,
    /// `debug` → info. Nil for anything else.
    public init?(label text: String) {
        if let s = Severity(parsing: text) {
            self = s
            return
        }
        switch text.trimmingASCIIWhitespace().lowercased() {
        case "crit", "fatal", "emergency", "page": self = .critical
        case "error", "err", "major": self = .high
        case "warning", "warn", "moderate": self = .medium
        case "minor": self = .low
        case "informational", "none", "debug": self = .info
        default: return nil
        }
    }

    /// Maps a GuardDuty finding's numeric `severity` to GuardDuty's bands ("Severity levels of
    /// GuardDuty findings", Amazon GuardDuty User Guide): 9.0–10.0 critical, 7.0–8.9 high,
    /// 4.0–6.9 medium, 1.0–3.9 low (older findings start at 0.1, also low). Values between two
    /// bands (8.95) take the lower band. Nil for 0 (reserved), negatives, above 10, or non-numbers.
    public init?(guardDutyScore text: String) {
        guard let value = Double(text.trimmingASCIIWhitespace()), value.isFinite, value > 0, value <= 10 else { return nil }
        switch value {
        case 9...: self = .critical
        case 7...: self = .high
        case 4...: self = .medium
        default: self = .low
        }
    }

    /// The severity with the given rank (0–4), or nil.
    public init?(rank: Int) {
        guard let s = Severity.allCases.first(where: { $0.rank == rank }) else { return nil }
        self = s
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

extension String {
    /// The string without leading and trailing ASCII spaces, tabs, CR and LF.
    public func trimmingASCIIWhitespace() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        var s = Substring(self)
        while let f = s.first, blank(f) { s = s.dropFirst() }
        while let l = s.last, blank(l) { s = s.dropLast() }
        return String(s)
    }
}
