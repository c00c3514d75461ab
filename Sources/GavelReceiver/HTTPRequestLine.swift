/// A validated request line, as byte ranges into the parser's buffer (RFC 9112 §3):
/// `method SP request-target SP HTTP-version`, single spaces, origin-form target only.
struct RequestLine {
    var method: Range<Int>
    var target: Range<Int>
    /// Index of the first `?` in the target, if any.
    var queryMark: Int?
    var versionMinor: Int

    /// Validates `buffer[line]` (the line without its CRLF).
    ///
    /// - Throws: 400 for a non-token method, spacing other than two single spaces, a target
    ///   that is not origin-form (`*`, absolute-form, authority-form) or holds a control
    ///   character, space, `#` or a byte ≥ 0x80, or a malformed version; 505 for a well-formed
    ///   `HTTP/x.y` other than 1.0 and 1.1.
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
        switch buffer[targetStart] {
        case UInt8(ascii: "/"): break
        case UInt8(ascii: "*"): throw .badRequest("request target: asterisk-form is not accepted")
        default: throw .badRequest("request target: only origin-form (starting with /) is accepted")
        }
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
    }

    /// Builds the head, decoding the method and target to `String` once.
    func head(_ buffer: UnsafeRawBufferPointer, fields: [HTTPField], framing: HTTPBodyFraming) -> HTTPRequestHead {
        let targetString = HTTPSyntax.string(buffer, target)
        let path: String
        let query: String?
        if let mark = queryMark {
            path = HTTPSyntax.string(buffer, target.lowerBound..<mark)
            query = HTTPSyntax.string(buffer, (mark + 1)..<target.upperBound)
        } else {
            path = targetString
            query = nil
        }
        return HTTPRequestHead(
            method: HTTPSyntax.string(buffer, method), target: targetString, path: path,
            query: query, versionMinor: versionMinor, fields: fields, framing: framing)
    }
}
