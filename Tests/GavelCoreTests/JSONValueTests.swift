import Testing

@testable import GavelCore

@Suite struct JSONValueTests {
    private func parseError(_ bytes: [UInt8], maxDepth: Int = 64, maxElements: Int = JSONValue.defaultMaxElements) -> JSONError? {
        do {
            _ = try JSONValue.parse(bytes, maxDepth: maxDepth, maxElements: maxElements)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(_ text: String) -> JSONError? { parseError(Array(text.utf8)) }

    @Test func parsesAllKindsInOrder() throws {
        let v = try JSONValue.parse(#" { "b": [1, -0.5e+3, true, false, null], "a": "x\u00e9\n", "c": {} } "#)
        #expect(
            v
                == .object([
                    JSONMember("b", .array([.number("1"), .number("-0.5e+3"), .bool(true), .bool(false), .null])),
                    JSONMember("a", .string("xé\n")),
                    JSONMember("c", .object([])),
                ]))
    }

    @Test func keepsNumberDigitsBeyondDoublePrecision() throws {
        let v = try JSONValue.parse(#"{"DATE": 17000000000000000001, "f": 1.00000000000000000000001}"#)
        #expect(v["DATE"] == .number("17000000000000000001"))
        #expect(v["f"]?.scalarText == "1.00000000000000000000001")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let v = try JSONValue.parse(#"["\"\\\/\b\f\n\r\t", "\ud83d\ude00", "\u0000", "\uFFFF"]"#)
        #expect(v == .array([.string("\"\\/\u{08}\u{0C}\n\r\t"), .string("😀"), .string("\u{0}"), .string("\u{FFFF}")]))
    }

    @Test func scalarsAtTopLevel() throws {
        #expect(try JSONValue.parse("42") == .number("42"))
        #expect(try JSONValue.parse(" \"s\" ") == .string("s"))
        #expect(try JSONValue.parse("null") == .null)
    }

    @Test func duplicateKeysKeepLastValueAtFirstPosition() throws {
        let v = try JSONValue.parse(#"{"id":"first","x":1,"id":"second"}"#)
        #expect(v == .object([JSONMember("id", .string("second")), JSONMember("x", .number("1"))]))
        #expect(v["id"] == .string("second"))
    }

    @Test(arguments: [
        ("[1,]", "trailing comma in array"),
        (#"{"a":1,}"#, "trailing comma in object"),
        ("01", "leading zero"),
        ("-01", "leading zero after minus"),
        ("[00]", "double zero"),
        ("1.", "bare decimal point"),
        (".5", "no integer part"),
        ("+1", "plus sign"),
        ("1e", "empty exponent"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("[1] x", "trailing garbage"),
        ("{} {}", "two values"),
        ("// c\n{}", "line comment"),
        ("{/* c */}", "block comment"),
        ("{'a':1}", "single quotes"),
        (#"{"a" 1}"#, "missing colon"),
        (#"{a:1}"#, "unquoted key"),
        (#"["\ud800"]"#, "lone high surrogate"),
        (#"["\udc00"]"#, "lone low surrogate"),
        (#"["\ud800\u0041"]"#, "high surrogate then non-surrogate"),
        (#"["\x41"]"#, "unknown escape"),
        (#"["\u12"]"#, "short unicode escape"),
        ("[\"a\tb\"]", "raw tab in string"),
        ("[\"a\nb\"]", "raw newline in string"),
        (#"["abc"#, "unterminated string"),
        ("[1, 2", "unterminated array"),
        ("", "empty"),
        ("   ", "only whitespace"),
        ("tru", "truncated literal"),
        ("True", "capitalized literal"),
        ("[1\u{0C}]", "form feed is not JSON whitespace"),
    ])
    func refusesMalformedText(_ text: String, _ why: String) {
        #expect(parseError(text) != nil, "should refuse: \(why)")
    }

    @Test func errorOffsetPointsAtTheProblem() throws {
        let e = try #require(parseError("[1,]"))
        #expect(e.offset == 3)
        let z = try #require(parseError(#"{"n": 012}"#))
        #expect(z.offset == 6)
        #expect(z.message.contains("leading zero"))
        #expect(z.description == "at byte 6: \(z.message)")
        let g = try #require(parseError("{} x"))
        #expect(g.offset == 3)
    }

    @Test(arguments: [
        [0x22, 0xFF, 0x22] as [UInt8],  // 0xFF never appears in UTF-8
        [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
        [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong, 3 bytes
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8-encoded surrogate U+D800
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xC3, 0x22],  // truncated sequence
        [0x22, 0x80, 0x22],  // lone continuation byte
        [0xEF, 0xBB, 0xBF, 0x7B, 0x7D],  // byte order mark
        [0x5B, 0xC3, 0xA9, 0x5D],  // non-ASCII outside a string
    ])
    func refusesInvalidUTF8(_ bytes: [UInt8]) {
        #expect(parseError(bytes) != nil)
    }

    @Test func acceptsMultibyteUTF8() throws {
        let v = try JSONValue.parse([0x22, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0x22])
        #expect(v == .string("é€😀"))
    }

    @Test func depthBombFailsWithTheLimitNamed() throws {
        let bomb = [UInt8](repeating: UInt8(ascii: "["), count: 10_000)
        let e = try #require(parseError(bomb))
        #expect(e.message.contains("64"))
        #expect(e.offset == 64)
        let objects = Array(String(repeating: #"{"a":"#, count: 10_000).utf8)
        #expect(parseError(objects) != nil)
    }

    /// 1 MiB of `[0,0,…]` (about 524,000 values) is refused at the 100,001st element, with the
    /// limit named, instead of building every value (issue 16: it kept a core busy for minutes).
    @Test func aMegabyteOfZerosIsRefusedAtTheElementLimit() throws {
        var zeros: [UInt8] = [UInt8(ascii: "[")]
        while zeros.count + 2 < 1 << 20 { zeros += [UInt8(ascii: "0"), UInt8(ascii: ",")] }
        zeros[zeros.count - 1] = UInt8(ascii: "]")
        let e = try #require(parseError(zeros))
        #expect(JSONValue.defaultMaxElements == 100_000)
        #expect(e.message.contains("100000"))
        #expect(e.offset == 1 + 2 * 100_000)
    }

    /// The element limit counts array elements and object members of every container together
    /// (not the top-level value), and is exact.
    @Test func elementLimitCountsEveryContainerAndIsExact() throws {
        let five = "[0,0,0,0,0]"
        #expect(try JSONValue.parse(five, maxElements: 5) == .array(Array(repeating: .number("0"), count: 5)))
        let e = try #require(parseError(Array(five.utf8), maxElements: 4))
        #expect(e.offset == 9)
        #expect(e.message.contains("more than 4 "))
        let nested = #"{"a":[1,2],"b":{"c":[]}}"#  // a, 1, 2, b, c
        #expect((try? JSONValue.parse(nested, maxElements: 5)) != nil)
        #expect((try? JSONValue.parse(nested, maxElements: 4)) == nil)
        #expect(try JSONValue.parse("7", maxElements: 0) == .number("7"))
        #expect(try JSONValue.parse("[]", maxElements: 0) == .array([]))
        #expect((try? JSONValue.parse("[7]", maxElements: 0)) == nil)
        // A repeated key counts each time it is read (the work done), though it keeps one member.
        #expect(try JSONValue.parse(#"{"a":1,"a":2}"#, maxElements: 2) == .object([JSONMember("a", .number("2"))]))
        #expect((try? JSONValue.parse(#"{"a":1,"a":2}"#, maxElements: 1)) == nil)
    }

    /// Arrays and objects as wide as the limit parse whole, each value in place, repeated keys
    /// included (issue 16: 40,000 elements took 7.6 s and 40,000 members 20 s when every
    /// append copied the container).
    @Test func wideArraysAndObjectsParseWhole() throws {
        let n = JSONValue.defaultMaxElements
        let array = try JSONValue.parse("[" + (0..<n).map(String.init).joined(separator: ",") + "]")
        guard case .array(let items) = array else { throw JSONError(offset: 0, message: "not an array") }
        #expect(items.count == n)
        #expect(items.last == .number(String(n - 1)))
        let object = try JSONValue.parse("{" + (0..<n).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}")
        guard case .object(let members) = object else { throw JSONError(offset: 0, message: "not an object") }
        #expect(members.count == n)
        #expect(object["k\(n - 1)"] == .number(String(n - 1)))
        let repeated = Array(("{" + (0..<n).map { #""k":\#($0)"# }.joined(separator: ",") + "}").utf8)
        #expect(try JSONValue.parse(repeated) == .object([JSONMember("k", .number(String(n - 1)))]))
        guard case .object(let all) = try JSONValue.parse(repeated, keepingRepeatedKeys: true) else { return }
        #expect(all.count == n)
        #expect(all.first == JSONMember("k", .number("0")))
    }

    @Test func depthLimitIsExact() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(parseError(ok) == nil)
        let over = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(parseError(over) != nil)
        #expect(parseError(Array("[1]".utf8), maxDepth: 0) != nil)
        #expect(parseError(Array("1".utf8), maxDepth: 0) == nil)
        #expect(parseError(Array(String(repeating: "[", count: 200).utf8) + Array(String(repeating: "]", count: 200).utf8), maxDepth: 500) == nil)
    }

    @Test(arguments: [
        #"{"a":[1,2.5e-7,{"b":null}],"c":"q\"\\\n\u0001é😀","d":true,"e":{},"f":[],"g":-0}"#,
        #"[]"#,
        #""\u001f\u007f""#,
        #"{"DATE":17000000000000000001}"#,
    ])
    func roundTripsThroughCompactText(_ text: String) throws {
        let v = try JSONValue.parse(text)
        let again = try JSONValue.parse(v.compactText)
        #expect(again == v)
        #expect(again.compactText == v.compactText)
    }

    @Test func compactTextEscapes() {
        let v: JSONValue = ["k\"": .string("a\u{01}b\u{1F}\t\"\\/é"), "n": 3, "b": false, "z": .null]
        #expect(v.compactText == #"{"k\"":"a\u0001b\u001f\t\"\\/é","n":3,"b":false,"z":null}"#)
    }

    /// Issue 16 item 5: `--json` output carried C1 controls (U+009B is a one-byte CSI) and bidi
    /// controls raw. They are escaped now — the same JSON value, bytes a terminal shows as text.
    @Test func compactTextEscapesC1BidiAndZeroWidth() throws {
        let hostile = "a\u{80}\u{9B}31m\u{9F}\u{61C}\u{200B}\u{200E}\u{200F}\u{2028}\u{2029}\u{202A}\u{202E}\u{2060}\u{2066}\u{2069}\u{FEFF}z"
        let text = JSONValue.string(hostile).compactText
        #expect(
            text
                == #""a\u0080\u009b31m\u009f\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202e\u2060\u2066\u2069\ufeffz""#)
        #expect(text.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(try JSONValue.parse(text) == .string(hostile))
        // Keys too, and neighbours of the escaped ranges stay raw.
        let v: JSONValue = ["k\u{202E}": "\u{A0}é\u{2027}\u{2030}\u{202F}\u{2065}😀"]
        #expect(v.compactText == "{\"k\\u202e\":\"\u{A0}é\u{2027}\u{2030}\u{202F}\u{2065}😀\"}")
        #expect(try JSONValue.parse(v.compactText) == v)
    }

    /// The second attacker pass: soft hyphen, invisible operators, deprecated format controls,
    /// interlinear annotation, a musical format character and tag characters reached `--json`
    /// raw while the text output escaped them. JSON escapes what the terminal sanitiser does,
    /// above the BMP as a surrogate pair.
    @Test func compactTextEscapesWhatTheTerminalSanitiserEscapes() throws {
        let hostile = "\u{AD}\u{180E}\u{2061}\u{2064}\u{206A}\u{206F}\u{FFF9}\u{FFFB}\u{1D173}\u{E0001}\u{E0041}\u{E007F}"
        let text = JSONValue.string(hostile).compactText
        #expect(text == #""\u00ad\u180e\u2061\u2064\u206a\u206f\ufff9\ufffb\ud834\udd73\udb40\udc01\udb40\udc41\udb40\udc7f""#)
        #expect(try JSONValue.parse(text) == .string(hostile))
        for scalar in hostile.unicodeScalars { #expect(DisplayText.escape(for: scalar) != nil, "\(scalar.value)") }
    }

    @Test func compactTextWritesInvalidNumberTextAsNull() {
        #expect(
            JSONValue.array([.number("12"), .number("1e5"), .number("0x10"), .number(""), .number("01")]).compactText
                == "[12,1e5,null,null,null]")
    }

    @Test func outlineLinesShape() throws {
        let v = try JSONValue.parse(
            #"""
            {"network":{"client":{"ip":["203.0.113.42","2001:db8::17"]}},
             "evt":{"name":"ConsoleLogin","ok":true,"n":null},
             "items":[{"proto":"tcp","port":22},"x",[]],
             "empty":"", "o":{}, "a":[]}
            """#)
        #expect(
            v.outlineLines() == [
                "network:",
                "  client:",
                "    ip: [203.0.113.42, 2001:db8::17]",
                "evt:",
                "  name: ConsoleLogin",
                "  ok: true",
                "  n: null",
                "items:",
                "  - proto: tcp",
                "    port: 22",
                "  - x",
                "  - []",
                "empty: \"\"",
                "o: {}",
                "a: []",
            ])
        #expect(v.outlineLines(indent: 4)[2] == "        ip: [203.0.113.42, 2001:db8::17]")
        #expect(JSONValue.string("solo").outlineLines() == ["solo"])
    }

    @Test func outlineDoesNotSanitize() {
        let v: JSONValue = ["t": "\u{1B}[2Jhi"]
        #expect(v.outlineLines() == ["t: \u{1B}[2Jhi"])
    }

    @Test func typeNames() {
        #expect(
            [JSONValue.null, .bool(true), .number("1"), .string(""), .array([]), .object([])].map(\.typeName)
                == ["null", "boolean", "number", "string", "array", "object"])
    }

    @Test func literalsBuildOrderedObjects() {
        let v: JSONValue = ["signal": "abc", "duplicate": false, "remediations": [1, 2], "signal": "last"]
        #expect(v.compactText == #"{"signal":"last","duplicate":false,"remediations":[1,2]}"#)
        #expect(JSONValue(strings: ["a", "b"]) == .array([.string("a"), .string("b")]))
        #expect(JSONValue(nil as String?) == .null)
        #expect(JSONValue(7) == .number("7"))
    }
}
