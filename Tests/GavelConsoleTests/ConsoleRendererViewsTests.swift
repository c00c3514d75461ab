import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

@Suite struct ConsoleRendererViewsTests {
    func lines(_ f: Frame) -> [String] { f.text.components(separatedBy: "\n") }

    @Test func tooSmallTerminal() {
        let (s, _) = Fixture.session(Fixture.data())
        for (r, c) in [(24, 79), (23, 80), (10, 40)] {
            let f = ConsoleRenderer.render(s.model, size: (r, c))
            #expect(f.rows.count == r)
            #expect(f.text.contains("terminal too small (need 80×24)") || c < 31)
        }
        #expect(ConsoleRenderer.render(s.model, size: (0, 0)).rows.isEmpty)
    }

    @Test func headerStartsWithGavelAndShowsCounts() {
        let data = Fixture.data()
        data.summaryValue.banner = "dispatcher stalled\u{1B}[5m"
        let (s, _) = Fixture.session(data)
        let header = lines(s.frame())[0]
        // The banner is never cut; the analyst stays; the listen address goes before the counts shorten.
        #expect(header == "gavel  alice  dispatcher stalled\\x1b[5m  pend 5 fail 1 supp 1 auto 0  21:26:40Z")
        #expect(header.hasSuffix("21:26:40Z"))
        #expect(s.frame().rows[0].spans.contains { $0.style == .error && $0.text.contains("\\x1b[5m") })
    }

    @Test func headerShortensTheCountsWhenNarrow() {
        let data = Fixture.data()
        data.summaryValue.listenAddress = "http://127.0.0.1:45387"
        data.ruleRows[0].rule.mode = .auto
        let (s, _) = Fixture.session(data)
        #expect(lines(s.frame())[0] == "gavel  alice  http://127.0.0.1:45387  pend 5 fail 1 supp 1 auto 1     21:26:40Z")
        s.apply([.resized(rows: 24, cols: 120)])
        #expect(lines(s.frame())[0].hasPrefix("gavel  alice  http://127.0.0.1:45387  pending 5 · failed 1 · suppressed 1  auto: 1 rule "))
        // Every state at once: what needs attention in words, the rest summed, and no address
        // (not one letter per state: issue 16 found `P0 D8 F1 R1 S1 M1` cryptic).
        data.remediations += [.approved, .dispatching, .dispatched, .rejected, .simulated].enumerated().map { i, state in
            Fixture.ban(Int64(20 + i), "192.0.2.\(i)", state: state)
        }
        s.apply([.resized(rows: 24, cols: 80)])
        s.tick(now: Fixture.now)
        let header = lines(s.frame())[0]
        #expect(header == "gavel  alice  pend 5 · fail 1 · in force 1 · 5 other · auto 1         21:26:40Z")
        #expect(DisplayText.columns(s.frame().rows[0].text) == 80)
    }

