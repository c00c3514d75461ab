import Foundation
import GavelCore

/// UTC time formatting for the console, without locale or `DateFormatter` (pure and fast).
enum TimeText {
    /// `2024-06-01 12:00:05Z`
    static func stamp(_ date: Date) -> String {
        let (y, mo, d, h, mi, s) = civil(date)
        return "\(y)-\(two(mo))-\(two(d)) \(two(h)):\(two(mi)):\(two(s))Z"
    }

    /// `06-01 12:00:05` (list columns).
    static func short(_ date: Date) -> String {
        let (_, mo, d, h, mi, s) = civil(date)
        return "\(two(mo))-\(two(d)) \(two(h)):\(two(mi)):\(two(s))"
    }

    /// `12:00:05Z` (header clock).
    static func clock(_ date: Date) -> String {
        let (_, _, _, h, mi, s) = civil(date)
        return "\(two(h)):\(two(mi)):\(two(s))Z"
    }

    /// `45s`, `12m`, `3h`, `5d` since `date` (0s for the future).
    static func age(_ date: Date, now: Date) -> String {
        let s = max(0, Int(now.timeIntervalSince(date)))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    /// `stamp` of a `Timestamp`.
    static func stamp(_ t: Timestamp) -> String { stamp(t.date) }
    /// `short` of a `Timestamp`.
    static func short(_ t: Timestamp) -> String { short(t.date) }
    /// `age` of a `Timestamp`.
    static func age(_ t: Timestamp, now: Date) -> String { age(t.date, now: now) }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Gregorian date and time in UTC (Howard Hinnant's days-to-civil algorithm).
    private static func civil(_ date: Date) -> (Int, Int, Int, Int, Int, Int) {
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
    }
}
