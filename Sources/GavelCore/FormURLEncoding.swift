/// Why a form-encoded body was refused.
public struct FormDecodingError: Error, Equatable, CustomStringConvertible {
    /// What was wrong and where (a byte offset into the body); no attacker bytes are quoted.
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}

/// `application/x-www-form-urlencoded` bodies, as Datadog's webhook "Encode as form" option sends them.
///
/// Source: the WHATWG URL Standard §5 (application/x-www-form-urlencoded parsing and
/// serializing), used by HTML forms. gavel decodes more strictly than the standard, which
/// passes bad escapes through and replaces invalid UTF-8 with U+FFFD: both are errors here,
/// so an attacker cannot smuggle bytes past validation by mangling them.
public enum FormURLEncoding {
    /// Decodes a form body into its name/value pairs, in order (repeated names are all kept).
    ///
    /// The body is split on `&` (empty pieces are skipped); each piece is split once at its
    /// first `=` (no `=`: the value is empty); in name and value `+` becomes a space and `%XX`
    /// (two hex digits, either case) becomes that byte; the decoded bytes must be well-formed UTF-8.
    /// - Parameter bytes: The request body.
    /// - Returns: The pairs in body order.
    /// - Throws: `FormDecodingError` for a `%` not followed by two hex digits, or a name or
    ///   value that is not UTF-8 once decoded; the message gives the byte offset in the body.
    public static func decode(_ bytes: [UInt8]) throws(FormDecodingError) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
            if end > start {
                let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "="))
                let name = try decodeComponent(bytes, start, equals ?? end, what: "name")
                var value = ""
                if let equals { value = try decodeComponent(bytes, equals + 1, end, what: "value") }
                pairs.append((name: name, value: value))
            }
            start = end + 1
        }
        return pairs
    }

    /// Percent-decodes `bytes[from..<to]` with `+` as space and checks the result is UTF-8.
    private static func decodeComponent(_ bytes: [UInt8], _ from: Int, _ to: Int, what: String) throws(FormDecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(to - from)
        var i = from
        while i < to {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
                i += 1
            } else if b == UInt8(ascii: "%") {
                guard i + 2 < to,
                    let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2])
                else {
                    throw FormDecodingError(message: "bad percent-escape at byte \(i) (expected %XX with two hex digits)")
                }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        if let bad = UTF8Validation.firstInvalidOffset(out) {
            throw FormDecodingError(message: "form \(what) starting at byte \(from) is not valid UTF-8 once decoded (decoded byte \(bad))")
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - 0x41 + 10
        default: nil
        }
    }

    /// Encodes pairs as a form body (WHATWG URL §5.2 serializer): ASCII letters, digits and
    /// `*-._` stay as they are, a space becomes `+`, every other UTF-8 byte becomes `%XX`
    /// (uppercase hex); pairs are joined with `&`.
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { encodeComponent($0.0) + "=" + encodeComponent($0.1) }.joined(separator: "&")
    }

    private static func encodeComponent(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "*"), UInt8(ascii: "-"),
                UInt8(ascii: "."), UInt8(ascii: "_"):
                out.append(b)
            case 0x20:
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
