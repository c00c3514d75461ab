import GavelCore

/// Properties of GavelCore's parsers and the display sanitizer on arbitrary bytes.
enum CoreProperties {
    /// Any JSON that parses prints compactly to text that parses back to the same value, and
    /// that text holds no raw C0 or C1 control, bidi control, zero-width character or line
    /// separator (RFC 8259 §7 lets them be escaped). A lone number keeps its digits. The
    /// element limit is exact: a text with N array elements and object members (repeated keys
    /// counted each time) parses with a limit of N, to the same value, and is refused with N - 1.
    static func jsonRoundTrip(_ input: [UInt8]) {
        guard let value = try? JSONValue.parse(input) else { return }
        let text = value.compactText
        check(!text.unicodeScalars.contains { $0.value < 0x20 }, "compact JSON holds a raw control character")
        for scalar in text.unicodeScalars where isEscapedInJSON(scalar) {
            check(false, "compact JSON holds a raw U+\(String(scalar.value, radix: 16, uppercase: true))")
        }
        check((try? JSONValue.parse(text)) == value, "compact JSON does not parse back to the same value")
        // The limit counts members as they are read, a repeated key's included, so count them
        // in the parse that keeps every member.
        let n = elementCount((try? JSONValue.parse(input, keepingRepeatedKeys: true)) ?? value)
        check(n <= JSONValue.defaultMaxElements, "\(n) elements parsed under the default limit")
        check((try? JSONValue.parse(input, maxElements: n)) == value, "\(n) elements refused with a limit of \(n)")
        if n > 0 { check((try? JSONValue.parse(input, maxElements: n - 1)) == nil, "\(n) elements accepted with a limit of \(n - 1)") }
        if case .number(let digits) = value {
            let trimmed = String(decoding: input, as: UTF8.self).trimmingJSONWhitespace
            check(digits == trimmed, "number \(trimmed) kept as \(digits)")
        }
    }

    /// Payload normalizer, JSON and form: deterministic; a non-empty id of at most 512 bytes
    /// (derived ids are `derived-` + 32 hex digits); every list capped at 256; IPs canonical,
    /// distinct and valid ban targets; attributes round-trip through compact JSON.
    static func payload(_ input: [UInt8]) {
        jsonRoundTrip(input)
        for format in [PayloadFormat.json, .form] {
            let result = Result { () throws(PayloadError) in try SignalPayload.decode(body: input, format: format) }
            guard case .success(let signal) = result else {
                if case .failure(.notUTF8(let offset)) = result {
                    check(offset >= 0 && offset < input.count, "bad-UTF-8 offset \(offset) outside the body")
                }
                continue
            }
            let again = Result { () throws(PayloadError) in try SignalPayload.decode(body: input, format: format) }
            check(again == .success(signal), "decoding is not deterministic")
            check(
                !signal.signalID.isEmpty && signal.signalID.utf8.count <= SignalPayload.maxSignalIDBytes,
                "signal id of \(signal.signalID.utf8.count) bytes")
            if signal.flags.contains(.derivedID) || signal.flags.contains(.signalIDTooLong) {
                check(signal.signalID.hasPrefix("derived-") && signal.signalID.utf8.count == 40, "derived id \(signal.signalID)")
            }
            let lists: [[String]] = [
                signal.matchedQueries, signal.groupByFields, signal.tags, signal.invalidIPs, signal.users,
                signal.userEmails, signal.userNames, signal.securityGroups,
            ]
            for list in lists { check(list.count <= SignalPayload.maxListCount, "a list of \(list.count) values") }
            check(signal.ips.count <= SignalPayload.maxListCount, "\(signal.ips.count) IPs")
            check(Set(signal.ips).count == signal.ips.count, "duplicate IPs")
            for ip in signal.ips {
                check(IPAddress(parsing: ip.description) == ip, "IP \(ip) does not parse back")
                check(
                    (try? TargetValidator.validate(ip.description, kind: .ip, pattern: nil).get()) == ip.description,
                    "IP \(ip) is not a valid ban target")
            }
            if let attributes = signal.attributes {
                check((try? JSONValue.parse(attributes.compactText)) == attributes, "attributes do not round-trip")
            }
            if format == .form { check(signal.flags.contains(.formEncoded), "form body not flagged") }
        }
    }

