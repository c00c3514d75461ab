import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Byte classes and small scanners shared by the head parser and the body reader
/// (RFC 9110 §5.6 tokens and field values, RFC 9112 §5 field lines).
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09

    /// RFC 9110 §5.6.2 `tchar` (see `HTTPToken`).
    @inline(__always)
    static func isTchar(_ b: UInt8) -> Bool { HTTPToken.isTchar(b) }

    /// RFC 9110 §5.6.3 optional whitespace: SP or HTAB.
    @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// RFC 9110 §5.5 field-value bytes: HTAB, SP, VCHAR, obs-text (≥ 0x80).
    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool { b == htab || (b >= 0x20 && b != 0x7F) }

    /// Index of the first LF at or after `from`, or nil.
    @inline(__always)
    static func indexOfLF(_ buffer: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < buffer.count, let base = buffer.baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(lf), buffer.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Decodes `buffer[range]` as UTF-8 (invalid sequences become U+FFFD).
    @inline(__always)
    static func string(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        guard !range.isEmpty, let base = buffer.baseAddress else { return "" }
        // Typed pointer: String's contiguous UTF-8 fast path (validation + one copy).
        return (base + range.lowerBound).withMemoryRebound(to: UInt8.self, capacity: range.count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: range.count), as: UTF8.self)
        }
    }

    /// True when `buffer[range]` equals `lowercaseASCII` ignoring ASCII case.
    @inline(__always)
    static func equalsIgnoringCase(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercaseASCII: StaticString) -> Bool {
        guard range.count == lowercaseASCII.utf8CodeUnitCount else { return false }
        let expected = lowercaseASCII.utf8Start
        var i = 0
        for index in range {
            var b = buffer[index]
            if b >= 0x41 && b <= 0x5A { b |= 0x20 }
            if b != expected[i] { return false }
            i += 1
        }
        return true
    }

    /// True when two strings are equal ignoring ASCII case (other bytes compared exactly).
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        var ia = a.utf8.makeIterator()
        var ib = b.utf8.makeIterator()
        while true {
            switch (ia.next(), ib.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                if x != y && lowered(x) != lowered(y) { return false }
            default: return false
            }
        }
    }

    @inline(__always)
    static func lowered(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Splits one field line (RFC 9112 §5: `field-name ":" OWS field-value OWS`, CRLF removed)
    /// into the name's and the trimmed value's byte ranges.
    ///
    /// - Throws: 400 for obs-fold (leading SP/HTAB), an empty or non-token name, whitespace
    ///   before the colon, a missing colon, or a control character (NUL, CR, LF, DEL, …) in
    ///   the value.
    static func splitFieldLine(_ buffer: UnsafeRawBufferPointer, _ line: Range<Int>, what: String)
        throws(HTTPError) -> (name: Range<Int>, value: Range<Int>)
    {
        var i = line.lowerBound
        if i < line.upperBound && isOWS(buffer[i]) {
            throw .badRequest("\(what): line folding (obs-fold) is not accepted")
        }
        while i < line.upperBound {
            let b = buffer[i]
            if b == 0x3A { break }
            if !isTchar(b) {
                if isOWS(b) { throw .badRequest("\(what): whitespace before the colon") }
                throw .badRequest("\(what): invalid character in field name")
            }
            i += 1
        }
        guard i < line.upperBound else { throw .badRequest("\(what): field line without a colon") }
        guard i > line.lowerBound else { throw .badRequest("\(what): empty field name") }
        let name = line.lowerBound..<i
        var start = i + 1
        var end = line.upperBound
        while start < end && isOWS(buffer[start]) { start += 1 }
        while end > start && isOWS(buffer[end - 1]) { end -= 1 }
        for j in start..<end where !isFieldValueByte(buffer[j]) {
            throw .badRequest("\(what): control character in field value")
        }
        return (name, start..<end)
    }

    /// Bytes of RFC 3986 `host [ ":" port ]`: unreserved, sub-delims, `%`, `:`, `[`, `]`.
    static func isAuthorityByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "%"),
            UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
            return true
        default: return false
        }
    }
}
