import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 12 end to end: the built binary, a real loopback sink and a real command.
@Suite(.serialized) struct LifeAfterDispatchEndToEndTests {
    static let rule = "Request from unexpected IP address"

    static func signal(_ id: String, ip: String) -> String {
        #"{"SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
    }

    /// A Cloudflare-style ban: create, then delete by the id the create returned.
    static func config(_ sink: LoopbackSink, duration: String, extra: String = "") -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "target": "ip",
              "http": { "url": "\(sink.url("/client/v4/firewall/access_rules/rules"))",
                        "headers": { "X-Auth": "{{env.TEST_WAF_TOKEN}}" },
                        "body": { "mode": "block", "configuration": { "target": "ip", "value": "{{ip}}" }, "notes": "gavel {{remediation_id}}" } },
              "revert": { "http": { "method": "DELETE", "url": "\(sink.url("/client/v4/firewall/access_rules/rules/{{response.json.result.id}}"))",
                                    "headers": { "X-Auth": "{{env.TEST_WAF_TOKEN}}" }, "body": null } },
              "duration": "\(duration)" \(extra) } } }
        """
    }

    static let created = Array(#"{"success":true,"result":{"id":"rule-42"}}"#.utf8)

    func waitFor(_ sink: LoopbackSink, _ count: Int, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while sink.requests.count < count && Date() < deadline { usleep(20_000) }
    }

    func json(_ args: [String]) throws -> JSONValue { try JSONValue.parse(try GavelBinary.run(args).out) }

    @Test func aBanWithADurationIsRevertedAfterItWithTheValueItsResponseGave() throws {
        let sink = try LoopbackSink([.status(200, body: Self.created), .status(200, body: Array("{}".utf8))])
        defer { sink.stop() }
        let serve = try ServeProcess(environment: ["TEST_WAF_TOKEN": "tok-9"], config: Self.config(sink, duration: "2s"))
        defer { serve.cleanup() }
        #expect(try curl(serve.baseURL + "/webhook", body: Self.signal("d1", ip: "203.0.113.42")).contains("\"remediations\":[1]"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        waitFor(sink, 1, seconds: 10)
        let banAt = Date()
        let active = try json(["active", "--json", "--db", serve.dbPath])
        guard case .array(let rows) = active, let first = rows.first else {
            Issue.record("gavel active --json: \(active)")
            return
        }
        #expect(first["id"] == .number("1") && first["target"] == .string("203.0.113.42") && first["action"] == .string("ban-ip"))
        #expect(first["since"]?.scalarText != nil && first["expires_at"]?.scalarText != nil && first["revert"] == .string("revert configured"))
        #expect(first["time_left_seconds"]?.scalarText.flatMap(Int.init).map { $0 <= 2 } == true)
        waitFor(sink, 2, seconds: 10)
        #expect(sink.requests.count == 2)
        #expect(Date().timeIntervalSince(banAt) >= 1.0)
        let ban = RecordedRequest(sink.requests[0])
        #expect(ban.method == "POST" && ban.target == "/client/v4/firewall/access_rules/rules")
        #expect(ban.values("X-Auth") == ["tok-9"])
        #expect(
            String(decoding: ban.body, as: UTF8.self)
                == #"{"mode":"block","configuration":{"target":"ip","value":"203.0.113.42"},"notes":"gavel 1"}"#)
        let revert = RecordedRequest(sink.requests[1])
        #expect(revert.method == "DELETE" && revert.target == "/client/v4/firewall/access_rules/rules/rule-42")
        #expect(revert.values("X-Auth") == ["tok-9"] && revert.body.isEmpty)
        #expect(revert.values("Idempotency-Key") == [(ban.values("Idempotency-Key").first ?? "") + "-revert"])
        // Reverted, with audit rows for both.
        for _ in 0..<50 where (try? json(["show", "1", "--json", "--db", serve.dbPath]))?["state"] != .string("reverted") { usleep(50_000) }
        let shown = try json(["show", "1", "--json", "--db", serve.dbPath])
        #expect(shown["state"] == .string("reverted"))
        guard case .array(let audit)? = shown["audit"] else { return }
        let actions = audit.compactMap { $0["action"]?.scalarText }
        #expect(actions.contains("dispatch") && actions.contains("revert") && actions.contains("revert-dispatch"))
        // The secret never reached the database.
        let raw = try Data(contentsOf: URL(fileURLWithPath: serve.dbPath))
        #expect(raw.range(of: Data("tok-9".utf8)) == nil)
    }

    @Test func revertAndExtendByHandAndAnIrreversibleActionIsRefused() throws {
        let sink = try LoopbackSink([.status(200, body: Self.created)])
        defer { sink.stop() }
        let serve = try ServeProcess(environment: ["TEST_WAF_TOKEN": "t"], config: Self.config(sink, duration: "4h"))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        for (i, ip) in ["203.0.113.1", "203.0.113.2"].enumerated() {
            _ = try curl(serve.baseURL + "/webhook", body: Self.signal("h\(i)", ip: ip))
        }
        #expect(try GavelBinary.run(["approve", "1", "2", "--by", "alice"] + db).status == 0)
        waitFor(sink, 2, seconds: 10)
        for _ in 0..<50 where (try? json(["show", "2", "--json"] + db))?["state"] != .string("dispatched") { usleep(50_000) }
        let before = try #require(try json(["show", "2", "--json"] + db)["expires_at"]?.scalarText)
        #expect(try GavelBinary.run(["extend", "2", "1h", "--by", "bob"] + db).status == 0)
        let after = try #require(try json(["show", "2", "--json"] + db)["expires_at"]?.scalarText)
        #expect(after > before)
        let revert = try GavelBinary.run(["revert", "1", "--reason", "false positive: carrier NAT", "--by", "bob"] + db)
        #expect(revert.status == 0, "\(revert.err)")
        waitFor(sink, 3, seconds: 10)
        #expect(RecordedRequest(sink.requests.last ?? []).method == "DELETE")
        #expect(try GavelBinary.run(["revert", "1", "--by", "bob"] + db).status == 2)  // --reason is required
        // A security group deletion cannot be reverted: the message says so.
        _ = try curl(
            serve.baseURL + "/webhook",
            body:
                #"{"SECURITY_RULE_NAME":"SG","SECURITY_SIGNAL_ID":"g1","SECURITY_SIGNAL_ATTRIBUTES":{"requestParameters":{"groupId":"sg-0a1b2c3d4e5f60789"}}}"#
        )
        // Deleting a security group needs confirmation (--yes without a terminal) and two analysts.
        #expect(try GavelBinary.run(["approve", "3", "--by", "alice", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["approve", "3", "--by", "bob", "--yes"] + db).status == 0)
        for _ in 0..<50 where (try? json(["show", "3", "--json"] + db))?["state"] != .string("dispatched") { usleep(50_000) }
        let refused = try GavelBinary.run(["revert", "3", "--reason", "oops", "--by", "bob"] + db)
        #expect(refused.status == 1 && refused.err.contains("irreversible"), "\(refused.err)")
    }

    @Test func aRevertDueWhileGavelWasStoppedIsSentOnceWhenItStarts() throws {
        let sink = try LoopbackSink([.status(200, body: Self.created), .status(204)])
        defer { sink.stop() }
        let folder = NSTemporaryDirectory() + "gavel-e2e-restart-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = folder + "/gavel.db"
        try Data(Self.config(sink, duration: "2s").utf8).write(to: URL(fileURLWithPath: folder + "/gavel.json"))
        let first = try ServeProcess(
            extraArgs: ["--config", folder + "/gavel.json"], environment: ["TEST_WAF_TOKEN": "t"], database: db, cwd: folder)
        _ = try curl(first.baseURL + "/webhook", body: Self.signal("k1", ip: "203.0.113.9"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", db]).status == 0)
        waitFor(sink, 1, seconds: 10)
        usleep(300_000)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        sleep(3)  // the ban expires while gavel is stopped
        #expect(sink.requests.count == 1)
        let second = try ServeProcess(
            extraArgs: ["--config", folder + "/gavel.json"], environment: ["TEST_WAF_TOKEN": "t"], database: db, cwd: folder)
        defer { second.stop() }
        waitFor(sink, 2, seconds: 10)
        sleep(2)  // and nothing more comes
        #expect(sink.requests.count == 2)
        #expect(RecordedRequest(sink.requests[1]).target.hasSuffix("/rule-42"))
    }

    @Test func aWithdrawnApprovalInItsGraceIsNeverSent() throws {
        let sink = try LoopbackSink([.status(200, body: Self.created)])
        defer { sink.stop() }
        let serve = try ServeProcess(environment: ["TEST_WAF_TOKEN": "t"], config: Self.config(sink, duration: "4h", extra: #", "grace": "5s""#))
        defer { serve.cleanup() }
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("w1", ip: "203.0.113.5"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        let shown = try GavelBinary.run(["show", "1", "--db", serve.dbPath]).out
        #expect(shown.contains("sends at:"))
        let withdrawn = try GavelBinary.run(["withdraw", "1", "--by", "alice", "--db", serve.dbPath])
        #expect(withdrawn.status == 0, "\(withdrawn.err)")
        sleep(6)
        #expect(sink.requests.isEmpty)
        #expect(try json(["show", "1", "--json", "--db", serve.dbPath])["state"] == .string("pending"))
    }

    @Test func aSecondSignalForABannedIPInAutoSendsNoSecondBan() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let config = """
            { "allow_internal_action_urls": true,
              "actions": { "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))" } } },
              "rules": { "\(Self.rule)": { "mode": "auto" } } }
            """
        let serve = try ServeProcess(config: config)
        defer { serve.cleanup() }
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("a1", ip: "203.0.113.77"))
        waitFor(sink, 1, seconds: 10)
        usleep(500_000)
        let second = try curl(serve.baseURL + "/webhook", body: Self.signal("a2", ip: "203.0.113.77"))
        #expect(second.contains("\"remediations\":[1]"))
        sleep(2)
        #expect(sink.requests.count == 1)
    }

    @Test func allowlistingABannedIPProposesItsRevert() throws {
        let sink = try LoopbackSink([.status(200, body: Self.created)])
        defer { sink.stop() }
        let serve = try ServeProcess(environment: ["TEST_WAF_TOKEN": "t"], config: Self.config(sink, duration: "4h"))
        defer { serve.cleanup() }
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("l1", ip: "203.0.113.88"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        waitFor(sink, 1, seconds: 10)
        for _ in 0..<50 where (try? json(["show", "1", "--json", "--db", serve.dbPath]))?["state"] != .string("dispatched") { usleep(50_000) }
        let added = try GavelBinary.run(["allowlist", "add", "203.0.113.88", "--reason", "partner's egress", "--by", "carol", "--db", serve.dbPath])
        #expect(added.status == 0 && added.out.contains("revert proposed for remediation 1"), "\(added.out) \(added.err)")
        #expect(try json(["show", "1", "--json", "--db", serve.dbPath])["state"] == .string("revert-pending"))
        #expect(sink.requests.count == 1)  // for an analyst: nothing is sent by itself
    }

    @Test func aCommandActionAndItsRevertRunWithOneArgumentPerValue() throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("argv.log")
        let nft = try dir.script("nft.sh", "#!/bin/sh\nprintf '%s|' \"$@\" >> '\(log)'\nprintf '\\n' >> '\(log)'\n")
        let config = """
            { "actions": { "ban-ip": { "target": "ip",
                "command": { "argv": ["\(nft)", "add", "element", "inet", "filter", "gavel_ban", "--", "{ {{ip}} }"] },
                "revert": { "command": { "argv": ["\(nft)", "delete", "element", "inet", "filter", "gavel_ban", "--", "{ {{ip}} }"] } },
                "duration": "1s" } } }
            """
        let serve = try ServeProcess(config: config)
        defer { serve.cleanup() }
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("c1", ip: "198.51.100.61"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        let deadline = Date().addingTimeInterval(10)
        var text = ""
        while Date() < deadline {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").count >= 2 { break }
            usleep(50_000)
        }
        #expect(
            text == "add|element|inet|filter|gavel_ban|--|{ 198.51.100.61 }|\ndelete|element|inet|filter|gavel_ban|--|{ 198.51.100.61 }|\n")
    }
}

@Suite(.serialized, .enabled(if: TmuxConsole.available, "needs tmux")) struct InForceConsoleEndToEndTests {
    @Test func theInForceViewCountsDownAndRevertsByKey() throws {
        let dir = try TemporaryDirectory()
        let sink = try LoopbackSink([.status(200, body: LifeAfterDispatchEndToEndTests.created), .status(204)])
        defer { sink.stop() }
        try Data(LifeAfterDispatchEndToEndTests.config(sink, duration: "4h").utf8).write(to: URL(fileURLWithPath: dir.file("gavel.json")))
        let console = try TmuxConsole(
            folder: dir.path, args: ["--listen", "127.0.0.1:0", "--config", dir.file("gavel.json"), "--by", "erin"], cols: 120, rows: 45,
            environment: ["TEST_WAF_TOKEN": "t"])
        defer { console.kill() }
        let port = try #require(console.listenPort(), "\(console.capture())")
        _ = try curl("http://127.0.0.1:\(port)/webhook", body: LifeAfterDispatchEndToEndTests.signal("v1", ip: "203.0.113.66"))
        console.waitFor { $0.contains("203.0.113.66") }
        console.send("a")
        console.waitFor("approved #1")
        for _ in 0..<200 where sink.requests.isEmpty { usleep(20_000) }
        console.send("6")
        let view = console.waitFor { $0.contains("TIME LEFT") && $0.contains("203.0.113.66") && $0.contains("3h 59m") }
        #expect(view.contains("3h 59m"), "\(view)")
        #expect(view.contains("in force 1"))
        #expect(view.contains("revert request (secrets masked):"))
        console.send("x")
        console.waitFor("why revert:")
        console.send("carrier NAT", literal: true)
        console.send("Enter")
        let confirm = console.waitFor("The revert sends:")
        #expect(confirm.contains("to http://127.0.0.1:\(sink.port) (exactly these bytes)"), "\(confirm)")
        #expect(confirm.contains("DELETE /client/v4/firewall/access_rules/rules/rule-42 HTTP/1.1"), "\(confirm)")
        console.send("y")
        console.waitFor("reverting #1")
        for _ in 0..<200 where sink.requests.count < 2 { usleep(20_000) }
        #expect(sink.requests.count == 2)
        #expect(RecordedRequest(sink.requests.last ?? []).method == "DELETE")
    }
}
