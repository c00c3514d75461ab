import Foundation
import GavelCore
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
        data.remediations[0].rule = "evil\u{1B}[2J\r\nrule"
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("j j")!)
        let frame = s.frame()
        checkShape(frame, rows: 24, cols: 80)
        #expect(frame.text == Self.pending80x24)
        let hostileRows = frame.rows.filter { $0.text.contains("evil") }
        #expect(hostileRows.count == 2)  // its list row and its detail line, each on one row
        #expect(hostileRows.allSatisfy { $0.text.contains("evil\\x1b[2J\\x0d\\x0ar") })
    }

    @Test func detailRightOfListAt120x35() {
        let d2 = Fixture.data()
        d2.details[4] = RemediationDetail(row: d2.remediations[3], signals: [SignalCard(id: 9, signalID: "AAAB-sg", title: "Security group open to the world", message: "sg-0a1b2c3d4e5f60789 allows 0.0.0.0/0 on port 22\nsecond line \u{1B}]52;c;ZXZpbA==\u{07}", severity: .critical, ips: ["192.0.2.10"], eventName: "AuthorizeSecurityGroupIngress", eventOutcome: "success", securityGroups: ["sg-0a1b2c3d4e5f60789"], actor: "arn:aws:iam::123456789012:user/dev", link: "https://app.datadoghq.com/security?event=AAAB", attributeLines: ["network.client.ip: 192.0.2.10", "evt.name: AuthorizeSecurityGroupIngress"], receivedAt: Fixture.t0)], targetHistory: ["#2 2026-05-01 rejected by bob: expected"], requestText: "POST https://api.example.com/sg/delete\nAuthorization: Bearer ****\n\n{\"group\":\"sg-0a1b2c3d4e5f60789\"}", attempts: [AttemptRow(number: 1, at: Fixture.t0, status: 503, error: "service unavailable", durationMilliseconds: 120)])
        let (s2, _) = Fixture.session(d2, size: (35, 120))
        s2.model.tagged[2] = d2.remediations[1]
        let frame = s2.frame()
        checkShape(frame, rows: 35, cols: 120)
        #expect(frame.text == Self.pending120x35)
    }

    static let pending80x24 = #"""
gavel  127.0.0.1:8787  pending 5 · failed 1 · suppressed 1  auto: 0 … 21:26:40Z
 1 Pending   2 History   3 Rules   4 Audit   5 Intake errors
  SEV      ID ACTION        TARGET                RULE                  SIG  AGE
  CRIT     #4 delete-secur… sg-0a1b2c3d4e5f60789  Misconfigured securi…   1  58m
  HIGH     #2 ban-ip        198.51.100.99         Sign-in from unrecog…   1   1h
  HIGH     #1 ban-ip        203.0.113.42          evil\x1b[2J\x0d\x0ar…   1  59m
  MED      #5 disable-user  shopper.one@example.… Card fraud              2  55m
  LOW      #3 ban-ip        203.0.113.77          Sign-in from unrecog…   1  58m



── detail ──────────────────────────────────────────────────────────────────────
 #1 ban-ip 203.0.113.42  [pending]
 ! hidden or control characters in this remediation are shown escaped
 target: 203.0.113.42 (ip)
 rule: evil\x1b[2J\x0d\x0arule  (new-ip)
 severity: high · signals: 1 · created 2026-05-28 20:27:40Z (59m ago)
 ips: 203.0.113.42
 signals (0):



Pending: row 3 of 5 loaded
a approve  r reject  Space tag  A auto  Enter detail  / filter  ? help  q quit
"""#

    static let pending120x35 = #"""
gavel  127.0.0.1:8787  pending 5 · failed 1 · suppressed 1  auto: 0 rules                                     21:26:40Z
 1 Pending   2 History   3 Rules   4 Audit   5 Intake errors   1 tagged
  SEV      ID ACTION        TARGET         RULE           SIG  AGE│ detail
  CRIT     #4 delete-secur… sg-0a1b2c3d4e… Misconfigured…   1  58m│ #4 delete-security-group sg-0a1b2c3d4e5f60789  [pen…
* HIGH     #2 ban-ip        198.51.100.99  Sign-in from …   1   1h│ target: sg-0a1b2c3d4e5f60789 (security_group)
  HIGH     #1 ban-ip        203.0.113.42   Sign-in from …   1  59m│ rule: Misconfigured security group  (sg-open)
  MED      #5 disable-user  shopper.one@e… Card fraud       2  55m│ severity: critical · signals: 1 · created 2026-05-2…
  LOW      #3 ban-ip        203.0.113.77   Sign-in from …   1  58m│ ips: 192.0.2.10
                                                                  │ this action asks for confirmation
                                                                  │ request (secrets masked):
                                                                  │   POST https://api.example.com/sg/delete
                                                                  │   Authorization: Bearer ****
                                                                  │
                                                                  │   {"group":"sg-0a1b2c3d4e5f60789"}
                                                                  │ signals (1):
                                                                  │   [critical] Security group open to the world
                                                                  │     sg-0a1b2c3d4e5f60789 allows 0.0.0.0/0 on port 22
                                                                  │     second line \x1b]52;c;ZXZpbA==\x07
                                                                  │     ips: 192.0.2.10
                                                                  │     event: AuthorizeSecurityGroupIngress / success
                                                                  │     security groups: sg-0a1b2c3d4e5f60789
                                                                  │     actor: arn:aws:iam::123456789012:user/dev
                                                                  │     signal id: AAAB-sg · received 2026-05-28 20:26:…
                                                                  │     link: https://app.datadoghq.com/security?event=…
                                                                  │     network.client.ip: 192.0.2.10
                                                                  │     evt.name: AuthorizeSecurityGroupIngress
                                                                  │ target history:
                                                                  │   #2 2026-05-01 rejected by bob: expected
                                                                  │ attempts:
                                                                  │   #1 2026-05-28 20:26:40Z status 503 120 ms — servi…
                                                                  │
                                                                  │
                                                                  │
Pending: row 1 of 5 loaded
a approve  r reject  Space tag  A auto  Enter detail  Tab view  / filter  ? help  q quit
"""#
}
