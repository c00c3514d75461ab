/// Parses the head (request line and header section) of an HTTP/1.x request from bytes,
/// strictly, per RFC 9112 §2–§6 and RFC 9110 §5, §7.2, §8.6, with the hardening checklist's
/// R5–R7 and R10 rules. It owns no buffer and no socket: the server keeps the bytes, calls
/// `parse` after each read, and drops `consumed` bytes once it returns a head.
///
/// Every error closes the connection. Statuses: 400 malformed, 413 Content-Length above the
/// body cap, 414 request target too long, 431 header line/section/field count too large,
/// 501 a transfer coding other than `chunked` or an unrecognised method (RFC 9110 §15.6.2),
/// 505 an HTTP version other than 1.0 and 1.1. Framing (Transfer-Encoding, Content-Length)
/// is judged before Host, so `Transfer-Encoding: gzip, chunked` is 501 with or without Host.
/// The result never depends on how the bytes were split across reads.
public enum HTTPHeadParser {
    /// Empty lines (CRLF) skipped before the request line (RFC 9112 §2.2); more → 400.
    public static let maxLeadingEmptyLines = 4

    /// Looks for a complete head at the start of `buffer`.
    ///
    /// Cost is a `memchr` scan of the buffered head per call until the head is complete, then
    /// one validating pass that decodes each name and value to `String` once.
    ///
    /// - Parameters:
    ///   - buffer: the received bytes not yet consumed, starting at the request (or at the
    ///     empty lines allowed before it).
    ///   - limits: the size limits (`maxRequestLine`, `maxFieldLine`, `maxHeaderBytes`,
    ///     `maxHeaderFields`, `maxBodyBytes`).
    /// - Returns: nil when more bytes are needed; else the head and how many bytes of `buffer`
    ///   it used (the body, or the next pipelined request, starts there).
    /// - Throws: `HTTPError` as soon as the bytes at hand are bad or already exceed a limit:
    ///   request line longer than `maxRequestLine` → 414 if the target is what is long, else
    ///   400; a field line longer than `maxFieldLine`, a header section larger than
    ///   `maxHeaderBytes`, or more than `maxHeaderFields` fields → 431; see the type for the rest.
    public static func parse(_ buffer: UnsafeRawBufferPointer, limits: HTTPLimits = HTTPLimits())
        throws(HTTPError) -> (head: HTTPRequestHead, consumed: Int)?
    {
        let n = buffer.count
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
        var start = 0
        var emptyLines = 0
        while true {
            guard start < n else { return nil }
            let b = buffer[start]
            if b == HTTPSyntax.lf { throw .badRequest("bare LF line ending") }
            if b != HTTPSyntax.cr { break }
            guard start + 1 < n else { return nil }
            guard buffer[start + 1] == HTTPSyntax.lf else { break }  // bare CR: the request line rejects it
            emptyLines += 1
            if emptyLines > maxLeadingEmptyLines { throw .badRequest("too many empty lines before the request line") }
            start += 2
        }

        // Request line (RFC 9112 §3).
        guard let lineLF = HTTPSyntax.indexOfLF(buffer, from: start) else {
            if n - start >= limits.maxRequestLine + 2 { throw requestLineTooLong(buffer, start: start, limits: limits) }
            return nil
        }
        let lineHasCR = lineLF > start && buffer[lineLF - 1] == HTTPSyntax.cr
        let lineEnd = lineHasCR ? lineLF - 1 : lineLF
        if lineEnd - start > limits.maxRequestLine { throw requestLineTooLong(buffer, start: start, limits: limits) }
        guard lineHasCR else { throw .badRequest("bare LF line ending") }
        let line = try RequestLine(buffer, start..<lineEnd)

        // Header section: find its end and enforce the limits before decoding anything.
        let headerStart = lineLF + 1
        var p = headerStart
        var fieldCount = 0
        while true {
            guard let lf = HTTPSyntax.indexOfLF(buffer, from: p) else {
                if n - p >= limits.maxFieldLine + 2 { throw fieldLineTooLong(limits) }
                if n - headerStart > limits.maxHeaderBytes { throw sectionTooLarge(limits) }
                return nil
            }
            let hasCR = lf > p && buffer[lf - 1] == HTTPSyntax.cr
            let contentLength = lf - p - (hasCR ? 1 : 0)
            let lineTooLong = contentLength > limits.maxFieldLine
            let tooLarge = lf + 1 - headerStart > limits.maxHeaderBytes
            if lineTooLong || tooLarge {
                // Report whichever limit a byte-by-byte feed would have hit first, so the
                // error does not depend on how the bytes were split.
                let lineAt = lineTooLong ? p + limits.maxFieldLine + 2 : Int.max
                let sectionAt = tooLarge ? headerStart + limits.maxHeaderBytes + 1 : Int.max
                throw lineAt <= sectionAt ? fieldLineTooLong(limits) : sectionTooLarge(limits)
            }
            guard hasCR else { throw .badRequest("bare LF line ending") }
            p = lf + 1
            if contentLength == 0 { break }
            fieldCount += 1
            if fieldCount > limits.maxHeaderFields {
                throw .fieldsTooLarge("more than \(limits.maxHeaderFields) header fields")
            }
        }
        let head = try decode(buffer, line: line, fields: headerStart..<(p - 2), count: fieldCount, limits: limits)
        return (head, p)
    }

