import Foundation

/// Time as gavel stores and prints it: integer epoch milliseconds (UTC) in the database,
/// RFC 3339 UTC text (`2026-11-29T08:15:02.123Z`) in JSON output and the audit log.
public enum Timestamp {
    /// Milliseconds since the Unix epoch, now.
    public static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

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
