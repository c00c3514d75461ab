import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

@Suite(.serialized, .enabled(if: TmuxConsole.available, "needs tmux")) struct ConsoleEndToEndTests {
    static let banIP =
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"AQAAAYxk1-example-0001","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_TITLE":"Console login from an IP never seen for this account","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.42"]}},"evt":{"name":"ConsoleLogin","outcome":"success"}}}"#
    static let fraud =
        #"{"SECURITY_RULE_NAME":"Fraudulent Credit Card Authorizations","SECURITY_SIGNAL_ID":"AQAAAYxk1-example-0002","SECURITY_SIGNAL_SEVERITY":"medium","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"shopper.one@example.com"},"evt":{"name":"credit_card_authorization","outcome":"fail"},"network":{"client":{"ip":["198.51.100.23"]}}}}"#
    static let securityGroup =
        #"{"SECURITY_RULE_NAME":"AWS security group open to the world","SECURITY_SIGNAL_ID":"AQAAAYxk1-example-0003","SECURITY_SIGNAL_SEVERITY":"critical","SECURITY_SIGNAL_ATTRIBUTES":{"evt":{"name":"AuthorizeSecurityGroupIngress","outcome":"success"},"requestParameters":{"groupId":"sg-0a1b2c3d4e5f60789"},"userIdentity":{"arn":"arn:aws:iam::111122223333:user/dev-sandbox"},"network":{"client":{"ip":["192.0.2.10"]}}}}"#

    static func config(_ sink: LoopbackSink) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))", "body": { "ip": "{{ip}}", "by": "{{decided_by}}" } } },
            "disable-user": { "target": "user", "http": { "url": "\(sink.url("/disable"))", "body": { "user": "{{user}}" } } },
            "delete-security-group": { "target": "security_group", "http": { "method": "DELETE", "url": "\(sink.url("/sg/{{security_group}}"))", "body": null } } },
          "rules": {
            "Request from unexpected IP address": { "actions": ["ban-ip"] },
            "Fraudulent Credit Card Authorizations": { "actions": ["disable-user"] },
            "AWS security group open to the world": { "actions": ["delete-security-group"] } } }
        """
    }

    @Test func analystTriagesTheThreeScenariosByKeypress() throws {
        let dir = try TemporaryDirectory()
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        try Data(Self.config(sink).utf8).write(to: URL(fileURLWithPath: dir.file("gavel.json")))
        let console = try TmuxConsole(
            folder: dir.path, args: ["--listen", "127.0.0.1:0", "--config", dir.file("gavel.json"), "--by", "e2e-analyst"],
            cols: 100, rows: 30)
        defer { console.kill() }
        let port = try #require(console.listenPort(), "header shows the listen address: \(console.capture())")
        let url = "http://127.0.0.1:\(port)/webhook"
        for body in [Self.securityGroup, Self.banIP, Self.fraud] {
            #expect(try curl(url, body: body).contains(#""duplicate":false"#))
        }
        // The three scenarios appear without a keypress, with their IP / user / group.
        let screen = console.waitFor { $0.contains("203.0.113.42") && $0.contains("shopper.one@") && $0.contains("sg-0a1b2c3d4e") }
        #expect(screen.hasPrefix("gavel"))
        #expect(screen.contains("203.0.113.42"))
        #expect(screen.contains("shopper.one@"))
        #expect(screen.contains("sg-0a1b2c3d4e"))
        // Pending view: critical first (the security group), then high (the ban), then medium (the fraud).
        let lines = screen.split(separator: "\n")
        let sgLine = try #require(lines.firstIndex { $0.contains("sg-0a1b2c3d4e") })
        let banLine = try #require(lines.firstIndex { $0.contains("203.0.113.42") && $0.contains("ban-ip") })
        let fraudLine = try #require(lines.firstIndex { $0.contains("shopper.one@") && $0.contains("disable-user") })
        #expect(sgLine < banLine && banLine < fraudLine)

        // `a` on the ban → exactly one request at the sink.
        console.send("j")
        console.waitFor { $0.contains("#2 ban-ip 203.0.113.42") }
        console.send("a")
        console.waitFor("approved #2")
        for _ in 0..<100 where sink.requests.isEmpty { usleep(30_000) }
        #expect(sink.requests.count == 1)
        let sent = RecordedRequest(sink.requests.first ?? [])
        #expect(sent.target == "/ban")
        #expect(String(decoding: sent.body, as: UTF8.self) == #"{"ip":"203.0.113.42","by":"e2e-analyst"}"#)

        // `r` + reason on the fraud → rejected with that reason.
        console.waitFor { $0.contains("#3 disable-user") }
        console.send("r")
        console.waitFor(timeout: 3) { $0.lowercased().contains("reason") }
        console.send("known good customer", literal: true)
        console.send("Enter")
        console.waitFor("rejected #3")
        let rejected = try GavelBinary.run(["show", "3", "--json", "--db", console.dbPath, "--config", dir.file("gavel.json")])
        let json = try JSONValue.parse(rejected.out)
        #expect(json["state"] == .string("rejected"))
        #expect(json["reason"] == .string("known good customer"))
        #expect(json["decided_by"] == .string("e2e-analyst"))

        // Deleting the security group asks for confirmation first; `n` cancels.
        console.send("g")
        console.waitFor { $0.contains("#1 delete-security-group") }
        console.send("a")
        let confirm = console.waitFor(timeout: 3) { $0.contains("sg-0a1b2c3d4e5f60789") && $0.contains("y") && $0.lowercased().contains("confirm") }
        #expect(confirm.lowercased().contains("confirm"))
        console.send("n")
        usleep(300_000)
        #expect(sink.requests.count == 1)

        // `A` on the ban's rule + `y` → the next signal of that rule is dispatched with no key.
        console.send("1")
        console.send("G")
        console.waitFor { $0.contains("#1 delete-security-group") }
        try switchRuleToAuto(console, rule: "Fraudulent", sink: sink, url: url)
    }

    private func switchRuleToAuto(_ console: TmuxConsole, rule: String, sink: LoopbackSink, url: String) throws {
        // Rules view, select the fraud rule, A, confirm with y.
        console.send("3")
        console.waitFor("Fraudulent Credit Card")
        for _ in 0..<5 {
            if console.capture().split(separator: "\n").contains(where: {
                $0.contains("›") && $0.contains(rule) || $0.hasPrefix(">") && $0.contains(rule)
            }) {
                break
            }
            console.send("j")
            usleep(100_000)
        }
        // Select by filtering to the rule, which also works whatever the row order is.
        console.send("/")
        console.send(rule, literal: true)
        console.send("Enter")
        usleep(200_000)
        console.send("A")
        let confirm = console.waitFor(timeout: 3) { $0.contains("disable-user") && $0.lowercased().contains("auto") && $0.contains("y") }
        #expect(confirm.lowercased().contains("auto"))
        console.send("y")
        console.waitFor { $0.contains("auto: 1 rule") }
        let next = Self.fraud.replacingOccurrences(of: "AQAAAYxk1-example-0002", with: "AQAAAYxk1-example-0012")
            .replacingOccurrences(of: "shopper.one@example.com", with: "shopper.nine@example.com")
        _ = try curl(url, body: next)
        for _ in 0..<100 where !sink.requests.contains(where: { RecordedRequest($0).target == "/disable" }) { usleep(30_000) }
        let disable = sink.requests.map(RecordedRequest.init).filter { $0.target == "/disable" }
        #expect(disable.count == 1)
        #expect(String(decoding: disable.first?.body ?? [], as: UTF8.self) == #"{"user":"shopper.nine@example.com"}"#)
    }

    @Test func hostileRuleNameIsDrawnAsVisibleEscapesAndTheLayoutHolds() throws {
        let dir = try TemporaryDirectory()
        let console = try TmuxConsole(folder: dir.path, args: ["--listen", "127.0.0.1:0"], cols: 100, rows: 30)
        defer { console.kill() }
        let port = try #require(console.listenPort())
        let hostile =
            #"{"SECURITY_RULE_NAME":"evil\u001b[2J\u001b]0;pwned\u0007\r\n[approved] fake\u202Erule","SECURITY_SIGNAL_ID":"h1","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_TITLE":"\u009b31mred\u200b","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.99"]}},"usr":{"id":"bob\u001b]52;c;ZXZpbA==\u0007"}}}"#
        _ = try curl("http://127.0.0.1:\(port)/webhook", body: hostile)
        let screen = console.waitFor { $0.contains("203.0.113.99") }
        #expect(screen.contains(#"evil\x1b[2J"#))
        #expect(!screen.split(separator: "\n").contains { $0.hasPrefix("[approved] fake") })
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first?.hasPrefix("gavel") == true)
        #expect(lines.count >= 29)
        // Every list row keeps the pane divider in the same column.
        let dividers = Set(
            lines.dropFirst(3).prefix(10).compactMap { line -> Int? in
                guard let i = line.firstIndex(of: "│") else { return nil }
                return line.distance(from: line.startIndex, to: i)
            })
        #expect(dividers.count <= 1)
        console.send("q")
        for _ in 0..<100 where console.exitLine == nil { usleep(30_000) }
        #expect(console.exitLine == "gavel-exited-0")
    }

    @Test(arguments: ["C-c", "SIGTERM"])
    func ctrlCAndSIGTERMQuitCleanly(_ how: String) throws {
        let dir = try TemporaryDirectory()
        let console = try TmuxConsole(folder: dir.path, args: ["--listen", "127.0.0.1:0"], cols: 80, rows: 24)
        defer { console.kill() }
        console.waitFor("Pending")
        if how == "C-c" {
            console.send("C-c")
        } else {
            let gavel = try #require(console.gavelPID())
            kill(gavel, SIGTERM)
        }
        for _ in 0..<200 where console.exitLine == nil { usleep(25_000) }
        #expect(console.exitLine == "gavel-exited-0")
        // endwin ran: the console's screen is gone and the shell's output shows on the normal screen.
        let after = console.waitFor("after-exit")
        #expect(after.contains("after-exit"))
        #expect(!after.contains("1 Pending   2 History"))
    }

    @Test func consoleExitsWhenItsTerminalGoesAway() throws {
        let dir = try TemporaryDirectory()
        let console = try TmuxConsole(folder: dir.path, args: ["--listen", "127.0.0.1:0"], cols: 80, rows: 24)
        console.waitFor("Pending")
        let gavel = try #require(console.gavelPID())
        console.kill()  // the pty closes under the running console
        var alive = true
        for _ in 0..<200 where alive {
            usleep(25_000)
            alive = kill(gavel, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(gavel)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
        }
        #expect(!alive, "gavel console kept running (spinning) after its terminal closed")
        if alive { kill(gavel, SIGKILL) }
    }

    @Test func portInUseSaysHowToAttach() throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let r = try GavelBinary.run(["console", "--listen", "127.0.0.1:\(serve.port)", "--db", serve.dbPath])
        #expect(r.status == 1)
        #expect(r.err.contains("already in use"))
        #expect(r.err.contains("--no-receiver"))
    }
}
