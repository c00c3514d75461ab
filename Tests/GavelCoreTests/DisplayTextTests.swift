import Testing

@testable import GavelCore

@Suite struct DisplayTextTests {
    @Test func forgedRowCannotBreakOutOfItsLine() {
        let s = DisplayText.sanitize("line1\r\n[approved] fake")
        #expect(s == "line1\\x0d\\x0a[approved] fake")
        #expect(!s.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func terminalEscapesAreShownNotSent() {
        #expect(DisplayText.sanitize("\u{1B}[2J") == "\\x1b[2J")
        // OSC 52 clipboard write, BEL-terminated and ST-terminated.
        #expect(DisplayText.sanitize("\u{1B}]52;c;ZXZpbA==\u{07}") == "\\x1b]52;c;ZXZpbA==\\x07")
        #expect(DisplayText.sanitize("\u{1B}]52;c;Zg==\u{1B}\\") == "\\x1b]52;c;Zg==\\x1b\\")
        #expect(DisplayText.sanitize("a\u{9B}31mb") == "a\\x9b31mb")  // C1 CSI
        #expect(DisplayText.sanitize("\u{7F}\u{0}\u{85}") == "\\x7f\\x00\\x85")
        #expect(DisplayText.sanitize("a\tb") == "a\\x09b")
    }

    @Test func bidiZeroWidthAndTagsAreVisible() {
        #expect(DisplayText.sanitize("evil\u{202E}gpj.exe") == "evil\\u{202E}gpj.exe")
        #expect(DisplayText.sanitize("\u{2066}x\u{2069}") == "\\u{2066}x\\u{2069}")
        #expect(DisplayText.sanitize("a\u{200D}b\u{200B}c\u{FEFF}\u{2060}") == "a\\u{200D}b\\u{200B}c\\u{FEFF}\\u{2060}")
        #expect(DisplayText.sanitize("\u{061C}\u{200E}\u{200F}") == "\\u{061C}\\u{200E}\\u{200F}")
        #expect(DisplayText.sanitize("x\u{E0041}\u{E007F}") == "x\\u{E0041}\\u{E007F}")
        #expect(DisplayText.sanitize("soft\u{00AD}hyphen") == "soft\\u{00AD}hyphen")  // Cf
        #expect(DisplayText.sanitize("a\u{2028}b") == "a\\u{2028}b")
    }

    @Test func multiLineKeepsOnlyLineFeed() {
        #expect(DisplayText.sanitize("a\r\nb\tc\n\u{1B}", singleLine: false) == "a\\x0d\nb\\x09c\n\\x1b")
    }

    @Test func plainTextIsUntouched() {
        for s in ["203.0.113.42", "2001:db8::17", "shopper.one@example.com", "日本語 é ✓", "back\\slash", "👍🏽", ""] {
            #expect(DisplayText.sanitize(s) == s)
            #expect(!DisplayText.hasHiddenCharacters(s))
        }
        #expect(DisplayText.hasHiddenCharacters("ok\u{1B}"))
        #expect(DisplayText.hasHiddenCharacters("ok\u{200D}"))
    }

    @Test func sanitizedTextHasNoControlOrFormatScalar() {
        var hostile = ""
        for v in Array(0..<0x20) + [0x7F] + Array(0x80...0x9F) + [0x202E, 0x2066, 0x200B, 0xFEFF, 0xE0001, 0x180E] {
            hostile.unicodeScalars.append(Unicode.Scalar(UInt32(v))!)
        }
        let s = DisplayText.sanitize(hostile)
        #expect(s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
    }

    @Test func widths() {
        let w = DisplayText.defaultWidth
        #expect(DisplayText.columns("abc", width: w) == 3)
        #expect(DisplayText.columns("日本", width: w) == 4)
        #expect(DisplayText.columns("e\u{301}", width: w) == 1)
        #expect(DisplayText.columns("한국", width: w) == 4)
        #expect(DisplayText.columns("😀", width: w) == 2)
        #expect(DisplayText.columns("ｱ", width: w) == 1)  // halfwidth katakana
        #expect(DisplayText.columns("Ａ", width: w) == 2)  // fullwidth A
    }

    @Test func truncationNeverSplitsWideCharacters() {
        // 日本語 is 6 columns; 5 columns cannot hold the third character, so a space fills.
        #expect(DisplayText.truncate("日本語", toColumns: 5) == "日本 ")
        #expect(DisplayText.truncate("日本語", toColumns: 6) == "日本語")
        #expect(DisplayText.truncate("a日本", toColumns: 2) == "a ")
        #expect(DisplayText.truncate("😀😀x", toColumns: 3) == "😀 ")
        #expect(DisplayText.truncate("日本語", toColumns: 5, ellipsis: true) == "日本…")
        #expect(DisplayText.truncate("日本語", toColumns: 4, ellipsis: true) == "日 …")
        for n in 0...8 {
            let t = DisplayText.truncate("a日本語b😀", toColumns: n)
            #expect(DisplayText.columns(t) <= n)
            #expect(DisplayText.columns(DisplayText.pad("a日本語b😀", toColumns: n)) == n)
        }
    }

    @Test func truncationKeepsGraphemesWhole() {
        let flagged = "e\u{301}e\u{301}e\u{301}"
        let t = DisplayText.truncate(flagged, toColumns: 2)
        #expect(t == "e\u{301}e\u{301}")
        #expect(t.unicodeScalars.count == 4)
    }

    @Test func combiningMarksAreCapped() {
        let zalgo = "a" + String(repeating: "\u{301}", count: 50) + "b"
        let t = DisplayText.pad(zalgo, toColumns: 4)
        #expect(t.unicodeScalars.count == 1 + DisplayText.maxCombiningMarks + 1 + 2)
        #expect(DisplayText.columns(zalgo) == 2)
        // A mark with no base gets a space base so it cannot combine with the previous field.
        #expect(DisplayText.truncate("\u{301}x", toColumns: 5) == " \u{301}x")
    }

    @Test func padAlignsByColumns() {
        #expect(DisplayText.pad("日本", toColumns: 6) == "日本  ")
        #expect(DisplayText.pad("42", toColumns: 5, alignRight: true) == "   42")
        #expect(DisplayText.pad("abcdef", toColumns: 4) == "abc…")
        #expect(DisplayText.pad("abc", toColumns: 0) == "")
    }
}
