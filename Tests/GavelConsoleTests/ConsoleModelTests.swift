import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

@Suite struct ConsoleModelTests {
    func keys(_ s: String) -> [Key] { Key.parseScript(s)! }

    @Test func pendingIsSortedBySeverityThenAge() {
        let (s, _) = Fixture.session(Fixture.data())
        #expect(s.model.pending.rows.map(\.id) == [4, 2, 1, 5, 3])
        #expect(s.model.selectedRemediation?.id == 4)
        #expect(s.model.detail?.row.id == 4)
    }

    @Test func approveSelected() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("j a"))
        #expect(log.effects == [.approve([2], by: "alice")])
        #expect(s.model.flash?.text == "done")
    }

    @Test func approvingAConfirmActionAsksFirst() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("a"))
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.lines.contains("target: sg-0a1b2c3d4e5f60789 (security_group)"))
        #expect(c.lines.contains("action: delete-security-group"))
        s.press(keys("x n"))  // other keys do nothing, n cancels
        #expect(log.effects.isEmpty)
        #expect(s.model.mode == .normal)
        s.press(keys("a <Esc>"))
        #expect(log.effects.isEmpty)
        s.press(keys("a y"))
        #expect(log.effects == [.approve([4], by: "alice")])
    }

    @Test func rejectNeedsAReasonAndEscCancels() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("j r"))
        guard case .reason = s.model.mode else {
            Issue.record("no reason prompt")
            return
        }
        s.press([.enter])
        #expect(s.model.flash?.isError == true)
        #expect(s.model.flash?.text.contains("reason is required") == true)
        s.press(keys("<Space> <Space> <Enter>"))  // blanks only: still refused
        #expect(log.effects.isEmpty)
        s.press(keys("<Esc>"))
        #expect(s.model.mode == .normal)
        #expect(log.effects.isEmpty)
        s.press(keys("r false <Space> positive <Backspace> <Enter>"))
        #expect(log.effects == [.reject([2], reason: "false positiv", by: "alice")])
    }

    @Test func promptDropsControlCharacters() {
        var e = LineEditor(prompt: "/")
        _ = e.handle(.char("a"))
        _ = e.handle(.char("\u{1B}"))
        _ = e.handle(.char("\u{202E}"))
        _ = e.handle(.char("b"))
        #expect(e.text == "ab")
    }

    @Test func batchApproveShowsSummaryAndSkipsAllowlisted() {
        let data = Fixture.data()
        let (s, log) = Fixture.session(data)
        // History, newest first: 5, 4, 3, 1, 2, 7 (failed), 6 (suppressed).
        s.press(keys("2"))
        #expect(s.model.history.rows.map(\.id) == [5, 4, 3, 1, 2, 7, 6])
        s.press(keys("j j <Space> <Space> <Space> j <Space>"))  // tags 3, 1, 2 and 6
        #expect(Set(s.model.tagged.keys) == [1, 2, 3, 6])
        s.press(keys("a"))
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.title == "Approve 3 remediations of 4 tagged?")
        #expect(c.lines.first == "3 bans, 1 allowlisted skipped:")
        s.press(keys("y"))
        #expect(log.effects == [.approve([1, 2, 3], by: "alice")])
        #expect(s.model.tagged.isEmpty)
    }

    @Test func batchRejectConfirmsThenAsksReason() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("j <Space> <Space> r"))
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.lines.first == "2 bans:")
        s.press(keys("y dup <Enter>"))
        #expect(log.effects == [.reject([1, 2], reason: "dup", by: "alice")])
    }

    @Test func capitalFRejectsAsAFalsePositiveAloneOrTagged() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("j F"))
        guard case .reason(let prompt) = s.model.mode else {
            Issue.record("no reason prompt")
            return
        }
        #expect(prompt.purpose == .rejectFalsePositive && prompt.editor.prompt == "false positive, reason: ")
        s.press(keys("vpn <Enter>"))
        #expect(log.effects == [.reject([2], reason: "vpn", by: "alice", falsePositive: true)])
        s.press(keys("k <Space> j <Space> F"))
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.title == "Reject as a false positive 2 remediations of 2 tagged?")
        s.press(keys("y scanner <Enter>"))
        guard case .reject(let ids, "scanner", "alice", true)? = log.effects.last else {
            Issue.record("\(log.effects)")
            return
        }
        #expect(ids.count == 2 && !ids.contains(2))
    }

    @Test func autoToggleConfirmsWithEnabledActions() {
        let data = Fixture.data()
        let (s, log) = Fixture.session(data)
        s.press(keys("j A"))
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.title == "Switch rule Sign-in from unrecognized IP to auto?")
        #expect(c.lines.contains("  ban-ip"))
        s.press(keys("y"))
        #expect(log.effects == [.setRuleMode(rule: "new-ip", .auto)])
        // Back to manual needs no confirmation.
        data.ruleRows = Fixture.rules(mode: .auto)
        s.tick(now: Fixture.now)
        s.press(keys("A"))
        #expect(log.effects.last == .setRuleMode(rule: "new-ip", .manual))
        #expect(s.model.mode == .normal)
    }

    @Test func rulesViewTogglesActions() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("3"))
        #expect(s.model.selectedRule?.key == "new-ip")
        s.press(keys("b u s"))
        #expect(
            log.effects == [
                .setRuleAction(rule: "new-ip", action: "ban-ip", enabled: false),
                .setRuleAction(rule: "new-ip", action: "disable-user", enabled: true),
            ])
        #expect(s.model.flash?.text == "rule Sign-in from unrecognized IP does not propose delete-security-group")
        s.press(keys("d"))
        #expect(log.effects.last == .setRuleMode(rule: "new-ip", .dryRun))
    }

    @Test func filterNarrowsAndEscClears() {
        let data = Fixture.data()
        let (s, _) = Fixture.session(data)
        s.press(keys("/ 203.0.113 <Enter>"))
        #expect(s.model.filter == "203.0.113")
        #expect(s.model.pending.rows.map(\.id) == [1, 3])
        #expect(data.queries.last?.filter == "203.0.113")
        s.press(keys("n"))
        #expect(s.model.selectedRemediation?.id == 3)
        s.press(keys("n"))
        #expect(s.model.selectedRemediation?.id == 1)
        #expect(s.model.flash?.text == "search wrapped")
        s.press(keys("N"))
        #expect(s.model.selectedRemediation?.id == 3)
        s.press(keys("<Esc>"))
        #expect(s.model.filter == nil)
        #expect(s.model.pending.rows.count == 5)
        s.press(keys("n"))
        #expect(s.model.flash?.isError == true)
    }

    @Test func filterMatchesUserAndRule() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(keys("/ SHOPPER <Enter>"))
        #expect(s.model.pending.rows.map(\.id) == [5])
        s.press(keys("/ " + String(repeating: "<Backspace> ", count: 7) + "card <Enter>"))
        #expect(s.model.pending.rows.map(\.id) == [5])
    }

    @Test func viewSwitching() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press([.tab])
        #expect(s.model.view == .history)
        s.press(keys("5"))
        #expect(s.model.view == .intakeErrors)
        s.press([.tab])
        #expect(s.model.view == .inForce)
        s.press([.tab])
        #expect(s.model.view == .pending)
        s.press([.backTab])
        #expect(s.model.view == .inForce)
        s.press([.backTab])
        #expect(s.model.view == .intakeErrors)
        s.press(keys("f"))  // history-only key does nothing here
        #expect(s.model.history.stateFilter == nil)
        s.press(keys("2 f f f f f"))
        #expect(s.model.history.stateFilter == .failed)
        #expect(s.model.history.rows.map(\.id) == [7])
    }

    @Test func selectionStaysOnItsRowWhenRowsAreInsertedAbove() {
        let data = Fixture.data()
        let (s, _) = Fixture.session(data)
        s.press(keys("j j"))
        #expect(s.model.selectedRemediation?.id == 1)
        let offset = s.model.pending.selection.lastIndex - s.model.pending.selection.scrollTop
        data.remediations.append(Fixture.ban(20, "192.0.2.200", severity: .critical, minutes: -5))
        data.remediations.append(Fixture.ban(21, "192.0.2.201", severity: .critical, minutes: -4))
        s.tick(now: Fixture.now)
        #expect(s.model.pending.rows.map(\.id) == [20, 21, 4, 2, 1, 5, 3])
        #expect(s.model.selectedRemediation?.id == 1)
        #expect(s.model.pending.selection.lastIndex - s.model.pending.selection.scrollTop == offset)
    }

    @Test func selectionMovesToNextRowWhenItsRowLeaves() {
        let data = Fixture.data()
        let (s, _) = Fixture.session(data)
        s.press(keys("j"))
        data.remediations[1].state = .approved  // id 2 decided elsewhere
        s.tick(now: Fixture.now)
        #expect(s.model.selectedRemediation?.id == 1)
    }

    @Test func readOnlyRefusesDecisions() {
        let (s, log) = Fixture.session(Fixture.data(), readOnly: true)
        for k in ["a", "r", "A", "d"] {
            s.press(keys(k))
            #expect(s.model.flash?.text.hasPrefix("read-only") == true)
            #expect(s.model.mode == .normal)
        }
        s.press(keys("2 R 3 b m"))
        #expect(log.effects.isEmpty)
        #expect(s.model.flash?.text.hasPrefix("read-only") == true)
    }

    @Test func retryOnlyFailed() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("2 R"))
        #expect(s.model.flash?.isError == true)
        s.press(keys("G k R"))
        #expect(s.model.selectedRemediation?.id == 7)
        #expect(log.effects == [.retry([7], by: "alice")])
    }

    @Test func keysetPagingNeverLoadsEverything() {
        let rows = (1...500).map { Fixture.ban(Int64($0), "10.0.\($0 / 256).\($0 % 256)", minutes: Double($0)) }
        let data = FakeConsoleData(remediations: rows, rules: Fixture.rules())
        let (s, _) = Fixture.session(data)
        let h = s.model.layout.listHeight
        #expect(s.model.pending.rows.count == 3 * h)
        for _ in 0..<10 { s.press([.pageDown]) }
        #expect(s.model.selectedRemediation?.id == Int64(1 + 10 * h))
        for _ in 0..<(5 * h + 3) { s.press(keys("j")) }
        #expect(s.model.selectedRemediation?.id == Int64(1 + 15 * h + 3))
        s.press(keys("G"))
        #expect(s.model.selectedRemediation?.id == 500)
        s.press(keys("k k"))
        #expect(s.model.selectedRemediation?.id == 498)
        s.press(keys("g"))
        #expect(s.model.selectedRemediation?.id == 1)
        #expect(data.queries.allSatisfy { $0.limit <= 3 * h })
        #expect(s.model.pending.rows.count <= 5 * h)
    }

    @Test func quitAndCtrlC() {
        var m = ConsoleModel(analyst: "a")
        #expect(m.handle(.c("q")) == [.quit])
        var m2 = ConsoleModel(analyst: "a")
        _ = m2.handle(.c("/"))
        #expect(m2.handle(.ctrlC) == [.quit])
    }

    @Test func helpOverlayOpensAndCloses() {
        let (s, log) = Fixture.session(Fixture.data())
        s.press(keys("?"))
        #expect(s.model.mode == .help)
        s.press(keys("a"))  // ignored while help is open
        #expect(log.effects.isEmpty)
        s.press(keys("?"))
        #expect(s.model.mode == .normal)
    }
}
