import GavelCore

/// A `HOST:PORT` listen address as given to `--listen` (DESIGN.md: default `127.0.0.1:8787`;
/// port 0 picks a free port). IPv6 hosts are written in brackets: `[::1]:8787`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`. Returns nil when malformed (no port, port not
    /// 0–65535 in plain digits, empty host, unbracketed IPv6).
    public init?(parsing text: String) {
        var hostPart: Substring
        var portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard !hostPart.isEmpty, !portPart.isEmpty, portPart.count <= 5,
            portPart.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portPart), port <= 65535
        else { return nil }
        self.host = String(hostPart)
        self.port = port
    }

    /// True when the host is a loopback address or `localhost` (no secret needed there).
    public var isLoopback: Bool {
        if host == "localhost" { return true }
        if let ip = IPAddress(parsing: host) {
            return CIDR(parsing: "127.0.0.0/8")!.contains(ip) || ip.description == "::1"
        }
        return false
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
