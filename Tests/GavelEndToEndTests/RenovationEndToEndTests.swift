import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

/// What the renovation (one remediation, one store) must show, end to end with the built binary.
@Suite(.serialized) struct RenovationEndToEndTests {
    static let banIP =
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_RULE_ID":"def-000-nt1","SECURITY_SIGNAL_ID":"AQAAAYren-0001","SECURITY_SIGNAL_SEVERITY":"critical","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.42"]}}}}"#

    static func config(_ sink: LoopbackSink) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "target": "ip", "http": { "method": "PUT", "url": "\(sink.url("/v1/ban"))?ip={{ip}}&rule={{rule_id}}",
                        "headers": { "X-Requested-By": "gavel {{decided_by}}", "X-Api-Key": "not-shown" },
                        "body": { "address": "{{ip}}", "rule": "{{rule_name}}", "signal": "{{signal_id}}", "by": "{{decided_by}}",
                                  "severity": "{{severity}}", "idempotency_key": "{{idempotency_key}}" } } } } }
        """
    }

    /// Waits (bounded) for `count` requests at the sink.
    func waitForRequests(_ sink: LoopbackSink, _ count: Int, seconds: Double = 10) {
        let deadline = Date().addingTimeInterval(seconds)
        while sink.requests.count < count && Date() < deadline { usleep(20_000) }
    }

    @Test func showPrintsTheExactRequestThatApprovingSends() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        #expect(try curl(serve.baseURL + "/webhook", body: Self.banIP).contains("\"remediations\":[1]"))
        let db = ["--db", serve.dbPath]
        let shown = try GavelBinary.run(["show", "1", "--by", "carol", "--json"] + db)
        #expect(shown.status == 0, "\(shown.err)")
        let request = try #require(try JSONValue.parse(shown.out)["request"]?.scalarText)
        let text = try GavelBinary.run(["show", "1", "--by", "carol"] + db).out
        #expect(text.contains("request (approving sends, secrets masked):"))
        #expect(text.contains("  to http://127.0.0.1:\(sink.port) (exactly these bytes)"))
        #expect(text.contains("  PUT /v1/ban?ip=203.0.113.42&rule=def-000-nt1 HTTP/1.1"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "carol"] + db).status == 0)
        waitForRequests(sink, 1)
        #expect(sink.requests.count == 1)
        // Issue 16 item 14: what the sink received is, byte for byte, what show printed — the
        // fields in the file's order, nothing added (the masked secret put back).
        let lines = request.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "to http://127.0.0.1:\(sink.port) (exactly these bytes)")
        let shownBytes = lines.dropFirst().map { $0 == "X-Api-Key: ****" ? "X-Api-Key: not-shown" : $0 }.joined(separator: "\r\n")
        let sent = RecordedRequest(sink.requests.first ?? [])
        #expect(String(decoding: sink.requests.first ?? [], as: UTF8.self) == shownBytes)
        #expect(
            sent.headers.map(\.name) == ["Host", "X-Requested-By", "X-Api-Key", "Content-Type", "Idempotency-Key", "User-Agent", "Content-Length"])
        #expect(String(decoding: sent.body, as: UTF8.self).contains(#""by":"carol""#))
        // The default User-Agent names the version `gavel --version` prints, not a fixed string.
        let version = try GavelBinary.run(["--version"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.hasPrefix("gavel ") && version.count > "gavel ".count)
        #expect(sent.headers.first { $0.name == "User-Agent" }?.value == "gavel/" + version.dropFirst("gavel ".count))
        // After the approval, show prints the request as bound.
        #expect(try GavelBinary.run(["show", "1"] + db).out.contains("request (bound at approval, secrets masked):"))
    }

    @Test func everyReadVerbRefusesAMissingDatabaseWithExit2AndCreatesNothing() throws {
        let dir = try TemporaryDirectory()
        for args in [["rules"], ["list"], ["signals"], ["audit"], ["show", "1"], ["config", "show"]] {
            for db in ["/no/such/dir/x.db", dir.file("typo.db")] {
                let r = try GavelBinary.run(args + ["--db", db], cwd: dir.path)
                #expect(r.status == 2, "\(args) \(db): \(r.err)")
                #expect(r.err.contains("--db"), "\(args): \(r.err)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/no/such/dir"))
    }

    @Test func aSecondProcessWithoutTheConfigDispatchesByTheConfiguredActionNeverToTheOutbox() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let first = try ServeProcess(config: Self.config(sink))
        defer { first.cleanup() }
        let elsewhere = try TemporaryDirectory()  // no gavel.json here
        let second = try ServeProcess(extraArgs: [], database: first.dbPath, cwd: elsewhere.path)
        defer { second.stop() }
        #expect(second.startupText.contains("configuration version 1 in force (applied by gavel"), "\(second.startupText)")
        // A signal through the second receiver, approved with the CLI from a third folder, no --config.
        let body = Self.banIP.replacingOccurrences(of: "AQAAAYren-0001", with: "AQAAAYren-0002")
        #expect(try curl(second.baseURL + "/webhook", body: body).contains("\"remediations\":[1]"))
        let approve = try GavelBinary.run(["approve", "1", "--by", "dave", "--db", first.dbPath], cwd: elsewhere.path)
        #expect(approve.status == 0, "\(approve.err)")
        waitForRequests(sink, 1)
        #expect(sink.requests.count == 1)
        #expect(RecordedRequest(sink.requests.first ?? []).target.hasPrefix("/v1/ban?ip=203.0.113.42"))
        // The sink records the request before it answers: the outcome is recorded just after.
        var shown = JSONValue.null
        for _ in 0..<50 {
            shown = try JSONValue.parse(try GavelBinary.run(["show", "1", "--json", "--db", first.dbPath], cwd: elsewhere.path).out)
            if shown["state"] == .string("dispatched") { break }
            usleep(100_000)
        }
        #expect(shown["state"] == .string("dispatched") && shown["config_version"] == .number("1"))
        for folder in [first.folder, elsewhere.path] { #expect(!FileManager.default.fileExists(atPath: folder + "/gavel-outbox.jsonl")) }
        // A process whose file differs says so and holds its dispatch until the file is applied.
        let changed = try TemporaryDirectory()
        try Data(#"{"listen": "127.0.0.1:0"}"#.utf8).write(to: URL(fileURLWithPath: changed.file("gavel.json")))
        let third = try ServeProcess(extraArgs: [], database: first.dbPath, cwd: changed.path)
        defer { third.stop() }
        #expect(third.startupText.contains("differs from the configuration in force"), "\(third.startupText)")
        let audit = try GavelBinary.run(["audit", "--db", first.dbPath]).out
        #expect(audit.contains("config-adopt"))
    }

    @Test(.enabled(if: TmuxConsole.available, "needs tmux"))
    func aConsoleApprovalDuringATwentySecondIngestStormSucceeds() throws {
        let dir = try TemporaryDirectory()
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        try Data(Self.config(sink).utf8).write(to: URL(fileURLWithPath: dir.file("gavel.json")))
        let console = try TmuxConsole(
            folder: dir.path, args: ["--listen", "127.0.0.1:0", "--config", dir.file("gavel.json"), "--by", "storm-analyst"], cols: 120,
            rows: 35)
        defer { console.kill() }
        let port = try #require(console.listenPort(), "\(console.capture())")
        #expect(try curl("http://127.0.0.1:\(port)/webhook", body: Self.banIP).contains("\"remediations\":[1]"))
        console.waitFor { $0.contains("203.0.113.42") }
        let storm = SignalStorm(port: port, connections: 4, seconds: 20) { n in
            #"{"SECURITY_RULE_NAME":"Storm","SECURITY_SIGNAL_ID":"storm-\#(n)","SECURITY_SIGNAL_SEVERITY":"low","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["198.51.\#(100 + n % 3).\#(n % 250 + 1)"]}},"usr":{"id":"u\#(n)@example.com"}}}"#
        }
        // Approve once the storm is well under way.
        let started = Date()
        while storm.acceptedSoFar < 200 && Date().timeIntervalSince(started) < 10 { usleep(50_000) }
        usleep(2_000_000)
        console.send("g")
        console.waitFor { $0.contains("#1 ban-ip 203.0.113.42") }
        console.send("a")
        let screen = console.waitFor(timeout: 25) { $0.contains("approved #1") || $0.contains("cannot") || $0.contains("unavailable") }
        let result = storm.wait()
        #expect(screen.contains("approved #1"), "\(screen)")
        #expect(result.accepted > 500, "storm: \(result)")
        waitForRequests(sink, 1)
        #expect(sink.requests.count == 1)
        let shown = try JSONValue.parse(try GavelBinary.run(["show", "1", "--json", "--db", console.dbPath, "--config", dir.file("gavel.json")]).out)
        #expect(shown["decided_by"] == .string("storm-analyst"))
    }
}
