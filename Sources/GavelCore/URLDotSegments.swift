import Foundation

/// Dot segments in a rendered URL path (RFC 3986 §3.3, §5.2.4).
///
/// A path segment `.` or `..` is removed, with the segment before it for `..`, by the HTTP
/// client, proxies and servers that normalise paths: a template
/// `/v1/signals/{{signal_id}}/ban/{{ip}}` rendered with the signal id `..` becomes
/// `/v1/ban/203.0.113.1` on the wire (issue 16). Percent-encoding keeps `.` (it is unreserved),
/// and the encoded forms (`%2e`, `%2E%2e`, and a value of `%2e%2e` encoded again as `%252e%252e`)
/// are decoded by many normalisers, one layer per hop. So a segment is refused when, decoded
/// until it no longer changes (at most four layers), any part of it between `/` or `\` — the
/// decoded slash separates segments for some servers, the backslash for others — is `.` or
/// `..`, also with a `;parameters` suffix (`..;`, which servlet containers read as `..`).
public enum URLDotSegments {
    /// The first segment of `url`'s path that would be a dot segment once decoded, or nil.
    /// The path is what follows the authority up to `?` or `#`.
    public static func offendingSegment(in url: String) -> (segment: String, decoded: String)? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let afterScheme = url[schemeEnd.upperBound...]
        guard let pathStart = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) else { return nil }
        let rest = afterScheme[pathStart...]
        let path = rest.prefix { $0 != "?" && $0 != "#" }
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            let decoded = fullyDecoded(String(segment))
            for part in decoded.split(whereSeparator: { $0 == "/" || $0 == "\\" }) where isDotSegment(part) {
                return (String(segment), String(part))
            }
            if isDotSegment(Substring(decoded)) { return (String(segment), decoded) }
        }
        return nil
    }

    /// `.` or `..`, ignoring a `;parameters` suffix.
    static func isDotSegment(_ part: Substring) -> Bool {
        let name = part.prefix { $0 != ";" }
        if name == "." || name == ".." { return true }
        // Look-alikes servers read as dots (second attacker pass): `.. ` and `..\t` (trimmed by
        // IIS), U+FF0E `．` and U+2024 `․` (`.` under Unicode NFKC, which some servers apply).
        let folded = String(name).precomposedStringWithCompatibilityMapping.trimmingCharacters(
            in: CharacterSet.whitespacesAndNewlines.union(.controlCharacters))
        return folded == "." || folded == ".."
    }

    /// `text` percent-decoded repeatedly until it stops changing (at most four layers); bytes
    /// that are not valid UTF-8 become U+FFFD.
    static func fullyDecoded(_ text: String) -> String {
        var current = text
        for _ in 0..<4 {
            let next = percentDecoded(current)
            if next == current { break }
            current = next
        }
        return current
    }

    /// One layer of percent-decoding; a `%` not followed by two hex digits stays as it is.
    static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
