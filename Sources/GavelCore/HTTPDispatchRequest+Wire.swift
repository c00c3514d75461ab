import Foundation

/// An HTTP action's request exactly as it goes on the wire (RFC 9112): what gavel's own HTTP/1.1
/// client writes for an `http://` URL, and what the request preview shows, line for line.
public struct HTTPWireRequest: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// The host to connect to: a name, or an IP address without brackets.
    public var host: String
    /// The port to connect to (80 or 443 unless the URL names one).
    public var port: UInt16
    /// The head's lines without line ends: the request line, then the header fields.
    public var headLines: [String]
    /// The content (empty for none).
    public var body: [UInt8]

    /// The bytes sent: each head line ended by CR LF, an empty line, then the body.
    public var bytes: [UInt8] {
        Array((headLines.map { $0 + "\r\n" }.joined() + "\r\n").utf8) + body
    }

    /// Where it goes, as people read it: `http://127.0.0.1:8080`.
    public var origin: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = scheme == "https" ? 443 : 80
        return "\(scheme)://\(shownHost)" + (port == defaultPort ? "" : ":\(port)")
    }
}

extension HTTPDispatchRequest {
    /// The `User-Agent` every action sends unless it configures its own: `gavel/VERSION`, the
    /// version `gavel --version` prints (`GavelVersion.number`).
    public static let userAgent = "gavel/\(GavelVersion.number)"

    /// The request on the wire, in this order and nothing else:
    /// - the request line `METHOD TARGET HTTP/1.1`, the target in origin form (the URL's path and
    ///   query as rendered, `/` when empty; the fragment is never sent — RFC 9112 §3.2.1);
    /// - `Host:` the URL's authority without userinfo (RFC 9112 §3.2);
    /// - the rendered header fields in the configured order (defaults not configured come after:
    ///   `Content-Type`, `Idempotency-Key`, `User-Agent`), `Idempotency-Key` always carrying
    ///   `idempotencyKey` (appended when the request has none) — when `idempotencyKey` is given;
    /// - `Authorization: Basic …` from the URL's userinfo (percent-decoded), when it has one and no
    ///   `Authorization` field is configured;
    /// - `Content-Length:` the body's size, when there is a body or the method is POST, PUT or PATCH
    ///   (RFC 9110 §8.6); never `Transfer-Encoding`.
    ///
    /// Over `https` the platform's client (libcurl through Foundation) sends the same fields but in
    /// its own order and adds `Accept`, `Accept-Encoding`, `Accept-Language` and `Connection`.
    /// - Throws: `DispatchRefusal` when the URL is not an absolute http(s) URL with a host and a
    ///   valid port, or the method is not a token.
    public func wire(idempotencyKey: String? = nil) throws(DispatchRefusal) -> HTTPWireRequest {
        guard HTTPToken.isToken(method) else { throw DispatchRefusal("invalid HTTP method") }
        guard let schemeEnd = url.firstRange(of: "://") else { throw DispatchRefusal("invalid URL: not an absolute http(s) URL") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw DispatchRefusal("invalid URL: not an absolute http(s) URL") }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        var authority = afterScheme[..<authorityEnd]
        var userinfo: Substring?
        if let at = authority.lastIndex(of: "@") {
            userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
        }
        let (host, port) = try Self.hostAndPort(authority, defaultPort: scheme == "https" ? 443 : 80)
        let rest = afterScheme[authorityEnd...]
        var target = String(rest.prefix { $0 != "#" })
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        guard !target.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) else {
            throw DispatchRefusal("invalid URL: the path or query holds a space, a control or a non-ASCII character")
        }

        var fields = headers
        if let key = idempotencyKey {
            if let i = fields.firstIndex(where: { $0.name.lowercased() == "idempotency-key" }) {
                fields[i].value = key
                fields.removeAll { $0.name.lowercased() == "idempotency-key" && $0.value != key }
            } else {
                fields.append(HTTPHeaderField("Idempotency-Key", key))
            }
        }
        if let userinfo, !fields.contains(where: { $0.name.lowercased() == "authorization" }) {
            let decoded = String(decoding: URLDotSegments.percentDecoded(String(userinfo)).utf8, as: UTF8.self)
            fields.append(HTTPHeaderField("Authorization", "Basic " + Data(decoded.utf8).base64EncodedString()))
        }
        var lines = ["\(method) \(target) HTTP/1.1", "Host: \(authority)"]
        lines += fields.map { "\($0.name): \($0.value)" }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { lines.append("Content-Length: \(body.count)") }
        return HTTPWireRequest(scheme: scheme, host: host, port: port, headLines: lines, body: body)
    }

    /// The host (brackets removed) and port of an authority; the port defaults to `defaultPort`.
    static func hostAndPort(_ authority: Substring, defaultPort: UInt16) throws(DispatchRefusal) -> (String, UInt16) {
        var host = authority
        var portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw DispatchRefusal("invalid URL: unclosed '[' in the host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw DispatchRefusal("invalid URL: bad port") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw DispatchRefusal("invalid URL: not an absolute http(s) URL (no host)") }
        if portText.isEmpty { return (String(host), defaultPort) }
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText), port > 0 else {
            throw DispatchRefusal("invalid URL: bad port \(String(portText).quotedForMessage)")
        }
        return (String(host), port)
    }
}
