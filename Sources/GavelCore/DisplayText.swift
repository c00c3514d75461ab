/// Display-safe text: sanitizing attacker-controlled strings for a terminal, and measuring,
/// truncating and padding them by display columns.
///
/// Every string that came from a webhook payload (rule names, IPs as sent, user ids, messages,
/// attributes) is attacker-controlled. Written to a terminal as-is it can move the cursor, clear
/// the screen, set the clipboard (OSC 52), reorder text (bidi overrides) or hide text (zero-width
/// and tag characters). `sanitize` turns every such scalar into a visible escape so the analyst
/// sees exactly what arrived. Verified behaviour of ncursesw 6.4 that makes this necessary:
/// CR and LF let `"line1\r\n[approved] fake"` overwrite a row, and C1 controls (U+009B CSI) and
/// U+202E are passed to the terminal untouched (shared notes, 2.5).
///
/// Column arithmetic never splits a grapheme cluster or a double-width character, and caps
/// nonspacing/enclosing combining marks at ``maxCombiningMarks`` per grapheme ("Zalgo" text).
/// Widths come from an injected `(Unicode.Scalar) -> Int` so that layout code and tests do not
/// depend on the process locale; ``defaultWidth(_:)`` is a locale-free approximation of
/// `wcwidth(3)` (Unicode East Asian Width W/F = 2, UAX #11).
public enum DisplayText {
    /// At most this many nonspacing (Mn) or enclosing (Me) marks are kept per grapheme cluster.
    public static let maxCombiningMarks = 2

    // MARK: Sanitizing

    /// Maps every control, format and invisible scalar to a visible escape.
    ///
    /// - C0 controls (U+0000–U+001F), DEL (U+007F) and C1 controls (U+0080–U+009F) become
    ///   `\xHH` with two lowercase hex digits: ESC → `\x1b`, BEL → `\x07`, CSI → `\x9b`.
    ///   TAB, CR and LF are escaped too; with `singleLine: false`, LF is kept (nothing else).
    /// - Bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width
    ///   characters (U+200B–U+200D, U+2060, U+FEFF), tag characters (U+E0000–U+E007F), line and
    ///   paragraph separators (U+2028, U+2029) and any other scalar of general category Cf or Cc
    ///   become `\u{HHHH}` (uppercase hex, at least four digits).
    /// - Everything else is kept, including backslashes (use ``hasHiddenCharacters(_:)`` to tell
    ///   a real ESC from a literal `\x1b` typed by a sender).
    /// - Parameters:
    ///   - s: untrusted text.
    ///   - singleLine: true (default) for a field drawn on one row; false for a multi-line block
    ///     (a request body, an intake-error excerpt) that the caller then splits on LF.
    /// - Returns: text containing no scalar that a terminal would interpret or hide.
    public static func sanitize(_ s: String, singleLine: Bool = true) -> String {
        var out = String.UnicodeScalarView()
        var changed = false
        for scalar in s.unicodeScalars {
            if !singleLine && scalar.value == 0x0A {
                out.append(scalar)
                continue
            }
            if let escape = escape(for: scalar) {
                out.append(contentsOf: escape.unicodeScalars)
                changed = true
            } else {
                out.append(scalar)
            }
        }
        return changed ? String(out) : s
    }

    /// True when `s` contains any scalar that ``sanitize(_:singleLine:)`` would escape in
    /// single-line mode (so a UI can flag the field as suspicious).
    public static func hasHiddenCharacters(_ s: String) -> Bool {
        s.unicodeScalars.contains { escape(for: $0) != nil }
    }