    @Test func promptsReplaceTheFooter() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(Key.parseScript("/ 203 <Backspace>")!)
        #expect(lines(s.frame())[23] == "/20")
        s.press([.escape])
        s.press(Key.parseScript("j r spam")!)
        let f = lines(s.frame())
        #expect(f[23] == "reason: spam")
        // At 80 columns the prompt takes two rows rather than losing its end (issue 16).
        #expect(f[21].hasPrefix("reject #2 ban-ip 198.51.100.99 (rule: Sign-in from unrecognized IP) — Enter"))
        #expect(f[22].hasPrefix("  rejects, Esc cancels"))
    }

    @Test func readOnlyFooterHasNoDecisionHints() {
        let (s, _) = Fixture.session(Fixture.data(), readOnly: true)
        let f = lines(s.frame())
        #expect(!f[23].contains("approve"))
        #expect(f[23].contains("? help"))
        #expect(f[0].contains("READ-ONLY"))
        s.press(Key.parseScript("a")!)
        #expect(lines(s.frame())[22].hasPrefix("read-only"))
    }

    @Test func batchConfirmationBox() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(Key.parseScript("<Space> <Space> a")!)
        let text = s.frame().text
        #expect(text.contains("│ Approve 2 remediations of 2 tagged?"))
        #expect(text.contains("│ 1 ban, 1 security-group deletion:"))
        // The batch lists what it acts on (issue 16).
        #expect(text.contains("│   #4 delete-security-group sg-0a1b2c3d4e5f60789"))
        #expect(text.contains("│   #2 ban-ip 198.51.100.99"))
        #expect(text.contains("│ confirm: #4 delete-security-group sg-0a1b2c3d4e5f60789 (rule: Misconfig"))
        #expect(lines(s.frame())[23] == "y confirm  n/Esc cancel")
    }

    @Test func autoConfirmationListsEnabledActions() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(Key.parseScript("3 j j A")!)
        let text = s.frame().text
        #expect(text.contains("Switch rule Card fraud to auto?"))
        #expect(text.contains("│   disable-user, ban-ip"))
    }

    @Test func rulesAuditAndIntakeViews() {
        let data = Fixture.data()
        data.auditRows = [
            AuditEntry(id: 1, at: Timestamp(Fixture.t0), actor: "alice", action: "approve", subject: "remediation 2", detail: "ban-ip 198.51.100.99")
        ]
        data.intakeRows = [
            IntakeErrorEntry(
                id: 1, receivedAt: Timestamp(Fixture.t0), peer: "192.0.2.99:5555", status: 400, reason: "body is not JSON", contentType: nil,
                body: Array("{\"x\":1}\r\n\u{1B}[31mred\u{9B}2J\nline2".utf8))
        ]
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("3")!)
        var f = lines(s.frame())
        // Columns sized to content: RULE and ACTIONS in full, the legend in the title, no empty column.
        #expect(f[2] == "MODE   RULE                                ACTIONS (+ on, - off)  PEND SENT SEEN")
        #expect(f[3] == "manual Sign-in from unrecognized IP        +ban-ip -disable-user     3    0    -")
        #expect(f[4] == "manual Misconfigured security group        +delete-security-group    0    0    -")
        s.press(Key.parseScript("4")!)
        f = lines(s.frame())
        #expect(f[2].hasPrefix("AT (UTC)       ACTOR    VERB     ID WHAT"))
        #expect(f[3].hasPrefix("05-28 20:26:40 alice    approve  #2 remediation 2 — ban-ip 198.51.100.99"))
        s.press(Key.parseScript("5")!)
        let frame = s.frame()
        f = lines(frame)
        #expect(f[3].contains("{\"x\":1}\\x0d\\x0a\\x1"))
        #expect(f.contains(" 400 body is not JSON"))
        #expect(f.contains("   {\"x\":1}\\x0d"))
        #expect(f.contains("   \\x1b[31mred\\x9b2J"))
        #expect(f.contains("   line2"))
        for row in frame.rows { #expect(DisplayText.columns(row.text) == 80) }
    }

    @Test func detailFocusScrolls() {
        let d = Fixture.data()
        d.details[4] = RemediationDetail(row: d.remediations[3], targetHistory: (1...40).map { "old \($0)" })
        let (s, _) = Fixture.session(d)
        s.press(Key.parseScript("<Enter> j j j")!)
        #expect(s.model.focus == .detail)
        #expect(s.model.detailScroll == 3)
        #expect(s.model.selectedRemediation?.id == 4)  // the list did not move
        s.press(Key.parseScript("G")!)
        let f = lines(s.frame())
        #expect(f[21] == "   old 40")
        s.press([.escape])
        #expect(s.model.focus == .list)
    }

    @Test func stylesWithAndWithoutColor() {
        #expect(CellStyle.severity(.critical).attributes(colors: true).foreground == .red)
        for style in CellStyle.allCases {
            #expect(style.attributes(colors: false).foreground == nil)
        }
        // Without color, severities still differ from each other by attributes.
        let looks = Severity.allCases.map { CellStyle.severity($0).attributes(colors: false) }
        #expect(Set(looks.map { "\($0)" }).count >= 4)
    }

    @Test func severityCellsCarryTheirStyle() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(Key.parseScript("j")!)  // the critical row is no longer selected
        let row = s.frame().rows[3]
        #expect(row.spans.contains { $0.style == .severity(.critical) && $0.text.hasPrefix("CRIT") })
        // The selected row is reversed, and its severity cell keeps the severity's colour.
        let selected = s.frame().rows[4]
        #expect(selected.text.hasPrefix("  HIGH  #2 ban-ip"))
        #expect(selected.spans.filter { $0.style != .selected }.map(\.text) == ["HIGH"])
        #expect(selected.spans.contains { $0.style == .selectedSeverity(.high) })
        let look = CellStyle.selectedSeverity(.high).attributes(colors: true)
        #expect(look.reverse && look.bold && look.foreground == .red)
        #expect(CellStyle.selectedSeverity(.critical).attributes(colors: false).reverse)
    }

    @Test func columnTitlesAreOneUnbrokenStyle() {
        let (s, _) = Fixture.session(Fixture.data())
        for view in ["1", "2", "3", "4", "5"] {
            s.press(Key.parseScript(view)!)
            let titles = s.frame().rows[2]
            #expect(titles.spans.allSatisfy { $0.style == .columnTitle }, "view \(view)")
            #expect(DisplayText.columns(titles.text) == 80)
        }
        #expect(lines(s.frame())[2].hasPrefix("AT (UTC)       PEER"))
    }

    @Test func helpHeadingsShareOneStyle() {
        let (s, _) = Fixture.session(Fixture.data(), size: (40, 80))
        s.press(Key.parseScript("?")!)
        let rows = s.frame().rows
        let headings = rows.filter { $0.spans.first?.style == .heading }.map { $0.text.trimmingCharacters(in: .whitespaces) }
        #expect(headings == ["Pending view", "Everywhere"])
    }

    @Test func rulesDetailShowsTheIdOnceAndEveryAction() {
        let data = Fixture.data()
        data.ruleRows[0] = makeRuleRow(
            rule: "Sign-in from unrecognized IP", ruleID: "def-000-nt1", mode: .manual,
            enabledActions: [ActionName.banIP], allActions: [ActionName.banIP, ActionName.disableUser], pending: 3)
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("3")!)
        var text = s.frame().text
        #expect(
            text.contains(
                "\n rule id: def-000-nt1\n mode: manual\n actions ([x] enabled):\n   [x] ban-ip  (b toggles)\n   [ ] disable-user  (u toggles)\n"))
        #expect(!text.contains("key: def-000-nt1"))
        s.press(Key.parseScript("j")!)  // no rule id: the key it is stored under
        text = s.frame().text
        #expect(text.contains("\n key: sg-open\n mode: manual\n"))
        #expect(text.contains("   [x] delete-security-group  (s toggles)"))
        #expect(!text.contains("rule id:"))
        let (ro, _) = Fixture.session(data, readOnly: true)
        ro.press(Key.parseScript("3")!)
        #expect(ro.frame().text.contains("   [ ] disable-user\n"))
    }

    @Test func detailWrapsByDisplayColumnsWithAHangingIndent() {
        let width = DisplayText.defaultWidth
        let cjk = DetailLine("    message: 攻撃者のIPアドレスからのログイン試行が検出されました 👍🏽👍🏽 cafe\u{301} end", .dim)
        let rows = ConsoleRenderer.wrap(cjk, columns: 20, width: width)
        #expect(rows.allSatisfy { DisplayText.columns($0.text) <= 20 && $0.style == .dim })
        #expect(rows.dropFirst().allSatisfy { $0.text.hasPrefix("      ") })  // indent 4 + 2
        // Nothing lost, no grapheme split: the rows joined give back the text's graphemes.
        #expect(
            rows.map { $0.text.trimmingCharacters(in: .whitespaces) }.joined().filter { $0 != " " }
                == cjk.text.filter { $0 != " " })
        #expect(rows.map(\.text).joined().contains("👍🏽") && rows.map(\.text).joined().contains("cafe\u{301}"))
        // Escapes are wrapped as drawn (sanitized first), never as raw control characters.
        let hostile = ConsoleRenderer.wrap(DetailLine("rule: evil\u{1B}[2J\r\n[approved] fake rule name that is long"), columns: 24, width: width)
        #expect(hostile.map(\.text) == ["rule: evil\\x1b[2J\\x0d\\x0", "  a[approved] fake rule", "  name that is long"])
        #expect(hostile.allSatisfy { !DisplayText.hasHiddenCharacters($0.text) })
        // A short line stays one row; a huge one stops at maxWrappedRows, ending in "…".
        #expect(ConsoleRenderer.wrap(DetailLine("short"), columns: 20, width: width).map(\.text) == ["short"])
        let huge = ConsoleRenderer.wrap(DetailLine(String(repeating: "x", count: 5000)), columns: 30, width: width)
        #expect(huge.count == ConsoleRenderer.maxWrappedRows)
        #expect(huge.last?.text.hasSuffix("…") == true)
    }
}
