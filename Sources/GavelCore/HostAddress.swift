/// The host named by a label or field value that may carry more than a host: an exporter's
/// `instance` (`10.0.4.17:9100`, `bastion-1.example.com:9100`, `[2001:db8::5]:9100`), a
/// blackbox probe's URL (`https://server.example.org/health`), a log's `remote_addr`
/// (`203.0.113.7:52114`), or a bare address or name.
///
/// Only the text is read: a name is never resolved. The host must be non-empty; anything odd
/// (blanks, a bad port, brackets without an IPv6 address) leaves the value as it is, so that a
/// target IP field holding it is kept apart as an invalid IP rather than guessed at.
enum HostAddress {
    /// The host part of `value`: an IP address when it is one, else the name.
    enum Host: Equatable {
        case ip(IPAddress)
        case name(String)
    }

    /// Splits off a URL scheme and path, userinfo, brackets and a port (RFC 3986 §3.2 shapes).
    static func host(of value: String) -> Host {
        var text = Substring(value)
        if let scheme = text.range(of: "://") {
            text = text[scheme.upperBound...]
            if let end = text.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { text = text[..<end] }
            if let at = text.lastIndex(of: "@") { text = text[text.index(after: at)...] }
        }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let inside = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if let ip = IPAddress(parsing: inside), after.isEmpty || isPort(after.dropFirst()) && after.first == ":" {
                return .ip(ip)
            }
            return classify(value)
        }
        if let ip = IPAddress(parsing: String(text)) { return .ip(ip) }
        // One colon: host:port (an IPv6 address has at least two).
        if let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].firstIndex(of: ":") == nil,
            isPort(text[text.index(after: colon)...])
        {
            let host = String(text[..<colon])
            if let ip = IPAddress(parsing: host) { return .ip(ip) }
            if isName(host) { return .name(host) }
            return classify(value)
        }
        if text.startIndex != value.startIndex || text.endIndex != value.endIndex, isName(String(text)) {
            return .name(String(text))
        }
        return classify(value)
    }

    private static func classify(_ value: String) -> Host {
        IPAddress(parsing: value).map(Host.ip) ?? .name(value)
    }

    /// 1–5 ASCII digits.
    private static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 5 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// A plausible host name: non-empty, no blanks, controls, `/`, `@` or `:`.
    private static func isName(_ text: String) -> Bool {
        !text.isEmpty && !text.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F || $0 == "/" || $0 == "@" || $0 == ":" }
    }
}