    /// The visible escape for a scalar that must not reach the terminal, or nil to keep it.
    static func escape(for scalar: Unicode.Scalar) -> String? {
        let v = scalar.value
        if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) {
            return "\\x" + hex(v, digits: 2, uppercase: false)
        }
        if isInvisibleOrFormat(scalar) {
            return "\\u{" + hex(v, digits: 4, uppercase: true) + "}"
        }
        return nil
    }

    static func isInvisibleOrFormat(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi
        case 0x200B...0x200D, 0x2060, 0xFEFF: return true  // zero-width
        case 0xE0000...0xE007F: return true  // tags
        case 0x2028, 0x2029: return true  // line / paragraph separator
        default: break
        }
        switch scalar.properties.generalCategory {
        case .format, .control, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    private static func hex(_ v: UInt32, digits: Int, uppercase: Bool) -> String {
        let h = String(v, radix: 16, uppercase: uppercase)
        return String(repeating: "0", count: max(0, digits - h.count)) + h
    }

    // MARK: Widths

    /// A locale-free approximation of `wcwidth(3)` for one scalar.
    ///
    /// - Returns: 0 for nonspacing/enclosing marks, format characters, Hangul medial vowels and
    ///   final consonants (U+1160–U+11FF) and variation selectors; 2 for East Asian Wide and
    ///   Fullwidth ranges (CJK, Hangul syllables, kana, fullwidth forms) and emoji presentation
    ///   ranges; 1 otherwise (controls included: they are escaped before display).
    public static func defaultWidth(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x300 { return 1 }  // fast path: Latin, controls are escaped before display
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if (0x1160...0x11FF).contains(v) || (0xFE00...0xFE0F).contains(v) || (0xE0100...0xE01EF).contains(v) {
            return 0
        }
        return wideRanges.contains { $0.contains(v) } ? 2 : 1
    }

    /// East Asian Wide (W) and Fullwidth (F) ranges plus emoji presentation blocks (UAX #11).
    static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0,
        0x23F3...0x23F3, 0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F,
        0x2693...0x2693, 0x26A1...0x26A1, 0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5,
        0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA, 0x26F2...0x26F3, 0x26F5...0x26F5,
        0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B, 0x2728...0x2728,
        0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
        0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
        0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
        0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18AFF, 0x1B000...0x1B2FF,
        0x1F004...0x1F004, 0x1F0CF...0x1F0CF, 0x1F18E...0x1F18E, 0x1F191...0x1F19A,
        0x1F200...0x1F202, 0x1F210...0x1F23B, 0x1F240...0x1F248, 0x1F250...0x1F251,
        0x1F260...0x1F265, 0x1F300...0x1F320, 0x1F32D...0x1F335, 0x1F337...0x1F37C,
        0x1F37E...0x1F393, 0x1F3A0...0x1F3CA, 0x1F3CF...0x1F3D3, 0x1F3E0...0x1F3F0,
        0x1F3F4...0x1F3F4, 0x1F3F8...0x1F43E, 0x1F440...0x1F440, 0x1F442...0x1F4FC,
        0x1F4FF...0x1F53D, 0x1F54B...0x1F54E, 0x1F550...0x1F567, 0x1F57A...0x1F57A,
        0x1F595...0x1F596, 0x1F5A4...0x1F5A4, 0x1F5FB...0x1F64F, 0x1F680...0x1F6C5,
        0x1F6CC...0x1F6CC, 0x1F6D0...0x1F6D2, 0x1F6D5...0x1F6D7, 0x1F6DC...0x1F6DF,
        0x1F6EB...0x1F6EC, 0x1F6F4...0x1F6FC, 0x1F7E0...0x1F7EB, 0x1F7F0...0x1F7F0,
        0x1F90C...0x1F93A, 0x1F93C...0x1F945, 0x1F947...0x1F9FF, 0x1FA70...0x1FAFF,
        0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    // MARK: Columns

    /// The display columns `s` occupies once drawn (after combining marks are capped).
    /// Negative widths from `width` (as `wcwidth` returns for controls) count as 1.
    public static func columns(_ s: String, width: (Unicode.Scalar) -> Int = defaultWidth) -> Int {
        var total = 0
        for ch in s { total += displayGrapheme(ch, width: width).columns }
        return total
    }

    /// The longest prefix of `s` that fits in `toColumns` columns, made of whole graphemes.
    ///
    /// When the text is cut and a double-width grapheme would straddle the last column, a space
    /// fills that column instead, so a cut result always occupies exactly `toColumns` columns.
    /// - Parameters:
    ///   - ellipsis: when true and the text is cut, the last column shows `…`.
    /// - Returns: the prefix (combining marks capped); `s` itself (capped) when it fits.
    public static func truncate(
        _ s: String, toColumns limit: Int, width: (Unicode.Scalar) -> Int = defaultWidth, ellipsis: Bool = false
    ) -> String {
        guard limit > 0 else { return "" }
        var graphemes: [(text: String, columns: Int)] = []
        var total = 0
        for ch in s {
            let g = displayGrapheme(ch, width: width)
            graphemes.append(g)
            total += g.columns
        }
        if total <= limit { return graphemes.map(\.text).joined() }
        let budget = ellipsis ? limit - 1 : limit
        var out = ""
        var used = 0
        for g in graphemes {
            if used + g.columns > budget { break }
            out += g.text
            used += g.columns
        }
        if used < budget { out += String(repeating: " ", count: budget - used) }
        if ellipsis { out += "…" }
        return out
    }

    /// `s` truncated to `toColumns` and padded with spaces to exactly that many columns.
    /// - Parameters:
    ///   - alignRight: pad on the left instead (for numbers).
    ///   - ellipsis: mark a cut with `…` (see ``truncate(_:toColumns:width:ellipsis:)``).
    public static func pad(
        _ s: String, toColumns n: Int, width: (Unicode.Scalar) -> Int = defaultWidth,
        alignRight: Bool = false, ellipsis: Bool = true
    ) -> String {
        guard n > 0 else { return "" }
        let t = truncate(s, toColumns: n, width: width, ellipsis: ellipsis)
        let gap = n - columns(t, width: width)
        guard gap > 0 else { return t }
        let fill = String(repeating: " ", count: gap)
        return alignRight ? fill + t : t + fill
    }

    /// One grapheme made safe for column layout: combining marks capped, a grapheme that starts
    /// with a mark (no base) gets a space base so it cannot combine with a neighbouring field.
    static func displayGrapheme(_ ch: Character, width: (Unicode.Scalar) -> Int) -> (text: String, columns: Int) {
        var scalars = String.UnicodeScalarView()
        var marks = 0
        var cols = 0
        for (i, scalar) in ch.unicodeScalars.enumerated() {
            let category = scalar.properties.generalCategory
            let isMark = category == .nonspacingMark || category == .enclosingMark
            if isMark {
                if i == 0 {
                    scalars.append(" ")
                    cols += 1
                }
                marks += 1
                if marks > maxCombiningMarks { continue }
            }
            let w = width(scalar)
            cols += w < 0 ? 1 : w
            scalars.append(scalar)
        }
        return (String(scalars), cols)
    }
}
