/// Why a JSON text was refused: the byte offset of the problem and what was wrong there.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    /// Byte offset into the parsed text (0-based) where the problem was found.
    public var offset: Int
    /// What was wrong, in words (no attacker bytes are quoted in it).
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// `at byte N: message`.
    public var description: String { "at byte \(offset): \(message)" }
}

extension JSONValue {
    /// The most array elements and object members, counted together over every container of
    /// one JSON text, that `parse` accepts by default: 100,000. A Datadog security signal holds a
    /// few hundred at most; 1 MiB of `[0,0,…]` holds about 524,000, each costing a heap value.
    public static let defaultMaxElements = 100_000

    /// Parses one JSON text strictly, as RFC 8259 defines it, in time and memory linear in the
    /// text's length.
    ///
    /// Refused, each with a `JSONError` naming the byte offset: bytes that are not well-formed
    /// UTF-8 (§8.1; Unicode Table 3-7, so overlong forms and encoded surrogates too), a byte
    /// order mark, anything but whitespace (space, tab, LF, CR) after the value, comments,
    /// trailing commas, single quotes, numbers with leading zeros or a bare `.`/`+`, `NaN` and
    /// `Infinity`, unescaped control characters in strings, unknown escapes, a `\u` escape that
    /// is a lone surrogate (§7 / §8.2), nesting of arrays and objects deeper than `maxDepth`,
    /// and more than `maxElements` array elements and object members in all (RFC 8259 §9 lets
    /// a parser limit both). The parser keeps its own stack, so a depth bomb (`[[[[…`) fails
    /// with an error, never by exhausting the thread's stack; the element limit is checked as
    /// each element starts, so a refused text costs no more than `maxElements` values.
    ///
    /// Numbers keep their text exactly; an object with a repeated key keeps the last value at the
    /// key's first position (see ``JSONValue/object(_:)``), unless `keepingRepeatedKeys` is set.
    ///
    /// - Parameters:
    ///   - bytes: The JSON text as UTF-8 bytes.
    ///   - maxDepth: The most arrays/objects that may be open at once (default 64; 0 allows only
    ///     a scalar at the top).
    ///   - maxElements: The most array elements plus object members in the whole text, nested
    ///     ones and every occurrence of a repeated key included; the top-level value itself is
    ///     not counted (default
    ///     ``defaultMaxElements``, 100,000; 0 allows only scalars and empty containers).
    ///   - keepingRepeatedKeys: When true, every member is kept in document order, a repeated
    ///     key included, so that the caller can refuse it with its own context (the config
    ///     loader names the field). Default false.
    /// - Returns: The value.
    /// - Throws: `JSONError` with the offset of the first problem; over the element limit, the
    ///   offset of the first element beyond it and a message naming the limit.
    public static func parse(
        _ bytes: [UInt8], maxDepth: Int = 64, maxElements: Int = defaultMaxElements, keepingRepeatedKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBufferPointer { p in
            var parser = JSONParser(
                bytes: p, maxDepth: max(0, maxDepth), maxElements: max(0, maxElements), keepsRepeatedKeys: keepingRepeatedKeys)
            do throws(JSONError) {
                return .success(try parser.parseDocument())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one JSON text given as a Swift string (which is always valid Unicode); see
    /// the `[UInt8]` overload for the rules, the limits and the error offsets (UTF-8 bytes).
    public static func parse(_ text: String, maxDepth: Int = 64, maxElements: Int = defaultMaxElements) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth, maxElements: maxElements)
    }
}

/// The strict RFC 8259 parser behind `JSONValue.parse`. Iterative: the containers being filled
/// are `frames`, and their entries so far sit at the end of two shared buffers (`items` for
/// arrays, `members` for objects), so nesting depth costs heap, not call frames, and every
/// value is appended in place and copied once more, into its container, when the container
/// closes: linear in the input however wide or deep it is.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let maxElements: Int
    /// Append a repeated key's member instead of replacing the first one's value.
    let keepsRepeatedKeys: Bool
    var i = 0
    /// Array elements and object members started so far (checked against `maxElements`).
    var elements = 0

