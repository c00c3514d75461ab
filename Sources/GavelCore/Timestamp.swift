import Foundation

/// A point in time as gavel's domain knows it: whole milliseconds since the Unix epoch (UTC).
///
/// The one time representation of the domain (`Remediation`, `Attempt`, `AuditEntry`, `Rule`,
/// the console's cursors): exact integers, so a value read from the store compares equal to the
/// one written and keyset cursors never drift through floating point. Stores keep it as an
/// integer column (`*_ms`); JSON output and the audit log print it as RFC 3339 UTC text with
/// milliseconds (`2026-11-29T08:15:02.123Z`, RFC 3339 §5.6).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z; negative before it.
    public var milliseconds: Int64

    /// The instant `milliseconds` after the epoch.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The instant of `date`, rounded to the nearest millisecond.
    public init(_ date: Date) { milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Now, from the system clock.
    public static var now: Timestamp { Timestamp(Date()) }

    /// The same instant as a Foundation `Date` (for formatting relative ages).
    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// RFC 3339 UTC text with milliseconds, e.g. `2026-11-29T08:15:02.123Z`.
    public var rfc3339: String { Timestamp.rfc3339(ms: milliseconds) }

    public var description: String { rfc3339 }

    /// This instant moved by `milliseconds` (negative: earlier); saturates instead of overflowing.
    public func adding(milliseconds delta: Int64) -> Timestamp {
        let (sum, overflow) = milliseconds.addingReportingOverflow(delta)
        return Timestamp(milliseconds: overflow ? (delta > 0 ? .max : .min) : sum)
    }

    /// Milliseconds from `other` to this instant (positive when this one is later).
    public func milliseconds(since other: Timestamp) -> Int64 { milliseconds &- other.milliseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// Milliseconds since the Unix epoch, now.
    public static func nowMs() -> Int64 { Timestamp.now.milliseconds }

    /// RFC 3339 UTC text with milliseconds for an epoch-millisecond value.
    public static func rfc3339(ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var millis = Int(ms % 1000)
        if millis < 0 {
            millis += 1000
            seconds -= 1
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let m = String(millis)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 3 - m.count) + m + "Z"
    }
}
