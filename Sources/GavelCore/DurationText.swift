/// How long a remediation stays in force, and the other durations of the configuration
/// (`"grace"`, escalation `max` and `window`): text such as `"200ms"`, `"30s"`, `"30m"`, `"4h"`,
/// `"7d"`, `"2w"`, or combined `"1h30m"` (the units of CrowdSec's and Go's durations), or
/// `"permanent"` for no end.
///
/// Grammar: `permanent` | one or more `<digits><unit>` with units `ms`, `s`, `m`, `h`, `d`
/// (24 h), `w` (7 d), no blanks; the total is more than 0 and at most 10 years.
public enum DurationText {
    /// One hour, in milliseconds.
    public static let hour: Int64 = 3_600_000
    /// The longest duration accepted: ten years, in milliseconds.
    public static let maximum: Int64 = 10 * 365 * 24 * hour

    /// The duration in milliseconds; nil for `permanent`.
    /// - Throws: `DurationError` naming what is wrong (for `ConfigError` messages).
    public static func milliseconds(_ text: String) throws(DurationError) -> Int64? {
        if text == "permanent" { return nil }
        var total: Int64 = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { throw DurationError("empty: expected e.g. \"30m\", \"4h\", \"7d\" or \"permanent\"") }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 12, let n = Int64(digits) else {
                throw DurationError("\(text.quotedForMessage) is not a duration: expected e.g. \"30m\", \"4h\", \"7d\" or \"permanent\"")
            }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Int64
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = hour
            case "d": scale = 24 * hour
            case "w": scale = 7 * 24 * hour
            default:
                throw DurationError("\(text.quotedForMessage): unit must be ms, s, m, h, d or w")
            }
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)
            guard !overflow, product <= maximum else { throw DurationError("\(text.quotedForMessage) is longer than 10 years") }
            total += product
        }
        guard total > 0 else { throw DurationError("\(text.quotedForMessage) is zero") }
        guard total <= maximum else { throw DurationError("\(text.quotedForMessage) is longer than 10 years") }
        return total
    }

    /// The shortest text for `ms` (`4h`, `1h30m`, `200ms`; nil → `permanent`).
    public static func text(_ ms: Int64?) -> String {
        guard var rest = ms else { return "permanent" }
        if rest == 0 { return "0s" }
        var out = ""
        for (unit, scale) in [("d", 24 * hour), ("h", hour), ("m", Int64(60_000)), ("s", Int64(1000)), ("ms", Int64(1))] where rest >= scale {
            out += "\(rest / scale)\(unit)"
            rest %= scale
        }
        return out
    }

    /// Time left as people read it: `3d 4h`, `2h 5m`, `4m 10s`, `12s`, or `expired`.
    public static func timeLeft(_ ms: Int64) -> String {
        if ms <= 0 { return "expired" }
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86400)d \(s % 86400 / 3600)h"
    }
}

/// A duration text that cannot be read (see `DurationText`).
public struct DurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the duration of a repeat offender's remediation grows (issue 12: fail2ban's
/// `bantime.increment`): a target remediated before within `windowMs` gets the previous duration
/// times `factor`, capped at `maxMs`.
public struct Escalation: Sendable, Equatable {
    /// The growth of each repeat (e.g. 2: 4h, then 8h, then 16h). At least 1.
    public var factor: Double
    /// The cap, in milliseconds.
    public var maxMs: Int64
    /// How far back a previous remediation counts, in milliseconds.
    public var windowMs: Int64

    public init(factor: Double, maxMs: Int64, windowMs: Int64) {
        self.factor = factor
        self.maxMs = maxMs
        self.windowMs = windowMs
    }

    /// The duration for a remediation that starts now: `base` (nil: permanent), or the previous
    /// one's times the factor, capped, when the previous one started within the window.
    /// - Parameter previous: the most recent earlier remediation of the same (action, target):
    ///   when it came into force and for how long (nil: permanent).
    public func duration(base: Int64?, previous: (since: Timestamp, durationMs: Int64?)?, now: Timestamp) -> Int64? {
        guard let base else { return nil }
        guard let previous, now.milliseconds(since: previous.since) <= windowMs, let last = previous.durationMs else { return base }
        let grown = Double(last) * factor
        return min(maxMs, grown.isFinite && grown < Double(Int64.max) ? max(base, Int64(grown)) : maxMs)
    }
}