    /// An open container.
    private struct Frame {
        let isObject: Bool
        /// Where this container's entries start in `items` (an array) or `members` (an object).
        let start: Int
        /// The key read for the member whose value comes next (objects only).
        var pendingKey = ""
        /// Each key's position in `members` (objects not keeping repeated keys).
        var firstIndex: [String: Int] = [:]
    }

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, maxElements: Int, keepsRepeatedKeys: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.keepsRepeatedKeys = keepsRepeatedKeys
    }

    private func fail(_ message: String, at offset: Int? = nil) -> JSONError {
        JSONError(offset: offset ?? i, message: message)
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            throw fail("byte order mark before the JSON text")
        }
        skipWhitespace()
        if i == bytes.count { throw fail(bytes.isEmpty ? "empty JSON text" : "only whitespace, no JSON value") }
        let value = try parseValue()
        skipWhitespace()
        if i != bytes.count { throw fail("unexpected data after the JSON value") }
        return value
    }

    /// Counts one more array element or object member; throws past `maxElements`.
    private mutating func countElement() throws(JSONError) {
        elements += 1
        if elements > maxElements {
            throw fail("more than \(maxElements) array elements and object members in one JSON text (the limit)")
        }
    }

    /// Reads one complete value, containers included, without recursion.
    private mutating func parseValue() throws(JSONError) -> JSONValue {
        var frames: [Frame] = []
        var items: [JSONValue] = []
        var members: [JSONMember] = []
        while true {
            // Read the start of a value: a scalar, an empty container, or open a container.
            skipWhitespace()
            var value: JSONValue
            guard let b = current else { throw fail("unexpected end of JSON text, expected a value") }
            if !frames.isEmpty && b != UInt8(ascii: "]") && b != UInt8(ascii: "}") { try countElement() }
            switch b {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if frames.count >= maxDepth {
                    throw fail("nesting deeper than the limit of \(maxDepth) arrays/objects")
                }
                i += 1
                skipWhitespace()
                if b == UInt8(ascii: "[") {
                    if current == UInt8(ascii: "]") {
                        i += 1
                        value = .array([])
                    } else {
                        frames.append(Frame(isObject: false, start: items.count))
                        continue
                    }
                } else {
                    if current == UInt8(ascii: "}") {
                        i += 1
                        value = .object([])
                    } else {
                        let key = try parseKeyAndColon()
                        frames.append(Frame(isObject: true, start: members.count, pendingKey: key))
                        continue
                    }
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try parseNumber())
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                throw fail(frames.isEmpty ? "unexpected closing bracket" : "expected a value (trailing comma?)")
            case UInt8(ascii: "/"):
                throw fail("comments are not allowed in JSON")
            default:
                throw fail(b < 0x80 ? "unexpected character, expected a value" : "unexpected non-ASCII byte, expected a value")
            }

            // Hand the value to the innermost open container; close containers as they end.
            while true {
                guard let top = frames.indices.last else { return value }
                skipWhitespace()
                let start = frames[top].start
                if !frames[top].isObject {
                    items.append(value)
                    if current == UInt8(ascii: ",") {
                        i += 1
                        break
                    } else if current == UInt8(ascii: "]") {
                        i += 1
                        value = .array(Array(items[start...]))
                        items.removeSubrange(start...)
                        frames.removeLast()
                        continue
                    } else {
                        throw fail(current == nil ? "unterminated array" : "expected ',' or ']' in an array")
                    }
                } else {
                    let key = frames[top].pendingKey
                    if keepsRepeatedKeys {
                        members.append(JSONMember(key, value))
                    } else if let at = frames[top].firstIndex[key] {
                        members[at].value = value
                    } else {
                        frames[top].firstIndex[key] = members.count
                        members.append(JSONMember(key, value))
                    }
                    if current == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                        frames[top].pendingKey = try parseKeyAndColon()
                        break
                    } else if current == UInt8(ascii: "}") {
                        i += 1
                        value = .object(Array(members[start...]))
                        members.removeSubrange(start...)
                        frames.removeLast()
                        continue
                    } else {
                        throw fail(current == nil ? "unterminated object" : "expected ',' or '}' in an object")
                    }
                }
            }
        }
    }

    /// Reads `"key"` and the `:` after it (whitespace allowed around the colon).
    private mutating func parseKeyAndColon() throws(JSONError) -> String {
        guard current == UInt8(ascii: "\"") else {
            throw fail(current == UInt8(ascii: "}") ? "expected a key after ',' (trailing comma?)" : "expected a string key in an object")
        }
        let key = try parseString()
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
        i += 1
        return key
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        let start = i
        let n = word.utf8CodeUnitCount
        var ok = bytes.count - i >= n
        if ok {
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] {
                ok = false
                break
            }
        }
        guard ok else { throw fail("invalid literal (expected true, false or null)", at: start) }
        i += n
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`, returned as its text.
    private mutating func parseNumber() throws(JSONError) -> String {
        let start = i
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if current == UInt8(ascii: "-") { i += 1 }
        guard isDigit(current) else { throw fail("expected a digit in a number") }
        if current == UInt8(ascii: "0") {
            i += 1
            if isDigit(current) { throw fail("leading zeros are not allowed in a number", at: i - 1) }
        } else {
            while isDigit(current) { i += 1 }
        }
        if current == UInt8(ascii: ".") {
            i += 1
            guard isDigit(current) else { throw fail("expected a digit after the decimal point") }
            while isDigit(current) { i += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            i += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            guard isDigit(current) else { throw fail("expected a digit in the exponent") }
            while isDigit(current) { i += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
    }

    /// Reads a string starting at its opening quote; validates UTF-8 and escapes (RFC 8259 §7).
    private mutating func parseString() throws(JSONError) -> String {
        i += 1  // opening quote
        let start = i
        var decoded: [UInt8]? = nil  // only built once an escape is met
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let text: String
                if let decoded {
                    text = String(decoding: decoded, as: UTF8.self)
                } else {
                    text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                }
                i += 1
                return text
            }
            if b == UInt8(ascii: "\\") {
                if decoded == nil { decoded = Array(bytes[start..<i]) }
                try parseEscape(into: &decoded!)
                continue
            }
            if b < 0x20 { throw fail("unescaped control character in a string") }
            if b < 0x80 {
                decoded?.append(b)
                i += 1
                continue
            }
            guard let n = UTF8Validation.sequenceLength(bytes, at: i) else { throw fail("invalid UTF-8 in a string") }
            decoded?.append(contentsOf: bytes[i..<(i + n)])
            i += n
        }
        throw fail("unterminated string", at: start - 1)
    }

    /// Reads one escape (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`, surrogate pairs).
    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONError) {
        let start = i
        i += 1
        guard let c = current else { throw fail("unterminated escape", at: start) }
        i += 1
        switch c {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if (0xDC00...0xDFFF).contains(scalar) {
                throw fail("lone low surrogate in a \\u escape", at: start)
            }
            if (0xD800...0xDBFF).contains(scalar) {
                guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                    throw fail("lone high surrogate in a \\u escape", at: start)
                }
                i += 2
                let low = try readHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw fail("high surrogate not followed by a low surrogate", at: start)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            // Not a surrogate here, so always a valid scalar.
            out.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
        default:
            throw fail("unknown escape in a string", at: start)
        }
    }

    private mutating func readHex4() throws(JSONError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let b = current else { throw fail("unterminated \\u escape") }
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - 0x41 + 10)
            default: throw fail("expected four hex digits after \\u")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }
}
