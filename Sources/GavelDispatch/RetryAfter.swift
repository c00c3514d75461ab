/// The `Retry-After` response header (RFC 9110 §10.2.3): how long the endpoint asks its caller to
/// wait, either `delay-seconds` (a non-negative integer) or an `HTTP-date` (§5.6.7), which a
/// recipient must accept in all three formats: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and ANSI C's asctime
/// (`Sun Nov  6 08:49:37 1994`).
public enum RetryAfter {
    /// The longest wait honoured, in seconds (1 hour): a longer one is cut to it.
    public static let maximumSeconds = 3600.0

    /// Seconds to wait from `now`, at least 0 and at most `maximumSeconds`; nil when `value` is
    /// neither form.
    /// - Parameters:
    ///   - value: the header's value.
    ///   - now: the current time, in seconds since 1970 (UTC).
    public static func seconds(_ value: String, now: Double) -> Double? {
        let text = value.trimmingSpaces
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard text.count <= 12, let n = Double(text) else { return maximumSeconds }
            return min(n, maximumSeconds)
        }
        guard let date = httpDate(text) else { return nil }
        return min(max(0, date - now), maximumSeconds)
    }

    /// An HTTP-date in any of its three formats, as seconds since 1970 (UTC); nil otherwise.
    public static func httpDate(_ text: String) -> Double? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        if words.count == 6, words[0].hasSuffix(","), words[5] == "GMT" {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            day = Int(words[1])
            month = monthNumber(words[2])
            year = words[3].count == 4 ? Int(words[3]) : nil
            time = clock(words[4])
        } else if words.count == 4, words[0].hasSuffix(","), words[3] == "GMT" {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (a two-digit year more than 50 years ahead is in the past, RFC 9110 §5.6.7)
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, parts[2].count == 2, let yy = Int(parts[2]) else { return nil }
            day = Int(parts[0])
            month = monthNumber(parts[1])
            year = yy + (yy < 70 ? 2000 : 1900)
            time = clock(words[2])
        } else if words.count == 5 {
            // asctime: Sun Nov  6 08:49:37 1994
            month = monthNumber(words[1])
            day = Int(words[2])
            time = clock(words[3])
            year = words[4].count == 4 ? Int(words[4]) : nil
        }
        guard let day, let month, let year, let time, (1...31).contains(day), (1...9999).contains(year) else { return nil }
        let days = daysSince1970(year: year, month: month, day: day)
        return Double(days * 86400 + time.0 * 3600 + time.1 * 60 + time.2)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func monthNumber(_ name: String) -> Int? { months.firstIndex(of: name).map { $0 + 1 } }

    private static func clock(_ text: String) -> (Int, Int, Int)? {
        let parts = text.split(separator: ":").map { Int($0) }
        guard parts.count == 3, let h = parts[0], let m = parts[1], let s = parts[2], (0...23).contains(h), (0...59).contains(m), (0...60).contains(s)
        else { return nil }
        return (h, m, s)
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`).
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
