import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

/// Issue 16, item 16: the console papercuts a new team found, one regression test each, read off
/// the rendered screen.
@Suite struct ConsolePapercutTests {
    func lines(_ f: Frame) -> [String] { f.text.components(separatedBy: "\n") }

    static func entry(_ id: Int64) -> AuditEntry {
        AuditEntry(
            id: id, at: Timestamp(Fixture.t0.addingTimeInterval(Double(id))), actor: "alice", action: "approve", subject: "remediation \(id)",
            before: "pending", after: "approved")
    }

    @Test func theAuditViewFollowsNewEntriesWhileOnTheNewest() {
        let data = Fixture.data()
        data.auditRows = (1...5).map(Self.entry)
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("4")!)
        #expect(s.model.audit.selection.selected == 5)
        data.auditRows += (6...8).map(Self.entry)
        s.tick(now: Fixture.now)
        // On the newest entry, new entries arrive selected at the top, as in `tail -f`.
        #expect(s.model.audit.selection.selected == 8)
        #expect(lines(s.frame())[3].contains("remediation 8"))
        // Further down, the analyst keeps the entry they are reading.
        s.press(Key.parseScript("j j")!)
        #expect(s.model.audit.selection.selected == 6)
        data.auditRows += [Self.entry(9)]
        s.tick(now: Fixture.now)
        #expect(s.model.audit.selection.selected == 6)
    }

    @Test func anEmptyFilterAClearedQueueAndANewDatabaseSayDifferentThings() {
        let cleared = FakeConsoleData(remediations: [Fixture.ban(1, "203.0.113.1", state: .rejected)], rules: Fixture.rules())
        let (s, _) = Fixture.session(cleared)
        #expect(s.frame().text.contains("queue clear: nothing is pending (2 History shows what was decided)"))
        #expect(!s.frame().text.contains("try:"))
        let (fresh, _) = Fixture.session(FakeConsoleData())
        #expect(fresh.frame().text.contains("nothing here yet: no signal has proposed a remediation"))
        let (filtered, _) = Fixture.session(Fixture.data())
        filtered.press(Key.parseScript("/ zzz <Enter>")!)
        #expect(filtered.frame().text.contains("no rows match /zzz (Esc clears the filter)"))
        filtered.press(Key.parseScript("<Esc> 2 f f f")!)
        #expect(filtered.model.history.stateFilter != nil)
        if let state = filtered.model.history.stateFilter, !Fixture.data().remediations.contains(where: { $0.state == state }) {
            #expect(filtered.frame().text.contains("no remediation is \(state.rawValue) (f cycles the state filter)"))
        }
        let (empty, _) = Fixture.session(FakeConsoleData())
        empty.press(Key.parseScript("6")!)
        #expect(empty.frame().text.contains("nothing in force"))
        empty.press(Key.parseScript("4")!)
        #expect(empty.frame().text.contains("the audit log is empty"))
    }

    /// The empty console's hint names a command that works from the analyst's shell (item 17).
    @Test func theEmptyConsoleSuggestsTheDemoCommandThatRuns() {
        let data = FakeConsoleData()
        data.summaryValue.listenAddress = "http://127.0.0.1:8787"
        data.summaryValue.demoCommand = ".build/debug/gavel demo"
        let (s, _) = Fixture.session(data)
        let text = s.frame().text
        #expect(text.contains("signals arrive at POST http://127.0.0.1:8787/webhook — try:"))
        #expect(text.contains("    .build/debug/gavel demo\n"))
        data.summaryValue.listenAddress = "http://127.0.0.1:45387"
        s.tick(now: Fixture.now)
        #expect(s.frame().text.contains("    .build/debug/gavel demo --to http://127.0.0.1:45387"))
    }

    @Test func theRejectPromptAndAConflictAreReadableWholeAt80Columns() {
        let data = Fixture.data()
        data.remediations[1].ruleName = "Credential stuffing from a residential proxy network"
        let (s, log) = Fixture.session(data)
        s.press(Key.parseScript("j r")!)
        let f = lines(s.frame())
        let prompt = (f[21] + " " + f[22].trimmingCharacters(in: .whitespaces))
        #expect(prompt.contains("(rule: Credential stuffing from a residential proxy network) — Enter rejects, Esc cancels"))
        #expect(!f[21].contains("…") && !f[22].contains("…"))
        s.press([.escape])
        // A long conflict message (another analyst decided first) shows whole on two rows.
        s.perform = { _ in
            DecisionOutcome(
                message: "#2 was already rejected by bob at 2026-05-28T20:27:10Z (reason: known scanner of the partner network); nothing was changed",
                isError: true)
        }
        s.press(Key.parseScript("a")!)
        let g = lines(s.frame())
        #expect((g[21] + " " + g[22].trimmingCharacters(in: .whitespaces)).contains("known scanner of the partner network); nothing was changed"))
        _ = log
    }

    @Test func theReadOnlyHeaderSaysReadOnlyOnceAndCountsInWords() {
        let data = FakeConsoleData(
            remediations: (0..<8).map { Fixture.ban(Int64($0 + 1), "203.0.113.\($0)", state: .dispatched) } + [
                Fixture.ban(9, "198.51.100.1", state: .failed), Fixture.ban(10, "198.51.100.2", state: .rejected),
                Fixture.ban(11, "198.51.100.3", state: .suppressed), Fixture.ban(12, "198.51.100.4", state: .simulated),
            ], rules: Fixture.rules())
        data.summaryValue.listenAddress = "no receiver"
        let (s, _) = Fixture.session(data, readOnly: true)
        let header = lines(s.frame())[0]
        #expect(header.components(separatedBy: "READ-ONLY").count == 2)
        #expect(!header.lowercased().contains("read-only  read-only"))
        #expect(header.contains("pend 0") && header.contains("fail 1") && header.contains("in force 8"), "\(header)")
        #expect(!header.contains("P0") && !header.contains("D8"))
    }

    @Test func theRequestPreviewWrapsBetweenJSONTokens() {
        let data = Fixture.data()
        let body =
            #"{"action":"ban-ip","remediation_id":"2","idempotency_key":"gavel-c43e1eea-10f9-41e4-81fe-0916790be1fc","target":"198.51.100.99","rule":"Sign-in from unrecognized IP","severity":"high"}"#
        data.details[2] = RemediationDetail(row: data.remediations[1], requestText: "POST https://api.example.com/ban\n\n" + body)
        let (s, _) = Fixture.session(data, size: (40, 80))
        s.press(Key.parseScript("j")!)
        let rows = lines(s.frame())
        let start = rows.firstIndex { $0.contains(#"{"action":"ban-ip""#) }!
        var bodyRows: [String] = []
        for r in rows[start...] {
            bodyRows.append(r.trimmingCharacters(in: .whitespaces))
            if r.contains(#""high"}"#) { break }
        }
        #expect(bodyRows.count > 1, "\(bodyRows)")
        // Every row ends at a token boundary: the key never splits.
        #expect(bodyRows.contains { $0.contains(#""gavel-c43e1eea-10f9-41e4-81fe-0916790be1fc""#) })
        for row in bodyRows.dropLast() {
            #expect([",", ":", "{", "["].contains(row.last.map(String.init) ?? ""), "row ends inside a token: \(row)")
        }
        #expect(bodyRows.joined() == body)
    }

    @Test func attemptsSayHTTPOrExitAndTheTargetHistorySaysWhoApproved() {
        #expect(Attempt.resultText(status: 503, error: "service unavailable") == "HTTP 503 — service unavailable")
        #expect(Attempt.resultText(status: 0, error: nil) == "exit 0")
        #expect(Attempt.resultText(status: 3, error: "exit 3") == "exit 3")
        #expect(Attempt.resultText(status: nil, error: "connection refused") == "no answer — connection refused")
        #expect(Attempt.resultText(status: nil, error: nil) == "done")
        var failed = Fixture.ban(3, "203.0.113.42", state: .failed)
        failed.decidedBy = "alice"
        #expect(StoreDataSource.historyLine(failed).hasPrefix("#3 ban-ip failed (approved by alice) "))
        var rejected = Fixture.ban(4, "203.0.113.42", state: .rejected)
        rejected.decidedBy = "bob"
        rejected.reason = "known scanner"
        #expect(StoreDataSource.historyLine(rejected).hasPrefix("#4 ban-ip rejected by bob (known scanner) "))
    }

    @Test func theBatchSummaryListsItsTargets() {
        let data = Fixture.data()
        data.remediations += (10..<20).map { Fixture.ban(Int64($0), "192.0.2.\($0)", severity: .low, minutes: Double($0)) }
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript(Array(repeating: "<Space>", count: 12).joined(separator: " ") + " a")!)
        guard case .confirm(let c) = s.model.mode else {
            Issue.record("no confirmation")
            return
        }
        #expect(c.lines.contains("  #4 delete-security-group sg-0a1b2c3d4e5f60789"))
        #expect(c.lines.contains("  #2 ban-ip 198.51.100.99"))
        #expect(c.lines.contains { $0.hasPrefix("  … and ") && $0.hasSuffix(" more") })
        let text = s.frame().text
        #expect(text.contains("│   #4 delete-security-group sg-0a1b2c3d4e5f60789"))
    }

    @Test func switchingARuleToAutoSaysWhatHappensToWhatIsPending() {
        let (s, _) = Fixture.session(Fixture.data())
        s.press(Key.parseScript("3 A")!)
        let text = s.frame().text
        #expect(text.contains("│ Its 3 pending remediations stay pending for an analyst;"))
        #expect(text.contains("│ auto applies to new signals only."))
    }
}