    /// IP parsing: an accepted address prints canonically and parse → print → parse is the
    /// identity; only canonical text is a valid ban target; 4/16 raw bytes round-trip; a CIDR
    /// prints to text that parses to the same range, which contains its network address.
    static func ip(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        let validated = try? TargetValidator.validate(text, kind: .ip, pattern: nil).get()
        if let address = IPAddress(parsing: text) {
            let canonical = address.description
            check(address.bytes.count == 4 || address.bytes.count == 16, "\(address.bytes.count)-byte address")
            check(IPAddress(parsing: canonical) == address, "\(text.debugDescription) → \(canonical) parses to another address")
            check(IPAddress(parsing: canonical)?.description == canonical, "canonical text \(canonical) is not stable")
            check(text.utf8.allSatisfy(isAddressByte), "accepted \(text.debugDescription) with a byte outside hex digits, '.', ':'")
            check(validated == nil || validated == canonical, "non-canonical \(text.debugDescription) is a valid target")
            check((try? TargetValidator.validate(canonical, kind: .ip, pattern: nil).get()) == canonical, "canonical \(canonical) refused")
        } else {
            check(validated == nil, "\(text.debugDescription) is a valid target but not an address")
        }
        if input.count == 4 || input.count == 16, let raw = IPAddress(bytes: input) {
            check(IPAddress(parsing: raw.description) == raw, "bytes → \(raw.description) does not parse back")
        }
        if let range = CIDR(parsing: text) {
            let maxBits = range.network.bytes.count * 8
            check(range.prefixLength >= 0 && range.prefixLength <= maxBits, "prefix /\(range.prefixLength)")
            check(CIDR(parsing: range.description) == range, "\(text.debugDescription) → \(range) parses to another range")
            check(range.contains(range.network), "\(range) does not contain its network")
        }
    }

    /// Array elements plus object members, nested ones included (the top-level value is not one).
    static func elementCount(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): items.count + items.reduce(0) { $0 + elementCount($1) }
        case .object(let members): members.count + members.reduce(0) { $0 + elementCount($1.value) }
        default: 0
        }
    }

    /// Scalars `compactText` must write as `\uXXXX`: C1 controls, bidi controls, zero-width
    /// characters, U+2028/U+2029 (DEL and C0 are checked separately).
    static func isEscapedInJSON(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x7F, 0x80...0x9F, 0x061C, 0x200B...0x200F, 0x2028...0x202E, 0x2060, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }

    static func isAddressByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66) || b == 0x2E || b == 0x3A
    }

    /// Display sanitizer: no C0, DEL, C1, bidi, zero-width, tag, separator or other Cc/Cf scalar
    /// survives (single-line), only LF in multi-line mode; sanitizing is idempotent; truncation
    /// fits its width and padding fills it exactly.
    static func sanitize(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        let single = DisplayText.sanitize(text)
        let multi = DisplayText.sanitize(text, singleLine: false)
        for (out, allowLF) in [(single, false), (multi, true)] {
            for scalar in out.unicodeScalars where isDangerous(scalar) && !(allowLF && scalar == "\n") {
                check(false, "sanitized text holds U+\(String(scalar.value, radix: 16, uppercase: true))")
            }
        }
        check(!DisplayText.hasHiddenCharacters(single), "sanitized text still has hidden characters")
        check(DisplayText.sanitize(single) == single, "sanitizing is not idempotent")
        check(DisplayText.hasHiddenCharacters(text) == (single != text), "hasHiddenCharacters disagrees with sanitize")
        for width in [1, 2, 7, 40] {
            let cut = DisplayText.truncate(single, toColumns: width)
            check(DisplayText.columns(cut) <= width, "truncated to \(DisplayText.columns(cut)) > \(width) columns")
            let padded = DisplayText.pad(single, toColumns: width)
            check(DisplayText.columns(padded) == width, "padded to \(DisplayText.columns(padded)) ≠ \(width) columns")
            check(!padded.unicodeScalars.contains(where: isDangerous), "padding let a control through")
        }
    }

    /// A scalar a terminal would interpret or that hides or reorders text.
    static func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) { return true }
        switch v {
        case 0x061C, 0x200B...0x200F, 0x202A...0x202E, 0x2060, 0x2066...0x2069, 0xFEFF, 0xE0000...0xE007F, 0x2028, 0x2029: return true
        default: break
        }
        switch scalar.properties.generalCategory {
        case .format, .control, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}

extension String {
    /// The text without leading and trailing JSON white space (RFC 8259 §2: SP, HTAB, LF, CR).
    var trimmingJSONWhitespace: String {
        let ws: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        let bytes = Array(utf8)
        guard let start = bytes.firstIndex(where: { !ws.contains($0) }), let end = bytes.lastIndex(where: { !ws.contains($0) }) else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}
