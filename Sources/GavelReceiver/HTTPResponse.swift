/// An HTTP/1.1 response the receiver sends: status, header fields, body, and whether the
/// connection closes after it (RFC 9112 §4, §6, §9.6).
public struct HTTPResponse: Sendable, Equatable {
    /// The status code, 100–599.
    public var status: Int
    /// Header fields in order. `Content-Length`, `Transfer-Encoding` and `Connection` here are
    /// ignored: `serialized()` writes the framing itself.
    public var headers: [HTTPField]
    /// The body bytes (not sent for 1xx and 204, RFC 9110 §15.2, §15.3.5).
    public var body: [UInt8]
    /// Whether the server closes the connection after sending this response; adds
    /// `Connection: close`.
    public var close: Bool

    /// Creates a response.
    public init(status: Int, headers: [HTTPField] = [], body: [UInt8] = [], close: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.close = close
    }

    /// A response with `Content-Type: application/json` and `compactJSON` (already encoded,
    /// one line) as the body, followed by `extraHeaders` (e.g. `Allow`, `Retry-After`).
    public static func json(
        _ status: Int, _ compactJSON: String, close: Bool = false,
        extraHeaders: [HTTPField] = []
    ) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [HTTPField(name: "Content-Type", value: "application/json")] + extraHeaders,
            body: Array(compactJSON.utf8), close: close)
    }

    /// The response for a refused request: `error.status`, body `{"error":"<message>"}` with
    /// the message JSON-escaped, and `close: true` (every `HTTPError` closes the connection).
    public static func error(_ error: HTTPError) -> HTTPResponse {
        json(error.status, "{\"error\":\(jsonString(error.message))}", close: true)
    }

    /// The response bytes: `HTTP/1.1 <status> <reason>\r\n`, each header as `Name: value\r\n`,
    /// `Content-Length: <n>\r\n` (except 1xx/204), `Connection: close\r\n` when `close`, an
    /// empty line, the body.
    ///
    /// Header names that are not tokens are dropped and control characters in values become
    /// spaces, so no header can split the response (CR/LF injection).
    public func serialized() -> [UInt8] {
        let bodyless = (100..<200).contains(status) || status == 204
        var out: [UInt8] = []
        out.reserveCapacity(64 + headers.count * 32 + (bodyless ? 0 : body.count))
        out.append(contentsOf: "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n".utf8)
        for field in headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPSyntax.isTchar),
                !Self.isFramingField(field.name)
            else { continue }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            for b in field.value.utf8 {
                out.append(b == HTTPSyntax.htab || b >= 0x20 && b != 0x7F ? b : HTTPSyntax.sp)
            }
            out.append(contentsOf: "\r\n".utf8)
        }
        if !bodyless { out.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8) }
        if close { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if !bodyless { out.append(contentsOf: body) }
        return out
    }

    /// The RFC 9110 §15 reason phrase for `status`, or "" for a code it does not define
    /// (the status line then ends in `<status> ` followed by CRLF, which RFC 9112 §4 allows).
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    /// `text` as a JSON string literal (RFC 8259 §7), quotes included. Escapes `"`, `\`,
    /// control characters, DEL and everything outside ASCII (as `\uXXXX`, surrogate pairs
    /// above U+FFFF), so the output is printable ASCII.
    public static func jsonString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }

    private static func isFramingField(_ name: String) -> Bool {
        HTTPSyntax.equalsIgnoringCase(name, "Content-Length") || HTTPSyntax.equalsIgnoringCase(name, "Transfer-Encoding")
            || HTTPSyntax.equalsIgnoringCase(name, "Connection")
    }
}
