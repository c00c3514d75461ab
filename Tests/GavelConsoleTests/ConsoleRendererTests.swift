import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

@Suite struct ConsoleRendererTests {
    /// Every row exactly `cols` columns wide, no control or invisible scalar anywhere.
    func checkShape(_ f: Frame, rows: Int, cols: Int) {
        #expect(f.rows.count == rows)
        for row in f.rows {
            #expect(DisplayText.columns(row.text) == cols)
            #expect(!DisplayText.hasHiddenCharacters(row.text))
        }
    }

    @Test func pendingAt80x24WithHostileRuleName() {
        let data = Fixture.data()
        data.remediations[0].ruleName = "evil\u{1B}[2J\r\nrule"
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("j j")!)
        let frame = s.frame()
        checkShape(frame, rows: 24, cols: 80)
        #expect(frame.text == Self.pending80x24)
        let hostileRows = frame.rows.filter { $0.text.contains("evil") }
        #expect(hostileRows.count == 2)  // its list row and its detail line, each on one row
        #expect(hostileRows.allSatisfy { $0.text.contains("evil\\x1b[2J\\x0d\\x0ar") })
    }

    /// The security-group deletion with a full detail: request, a signal with a long message,
    /// attributes, history and an attempt.
    static func sgDetailData() -> FakeConsoleData {
        let d = Fixture.data()
        d.details[4] = RemediationDetail(
            row: d.remediations[3],
            signals: [
                makeSignalCard(
                    id: 9, signalID: "AAAB-sg", title: "Security group open to the world",
                    message:
                        "sg-0a1b2c3d4e5f60789 allows 0.0.0.0/0 on port 22, and the rule fires when an ingress rule opens SSH or RDP to the whole internet on a group attached to a running instance\nsecond line \u{1B}]52;c;ZXZpbA==\u{07}",
                    severity: .critical, ips: ["192.0.2.10"], eventName: "AuthorizeSecurityGroupIngress", eventOutcome: "success",
                    securityGroups: ["sg-0a1b2c3d4e5f60789"], actor: "arn:aws:iam::123456789012:user/dev",
                    link: "https://app.datadoghq.com/security?query=%40workflow.rule.type%3A%22Signal%20Correlation%22&event=AAAB",
                    attributeLines: ["network.client.ip: 192.0.2.10", "evt.name: AuthorizeSecurityGroupIngress"], receivedAt: Fixture.t0)
            ],
            targetHistory: ["#2 2026-05-01 rejected by bob: expected"],
            requestText:
                "POST https://api.example.com/sg/delete\nAuthorization: Bearer ****\nIdempotency-Key: gavel-dfca64e0-62b1-4a56-9d0e-0123456789ab\n\n{\"group\":\"sg-0a1b2c3d4e5f60789\"}",
            attempts: [makeAttempt(number: 1, at: Fixture.t0, status: 503, error: "service unavailable", durationMilliseconds: 120)])
        return d
    }

    @Test func detailBelowFullWidthListAt120x35() {
        let d = Self.sgDetailData()
        let (s, _) = Fixture.session(d, size: (35, 120))
        s.model.tagged[2] = d.remediations[1]
        let frame = s.frame()
        checkShape(frame, rows: 35, cols: 120)
        #expect(frame.text == Self.pending120x35)
    }

    @Test func detailRightOfListFrom150Columns() {
        let d = Self.sgDetailData()
        let (s, _) = Fixture.session(d, size: (30, 160))
        s.press(Key.parseScript("<Enter> j j j")!)  // the focused detail scrolls by wrapped rows
        let frame = s.frame()
        checkShape(frame, rows: 30, cols: 160)
        #expect(frame.text == Self.pending160x30)
        // G scrolls to the last wrapped row: the attempt's error, carried onto its own row.
        s.press(Key.parseScript("G")!)
        let rows = s.frame().text.components(separatedBy: "\n")
        #expect(rows[26].hasSuffix("│   #1 2026-05-28 20:26:40Z (120 ms) HTTP 503 — service"))
        #expect(rows[27].hasSuffix("│     unavailable"))
    }

    static let pending80x24 = #"""
        gavel  alice  127.0.0.1:8787  pend 5 · fail 1 · supp 1 · auto 0       21:26:40Z
         1 Pending   2 History   3 Rules   4 Audit   5 Intake errors   6 In force
          SEV   ID ACTION        TARGET                  RULE                    SIG AGE
          CRIT  #4 delete-secur… sg-0a1b2c3d4e5f60789    Misconfigured security…   1 58m
          HIGH  #2 ban-ip        198.51.100.99           Sign-in from unrecogni…   1  1h
          HIGH  #1 ban-ip        203.0.113.42            evil\x1b[2J\x0d\x0arule   1 59m
          MED   #5 disable-user  shopper.one@example.com Card fraud                2 55m
          LOW   #3 ban-ip        203.0.113.77            Sign-in from unrecogni…   1 58m



        ── detail ──────────────────────────────────────────────────────────────────────
         #1 ban-ip 203.0.113.42  [pending]
         ! hidden or control characters in this remediation are shown escaped
         target: 203.0.113.42 (ip)
         rule: evil\x1b[2J\x0d\x0arule  (new-ip)
         severity: high · signals: 1 · created 2026-05-28 20:27:40Z (59m ago)
         ips: 203.0.113.42
         signals (0):



        Pending: row 3 of 5 loaded
        a approve  r reject  Space tag  A auto  c note  / filter  ? help  q quit
        """#

    static let pending160x30 = #"""
        gavel  alice  127.0.0.1:8787  pending 5 · failed 1 · suppressed 1  auto: 0 rules                                                                      21:26:40Z
         1 Pending   2 History   3 Rules   4 Audit   5 Intake errors   6 In force
          SEV   ID ACTION                TARGET                  RULE                            SIG AGE│ detail (j/k scroll, Esc back)
          CRIT  #4 delete-security-group sg-0a1b2c3d4e5f60789    Misconfigured security group      1 58m│ severity: critical · signals: 1 · created 2026-05-28 20:28:40Z
          HIGH  #2 ban-ip                198.51.100.99           Sign-in from unrecognized IP      1  1h│   (58m ago)
          HIGH  #1 ban-ip                203.0.113.42            Sign-in from unrecognized IP      1 59m│ ips: 192.0.2.10
          MED   #5 disable-user          shopper.one@example.com Card fraud                        2 55m│ this action asks for confirmation
          LOW   #3 ban-ip                203.0.113.77            Sign-in from unrecognized IP      1 58m│ request (secrets masked):
                                                                                                        │   POST https://api.example.com/sg/delete
                                                                                                        │   Authorization: Bearer ****
                                                                                                        │   Idempotency-Key: gavel-dfca64e0-62b1-4a56-9d0e-0123456789ab
                                                                                                        │
                                                                                                        │   {"group":"sg-0a1b2c3d4e5f60789"}
                                                                                                        │ signals (1):
                                                                                                        │   [critical] Security group open to the world
                                                                                                        │     sg-0a1b2c3d4e5f60789 allows 0.0.0.0/0 on port 22, and the
                                                                                                        │       rule fires when an ingress rule opens SSH or RDP to the
                                                                                                        │       whole internet on a group attached to a running instance
                                                                                                        │     second line \x1b]52;c;ZXZpbA==\x07
                                                                                                        │     ips: 192.0.2.10
                                                                                                        │     event: AuthorizeSecurityGroupIngress / success
                                                                                                        │     security groups: sg-0a1b2c3d4e5f60789
                                                                                                        │     actor: arn:aws:iam::123456789012:user/dev
                                                                                                        │     signal id: AAAB-sg · from datadog · received 2026-05-28
                                                                                                        │       20:26:40Z
                                                                                                        │     link: https://app.datadoghq.com/security?query=%40workflow
                                                                                                        │       .rule.type%3A%22Signal%20Correlation%22&event=AAAB
                                                                                                        │     network.client.ip: 192.0.2.10
        Pending: row 1 of 5 loaded
        a approve  r reject  Space tag  A auto  c note  Enter detail  Tab view  / filter  ? help  q quit
        """#

    static let pending120x35 = #"""
        gavel  alice  127.0.0.1:8787  pending 5 · failed 1 · suppressed 1  auto: 0 rules                              21:26:40Z
         1 Pending   2 History   3 Rules   4 Audit   5 Intake errors   6 In force   1 tagged
          SEV   ID ACTION                TARGET                  RULE                                                    SIG AGE
          CRIT  #4 delete-security-group sg-0a1b2c3d4e5f60789    Misconfigured security group                              1 58m
        * HIGH  #2 ban-ip                198.51.100.99           Sign-in from unrecognized IP                              1  1h
          HIGH  #1 ban-ip                203.0.113.42            Sign-in from unrecognized IP                              1 59m
          MED   #5 disable-user          shopper.one@example.com Card fraud                                                2 55m
          LOW   #3 ban-ip                203.0.113.77            Sign-in from unrecognized IP                              1 58m








        ── detail ──────────────────────────────────────────────────────────────────────────────────────────────────────────────
         #4 delete-security-group sg-0a1b2c3d4e5f60789  [pending]
         target: sg-0a1b2c3d4e5f60789 (security_group)
         rule: Misconfigured security group  (sg-open)
         severity: critical · signals: 1 · created 2026-05-28 20:28:40Z (58m ago)
         ips: 192.0.2.10
         this action asks for confirmation
         request (secrets masked):
           POST https://api.example.com/sg/delete
           Authorization: Bearer ****
           Idempotency-Key: gavel-dfca64e0-62b1-4a56-9d0e-0123456789ab

           {"group":"sg-0a1b2c3d4e5f60789"}
         signals (1):
           [critical] Security group open to the world
             sg-0a1b2c3d4e5f60789 allows 0.0.0.0/0 on port 22, and the rule fires when an ingress rule opens SSH or RDP to the
               whole internet on a group attached to a running instance
        Pending: row 1 of 5 loaded
        a approve  r reject  Space tag  A auto  c note  Enter detail  Tab view  / filter  ? help  q quit
        """#
}

/// Issue 16: a detail line of a megabyte wraps to the pane's rows ending in `…`, looking only at
/// what the rows can show (the rest is not sanitized or measured at every frame).
@Test func aMegabyteDetailLineWrapsToThePaneEndingInAnEllipsis() {
    let line = DetailLine("    junk: [" + String(repeating: "0, ", count: 350_000) + "0]")
    let rows = ConsoleRenderer.wrap(line, columns: 60, width: DisplayText.defaultWidth)
    #expect(rows.count == ConsoleRenderer.maxWrappedRows)
    #expect(rows.last?.text.hasSuffix("…") == true)
    #expect(rows.allSatisfy { DisplayText.columns($0.text, width: DisplayText.defaultWidth) <= 60 })
    #expect(ConsoleRenderer.cutForWrapping(line.text, columns: 60).count == 60 * ConsoleRenderer.maxWrappedRows + 1)
    let short = "short line"
    #expect(ConsoleRenderer.cutForWrapping(short, columns: 60) == short)
}

/// Issue 16 item 13: the console's detail shows the end of a failed command's stderr under its
/// attempt, escaped.
@Test func aFailedCommandsStderrIsShownUnderItsAttempt() {
    var attempt = makeAttempt(number: 1, at: Fixture.t0, status: 3, error: "exit 3 (stderr: aws: error)", durationMilliseconds: 40)
    attempt.stderr = "calling the API\n\naws: error: \u{1B}[31mInvalidClientTokenId\n"
    let d = ConsoleRendererTests.sgDetailData()
    d.details[4]?.attempts = [attempt]
    let (s, _) = Fixture.session(d, size: (40, 160))
    s.press(Key.parseScript("<Enter> G")!)
    let text = s.frame().text
    #expect(text.contains("#1 2026-05-28 20:26:40Z (40 ms) exit 3 (stderr:"), "\(text)")
    #expect(text.contains("      stderr: calling the API"))
    #expect(text.contains("      stderr: aws: error: \\x1b[31mInvalidClientTokenId"))
    #expect(!text.contains("\u{1B}"))
}