    /// Decodes the complete, size-checked header section and derives the body framing.
    private static func decode(
        _ buffer: UnsafeRawBufferPointer, line: RequestLine, fields section: Range<Int>,
        count: Int, limits: HTTPLimits
    ) throws(HTTPError) -> HTTPRequestHead {
        var fields: [HTTPField] = []
        fields.reserveCapacity(count)
        var hosts = 0
        var hostValue = 0..<0
        var hostIndex: Int?
        var contentLengths = 0
        var contentLength = 0..<0
        var transferEncodings = 0
        var transferEncoding = 0..<0
        var p = section.lowerBound
        while p < section.upperBound {
            let lf = HTTPSyntax.indexOfLF(buffer, from: p)!  // the scan above saw every line end
            let (name, value) = try HTTPSyntax.splitFieldLine(buffer, p..<(lf - 1), what: "header")
            switch name.count {
            case 4 where HTTPSyntax.equalsIgnoringCase(buffer, name, "host"):
                hosts += 1
                hostValue = value
                hostIndex = fields.count
            case 14 where HTTPSyntax.equalsIgnoringCase(buffer, name, "content-length"):
                contentLengths += 1
                contentLength = value
            case 17 where HTTPSyntax.equalsIgnoringCase(buffer, name, "transfer-encoding"):
                transferEncodings += 1
                transferEncoding = value
            default: break
            }
            fields.append(HTTPField(name: HTTPSyntax.string(buffer, name), value: HTTPSyntax.string(buffer, value)))
            p = lf + 1
        }

        // RFC 9112 §6.1–§6.3: framing.
        let framing: HTTPBodyFraming
        if transferEncodings > 0 {
            if contentLengths > 0 { throw .badRequest("Transfer-Encoding together with Content-Length") }
            if line.versionMinor == 0 { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            guard transferEncodings == 1, HTTPSyntax.equalsIgnoringCase(buffer, transferEncoding, "chunked") else {
                if transferEncodings == 1 && transferEncoding.isEmpty {
                    throw .badRequest("Transfer-Encoding: empty value")
                }
                throw HTTPError(status: 501, message: "Transfer-Encoding: only chunked is supported")
            }
            framing = .chunked
        } else if contentLengths > 0 {
            if contentLengths > 1 { throw .badRequest("Content-Length: more than one Content-Length field") }
            framing = .contentLength(try parseContentLength(buffer, contentLength, limits: limits))
        } else {
            framing = .none
        }

        // RFC 9112 §3.2: exactly one Host in HTTP/1.1; its value is a URI authority (host[:port]).
        // Checked after the framing, so that a request gavel cannot frame is answered 501 or
        // 400 for that, whatever else is wrong with it.
        if hosts > 1 { throw .badRequest("Host: more than one Host field") }
        if hosts == 0 && line.versionMinor == 1 { throw .badRequest("Host: missing") }
        if hosts == 1 {
            for i in hostValue where !HTTPSyntax.isAuthorityByte(buffer[i]) {
                throw .badRequest("Host: not a valid host[:port]")
            }
        }
        // RFC 9112 §3.2.2: with an absolute-form target the received Host is ignored and the
        // target's authority used instead (a Host field is still required in HTTP/1.1, §3.2).
        if let authority = line.authority, let at = hostIndex {
            fields[at].value = HTTPSyntax.string(buffer, authority)
        }
        return line.head(buffer, fields: fields, framing: framing)
    }

    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. Leading zeros are fine; anything else
    /// (sign, space, comma list, hex, exponent, empty) → 400; above `maxBodyBytes`, however
    /// many digits, → 413 without overflowing.
    private static func parseContentLength(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>,
        limits: HTTPLimits
    ) throws(HTTPError) -> Int {
        guard !range.isEmpty else { throw .badRequest("Content-Length: empty value") }
        var value = 0
        var tooLarge = false
        for i in range {
            let b = buffer[i]
            guard b >= 0x30 && b <= 0x39 else { throw .badRequest("Content-Length: not a decimal number") }
            if !tooLarge {
                value = value * 10 + Int(b - 0x30)  // value ≤ maxBodyBytes here, so no overflow
                if value > limits.maxBodyBytes { tooLarge = true }
            }
        }
        if tooLarge { throw .contentTooLarge("Content-Length: larger than the \(limits.maxBodyBytes)-byte limit") }
        return value
    }

    /// 414 when the target is what makes the request line long, else 400: within the first
    /// `maxRequestLine + 1` bytes, a method and a space are followed by target bytes up to the
    /// end, or by a second space and at most the start of an `HTTP/d.d` version. Looks only at
    /// those bytes, so the answer is the same however the line was split.
    private static func requestLineTooLong(_ buffer: UnsafeRawBufferPointer, start: Int, limits: HTTPLimits) -> HTTPError {
        let end = min(buffer.count, start + limits.maxRequestLine + 1)
        let tooLongTarget = HTTPError(status: 414, message: "request target longer than \(limits.maxRequestLine) bytes")
        var i = start
        while i < end && HTTPSyntax.isTchar(buffer[i]) { i += 1 }
        if i > start && i < end && buffer[i] == HTTPSyntax.sp {
            i += 1
            while i < end && buffer[i] != HTTPSyntax.sp { i += 1 }
            if i == end { return tooLongTarget }
            let pattern = Array("HTTP/0.0".utf8)
            var k = 0
            i += 1
            while i < end && k < pattern.count {
                let b = buffer[i]
                let ok = pattern[k] == UInt8(ascii: "0") ? (b >= 0x30 && b <= 0x39) : b == pattern[k]
                if !ok { break }
                i += 1
                k += 1
            }
            if i == end { return tooLongTarget }
        }
        return .badRequest("request line longer than \(limits.maxRequestLine) bytes")
    }

    private static func fieldLineTooLong(_ limits: HTTPLimits) -> HTTPError {
        .fieldsTooLarge("header field line longer than \(limits.maxFieldLine) bytes")
    }

    private static func sectionTooLarge(_ limits: HTTPLimits) -> HTTPError {
        .fieldsTooLarge("header section larger than \(limits.maxHeaderBytes) bytes")
    }
}

extension HTTPHeadParser {
    /// `parse(_:limits:)` over an array's bytes.
    public static func parse(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits())
        throws(HTTPError) -> (head: HTTPRequestHead, consumed: Int)?
    {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(HTTPError) in try parse(raw, limits: limits) }
        }.get()
    }

    /// `parse(_:limits:)` over a slice's bytes; `consumed` counts from the slice's start.
    public static func parse(_ bytes: ArraySlice<UInt8>, limits: HTTPLimits = HTTPLimits())
        throws(HTTPError) -> (head: HTTPRequestHead, consumed: Int)?
    {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(HTTPError) in try parse(raw, limits: limits) }
        }.get()
    }
}
