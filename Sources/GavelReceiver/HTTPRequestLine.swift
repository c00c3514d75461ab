/// A validated request line, as byte ranges into the parser's buffer (RFC 9112 §3):
/// `method SP request-target SP HTTP-version`, single spaces, an origin-form target
/// (`/webhook?x`) or an absolute-form one (`http://host:port/webhook?x`, RFC 9112 §3.2.2).
struct RequestLine {
    var method: Range<Int>
    var target: Range<Int>
    /// Index of the first `?` in the target, if any.
    var queryMark: Int?
    /// Where the path starts in the target: its first byte for origin-form, the byte after the
    /// authority for absolute-form (the path may then be empty, meaning `/`).
    var pathStart: Int
    /// The authority (`host[:port]`) of an absolute-form target; nil for origin-form.
    var authority: Range<Int>?
    var versionMinor: Int

    /// The methods RFC 9110 §9.3 defines, and PATCH (RFC 5789). Any other method, including a
    /// known one in another case (`post`: methods are case-sensitive, §9.1), is unrecognised.
    static let recognizedMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    /// Validates `buffer[line]` (the line without its CRLF).
    ///
    /// Checked in this order, so that the status names the first problem:
    /// - 400 for a non-token method, spacing other than two single spaces, a target holding a
    ///   control character, space, `#` or a byte ≥ 0x80, or a malformed version;
    /// - 505 for a well-formed `HTTP/x.y` other than 1.0 and 1.1;
    /// - 501 for a method gavel does not recognise (RFC 9110 §9.1, §15.6.2: "unrecognized or not
    ///   implemented"), such as `M-SEARCH`; a recognised method a route does not allow is
    ///   answered 405 later, with `Allow`;
    /// - 400 for a target that is neither origin-form nor absolute-form: asterisk-form (`*`),
    ///   authority-form (`host:port`), a scheme other than `http`/`https`, an absolute-form
    ///   authority that is empty, carries userinfo (`user@`, RFC 9110 §4.2.4) or holds a byte
    ///   outside RFC 3986 `host[:port]`.
    init(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTPError) {
        var i = line.lowerBound
        while i < line.upperBound && HTTPSyntax.isTchar(buffer[i]) { i += 1 }
        guard i > line.lowerBound else { throw .badRequest("request line: missing method") }
        guard i < line.upperBound else { throw .badRequest("request line: missing request target") }
        guard buffer[i] == HTTPSyntax.sp else { throw .badRequest("request line: invalid character in method") }
        method = line.lowerBound..<i

        let targetStart = i + 1
        i = targetStart
        var queryMark: Int?
        while i < line.upperBound {
            let b = buffer[i]
            if b == HTTPSyntax.sp { break }
            // Visible ASCII only; '#' starts a fragment, which a request target cannot carry.
            guard b > 0x20 && b < 0x7F && b != UInt8(ascii: "#") else {
                throw .badRequest("request target: invalid character")
            }
            if b == UInt8(ascii: "?") && queryMark == nil { queryMark = i }
            i += 1
        }
        guard i > targetStart else { throw .badRequest("request line: not single spaces") }
        target = targetStart..<i
        self.queryMark = queryMark
        guard i < line.upperBound else { throw .badRequest("request line: missing HTTP version") }

        // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
        let version = (i + 1)..<line.upperBound
        let v = version.lowerBound
        func byte(_ k: Int) -> UInt8 { buffer[v + k] }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard version.count == 8, byte(0) == UInt8(ascii: "H"), byte(1) == UInt8(ascii: "T"),
            byte(2) == UInt8(ascii: "T"), byte(3) == UInt8(ascii: "P"), byte(4) == UInt8(ascii: "/"),
            isDigit(byte(5)), byte(6) == UInt8(ascii: "."), isDigit(byte(7))
        else {
            throw .badRequest("request line: malformed HTTP version")
        }
        guard byte(5) == UInt8(ascii: "1"), byte(7) == UInt8(ascii: "0") || byte(7) == UInt8(ascii: "1") else {
            throw HTTPError(status: 505, message: "HTTP version not supported (only HTTP/1.0 and HTTP/1.1)")
        }
        versionMinor = Int(byte(7) - 0x30)

        guard Self.recognizedMethods.contains(HTTPSyntax.string(buffer, method)) else {
            throw HTTPError(status: 501, message: "method not implemented: gavel serves GET, HEAD and POST")
        }

        switch buffer[targetStart] {
        case UInt8(ascii: "/"):
            pathStart = targetStart
            authority = nil
        case UInt8(ascii: "*"):
            throw .badRequest("request target: asterisk-form is not accepted")
        default:
            (authority, pathStart) = try Self.absoluteForm(buffer, target, queryMark: queryMark)
        }
    }

    /// RFC 9112 §3.2.2 absolute-form, for the `http` and `https` schemes (any case, RFC 3986
    /// §3.1): `scheme "://" authority path-abempty [ "?" query ]`. Returns the authority and
    /// where the path starts.
    private static func absoluteForm(
        _ buffer: UnsafeRawBufferPointer, _ target: Range<Int>, queryMark: Int?
    ) throws(HTTPError) -> (authority: Range<Int>, pathStart: Int) {
        let notAccepted = HTTPError.badRequest("request target: only origin-form (/path) or absolute-form (http://host/path) is accepted")
        var i = target.lowerBound
        while i < target.upperBound && buffer[i] != UInt8(ascii: ":") { i += 1 }
        let scheme = target.lowerBound..<i
        guard HTTPSyntax.equalsIgnoringCase(buffer, scheme, "http") || HTTPSyntax.equalsIgnoringCase(buffer, scheme, "https"),
            target.upperBound - i >= 3, buffer[i + 1] == UInt8(ascii: "/"), buffer[i + 2] == UInt8(ascii: "/")
        else { throw notAccepted }
        let authorityStart = i + 3
        let end = queryMark ?? target.upperBound
        var p = authorityStart
        while p < end && buffer[p] != UInt8(ascii: "/") {
            if buffer[p] == UInt8(ascii: "@") { throw .badRequest("request target: userinfo is not allowed in an http(s) URI") }
            guard HTTPSyntax.isAuthorityByte(buffer[p]) else { throw .badRequest("request target: invalid character in the authority") }
            p += 1
        }
        guard p > authorityStart else { throw .badRequest("request target: absolute-form without a host") }
        return (authorityStart..<p, p)
    }

    /// Builds the head, decoding the method and target to `String` once. An absolute-form
    /// target's path (`/` when empty) is what routes the request.
    func head(_ buffer: UnsafeRawBufferPointer, fields: [HTTPField], framing: HTTPBodyFraming) -> HTTPRequestHead {
        let targetString = HTTPSyntax.string(buffer, target)
        let pathEnd = queryMark ?? target.upperBound
        let path = pathStart == pathEnd ? "/" : HTTPSyntax.string(buffer, pathStart..<pathEnd)
        let query = queryMark.map { HTTPSyntax.string(buffer, ($0 + 1)..<target.upperBound) }
        return HTTPRequestHead(
            method: HTTPSyntax.string(buffer, method), target: targetString, path: path,
            query: query, versionMinor: versionMinor, fields: fields, framing: framing)
    }
}
