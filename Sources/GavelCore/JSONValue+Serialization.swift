extension JSONValue {
    /// The value as compact RFC 8259 JSON text: no whitespace, object members in stored order.
    ///
    /// Strings escape `"` and `\` and every control character below U+0020 (`\b`, `\f`, `\n`,
    /// `\r`, `\t`, else `\u00XX`). They also escape, as `\uXXXX` with lowercase hex, scalars
    /// that RFC 8259 allows raw but that act on or hide from a terminal showing the output:
    /// DEL (`\u007f`), the C1 controls U+0080–U+009F (U+009B is CSI), the bidirectional
    /// controls (U+061C, U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width U+200B–U+200D,
    /// U+2060 and U+FEFF, and U+2028/U+2029 (also unsafe inside JavaScript source before ES2019).
    /// Escaping is semantically neutral (RFC 8259 §7: any character may be escaped); everything
    /// else, non-ASCII included, is written as UTF-8.
    /// Numbers are written as their stored text; a `.number` whose text is not RFC 8259 §6
    /// number grammar (only possible for a value built in code) is written as `null`, so the
    /// output is always valid JSON and `parse(compactText) == self` for parsed values.
    public var compactText: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: (JSONValue.isNumberText(n) ? n : "null").utf8)
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (k, member) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                switch b {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x00..<0x20, 0x7F: writeEscape(UInt32(b), into: &out)
                case 0x20..<0x80: out.append(b)
                default:
                    // A String is valid UTF-8, so the sequence length follows from the lead byte.
                    let n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                    var scalar = UInt32(b) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
                    for k in 1..<n { scalar = scalar << 6 | UInt32(bytes[i + k] & 0x3F) }
                    if escapesInvisible(scalar) {
                        writeEscape(scalar, into: &out)
                    } else {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]))
                    }
                    i += n
                    continue
                }
                i += 1
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Non-ASCII scalars written as `\uXXXX` rather than raw: exactly those the terminal
    /// sanitiser escapes (`DisplayText.isInvisibleOrFormat`: the C1 controls — U+009B is a
    /// one-byte CSI for many terminals —, bidirectional controls, zero-width and other format
    /// characters (Unicode Cf, U+00AD, U+2061–U+2064, U+FFF9–U+FFFB, U+1D173…), tag characters,
    /// U+2028/U+2029). RFC 8259 §7 lets any character be escaped, so the JSON means the same;
    /// only its bytes are safe to print.
    private static func escapesInvisible(_ scalar: UInt32) -> Bool {
        Unicode.Scalar(scalar).map(DisplayText.isInvisibleOrFormat) ?? false
    }

    /// `\u` and four lowercase hex digits of a scalar; one above the BMP as its UTF-16
    /// surrogate pair (RFC 8259 §7: `\ud834\udd73` for U+1D173).
    private static func writeEscape(_ scalar: UInt32, into out: inout [UInt8]) {
        if scalar > 0xFFFF {
            let v = scalar - 0x10000
            writeEscape(0xD800 + (v >> 10), into: &out)
            writeEscape(0xDC00 + (v & 0x3FF), into: &out)
            return
        }
        let hex: StaticString = "0123456789abcdef"
        out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
        for shift in [12, 8, 4, 0] as [UInt32] {
            out.append(hex.utf8Start[Int((scalar >> shift) & 0x0F)])
        }
    }

    /// True when `text` is an RFC 8259 §6 number: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    static func isNumberText(_ text: String) -> Bool {
        let b = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let s = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            return i - s
        }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        let n = digits()
        guard n > 0, !(n > 1 && b[intStart] == UInt8(ascii: "0")) else { return false }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return false }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == b.count
    }

    /// The value as indented lines for a person to read (the console's detail pane, `gavel show`).
    ///
    /// Shape, YAML-like:
    /// ```
    /// network:
    ///   client:
    ///     ip: [203.0.113.42, 2001:db8::17]
    /// items:
    ///   - ipProtocol: tcp
    ///     fromPort: 22
    /// ```
    /// An object member holding a scalar is `key: value`; holding an object, `key:` and the
    /// members indented below; holding an array of scalars, `key: [a, b]`; holding an array with
    /// containers, `key:` then one `- ` entry per item. Strings appear without quotes (an empty
    /// string as `""`, an empty key as `""`), `null`/`true`/`false` and numbers as in JSON,
    /// empty containers as `{}` and `[]`. A scalar at the top is one line.
    ///
    /// The strings are NOT sanitized: they may hold control characters, escapes or newlines
    /// from the payload. Whoever shows them must pass them through the display sanitizer.
    /// - Parameter indent: Spaces per nesting level (default 2).
    public func outlineLines(indent: Int = 2) -> [String] {
        let pad = String(repeating: " ", count: max(0, indent))
        var lines: [String] = []
        outline(prefix: "", pad: pad, into: &lines)
        return lines
    }

    /// The one-line form of a scalar or empty container; nil when the value needs lines.
    private var inlineText: String? {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let n): n
        case .string(let s): s.isEmpty ? "\"\"" : s
        case .array(let items) where items.isEmpty: "[]"
        case .object(let members) where members.isEmpty: "{}"
        case .array(let items) where items.allSatisfy({ $0.isScalar }):
            "[" + items.map { $0.inlineText ?? "" }.joined(separator: ", ") + "]"
        default: nil
        }
    }

    /// True for null, booleans, numbers and strings.
    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    private func outline(prefix: String, pad: String, into lines: inout [String]) {
        if let text = inlineText {
            lines.append(prefix + text)
            return
        }
        switch self {
        case .object(let members):
            for member in members {
                let key = member.key.isEmpty ? "\"\"" : member.key
                if let text = member.value.inlineText {
                    lines.append(prefix + key + ": " + text)
                } else {
                    lines.append(prefix + key + ":")
                    member.value.outline(prefix: prefix + pad, pad: pad, into: &lines)
                }
            }
        case .array(let items):
            for item in items {
                var nested: [String] = []
                item.outline(prefix: "", pad: pad, into: &nested)
                for (k, line) in nested.enumerated() {
                    lines.append(prefix + (k == 0 ? "- " : "  ") + line)
                }
            }
        default:
            break
        }
    }

    /// The JSON type's name as RFC 8259 words it: `object`, `array`, `string`, `number`,
    /// `boolean` (`true`/`false`) or `null`.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
