/// One header (or trailer) field as received: the name as sent (case preserved) and the
/// value with surrounding whitespace removed (RFC 9110 §5.5). Bytes ≥ 0x80 (obs-text) are
/// decoded as UTF-8; invalid sequences become U+FFFD.
public struct HTTPField: Sendable, Equatable {
    /// The field name exactly as sent, e.g. `Content-Type`.
    public var name: String
    /// The field value, OWS-trimmed.
    public var value: String

    /// Creates a field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// How a request's body is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    /// Neither Content-Length nor Transfer-Encoding: the request has no body.
    case none
    /// `Content-Length: n`, already checked to be ≤ `HTTPLimits.maxBodyBytes`.
    case contentLength(Int)
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1).
    case chunked
}

/// The request line and header section of one HTTP/1.x request, validated by
/// `HTTPHeadParser` (RFC 9112 §3, §5; RFC 9110 §5, §7.2).
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method token as sent (case-sensitive, RFC 9110 §9.1), e.g. `POST`.
    public var method: String
    /// The request target as sent: origin-form, e.g. `/webhook?source=dd`, or absolute-form,
    /// e.g. `http://127.0.0.1:8787/webhook?source=dd` (RFC 9112 §3.2.1, §3.2.2).
    public var target: String
    /// The target's path up to the first `?`, not percent-decoded, e.g. `/webhook` (for an
    /// absolute-form target, the path after its authority; `/` when that is empty).
    public var path: String
    /// The target after the first `?` (possibly empty), or nil when there is no `?`.
    public var query: String?
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    /// The header fields in the order received.
    public var fields: [HTTPField]
    /// How the body is delimited.
    public var framing: HTTPBodyFraming

    /// Creates a head from its parts (the parser's output; handy in tests).
    public init(
        method: String, target: String, path: String, query: String?, versionMinor: Int,
        fields: [HTTPField], framing: HTTPBodyFraming
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.versionMinor = versionMinor
        self.fields = fields
        self.framing = framing
    }

    /// The value of the first field named `name` (ASCII case-insensitive), or nil.
    public func field(_ name: String) -> String? {
        fields.first { HTTPSyntax.equalsIgnoringCase($0.name, name) }?.value
    }

    /// The values of every field named `name` (ASCII case-insensitive), in order.
    public func fields(named name: String) -> [String] {
        fields.filter { HTTPSyntax.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): for HTTP/1.1
    /// unless a `Connection` field lists `close`; for HTTP/1.0 only when one lists
    /// `keep-alive` and none lists `close`.
    public var keepAlive: Bool {
        var close = false
        var keep = false
        for value in fields(named: "Connection") {
            for option in value.utf8.split(separator: UInt8(ascii: ",")) {
                let trimmed = option.drop { HTTPSyntax.isOWS($0) }.reversed().drop { HTTPSyntax.isOWS($0) }.reversed()
                let token = String(decoding: trimmed, as: UTF8.self)
                if HTTPSyntax.equalsIgnoringCase(token, "close") { close = true }
                if HTTPSyntax.equalsIgnoringCase(token, "keep-alive") { keep = true }
            }
        }
        if close { return false }
        return versionMinor >= 1 || keep
    }

    /// The first Content-Type's `type/subtype`, lowercased, parameters dropped
    /// (RFC 9110 §8.3.1), e.g. `application/json` for `Application/JSON; charset=utf-8`;
    /// nil when there is no Content-Type or it is not `token "/" token`.
    public var mediaType: String? {
        guard let value = field("Content-Type") else { return nil }
        let bytes = value.utf8.prefix { $0 != UInt8(ascii: ";") }
        var end = bytes.endIndex
        while end > bytes.startIndex, HTTPSyntax.isOWS(value.utf8[value.utf8.index(before: end)]) {
            end = value.utf8.index(before: end)
        }
        let essence = value.utf8[bytes.startIndex..<end]
        let parts = essence.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(HTTPSyntax.isTchar) }) else {
            return nil
        }
        return String(decoding: essence.map(HTTPSyntax.lowered), as: UTF8.self)
    }

    /// The Content-Type's `charset` parameter, lowercased and unquoted (RFC 9110 §8.3.2);
    /// nil when there is none.
    public var charset: String? {
        guard let value = field("Content-Type") else { return nil }
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" else { continue }
            var v = pair[1].trimmingCharacters(in: .whitespaces)
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            return v.lowercased()
        }
        return nil
    }
}
