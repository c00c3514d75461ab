import Foundation
import Testing

@testable import GavelCore

@Suite struct CLITests {
    /// The usage lines of DESIGN.md's contract, verbatim.
    static let contract = [
        "gavel [console]  [--listen HOST:PORT] [--no-receiver] [--read-only]",
        "gavel serve      [--listen HOST:PORT] [--insecure]",
        "gavel dispatch   [--once]",
        "gavel signals    [--json] [--limit N]",
        "gavel list       [--state STATE] [--rule RULE] [--json] [--limit N]",
        "gavel show ID    [--json]",
        "gavel approve ID... [--by NAME]",
        "gavel reject  ID... --reason TEXT [--false-positive] [--by NAME]",
        "gavel retry   ID... [--by NAME]",
        "gavel rules      [--json]",
        "gavel auto (RULE | --all) (on|off|dry-run)",
        "gavel audit      [--json] [--limit N]",
        "gavel demo       [--to BASE_URL]",
        "gavel --version | gavel help [VERB]",
    ]

    @Test(
        arguments: zip(
            ["console", "serve", "dispatch", "signals", "list", "show", "approve", "reject", "retry", "rules", "auto", "audit", "demo", "help"],
            contract))
    func helpOfEveryVerbMatchesTheContract(verb: String, usage: String) throws {
        let r = try GavelBinary.run(["help", verb])
        #expect(r.status == 0)
        #expect(r.out.contains("Usage: " + usage))
        #expect(r.out.contains("--db PATH"))
        #expect(r.out.contains("--config PATH"))
    }

    /// A supervisor's SIGTERM sent the moment serve says "listening on" shuts it down cleanly
    /// (exit 0): the handlers are installed before the announcement (found by the issue 16
    /// attacker pass: a SIGTERM in that window could be lost for good).
    @Test func serveExitsCleanlyOnASIGTERMRightAfterListening() throws {
        for _ in 0..<5 {
            let serve = try ServeProcess()
            defer { serve.cleanup() }
            #expect(serve.stop() == 0)
            #expect(serve.process.terminationReason == .exit)
        }
    }

    @Test func overviewListsEveryVerbAndVersionPrints() throws {
        let r = try GavelBinary.run(["help"])
        for line in Self.contract { #expect(r.out.contains(line)) }
        #expect(try GavelBinary.run(["--version"]).out.hasPrefix("gavel "))
    }

    @Test func usageErrorsExit2AndNameTheFlag() throws {
        let folder = NSTemporaryDirectory() + "gavel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = folder + "/g.db"
        let cases: [([String], String)] = [
            (["list", "--bogus", "--db", db], "--bogus"),
            (["list", "--limit", "-3", "--db", db], "--limit"),
            (["list", "--state", "done", "--db", db], "--state"),
            (["reject", "1", "--db", db], "--reason"),
            (["approve", "abc", "--db", db], "abc"),
            (["auto", "Some rule", "sideways", "--db", db], "on, off or dry-run"),
            (["serve", "--listen", "nonsense", "--db", db], "--listen"),
            (["serve", "--listen", "0.0.0.0:0", "--db", db], "--insecure"),
            (["frobnicate"], "frobnicate"),
            (["list", "--db", folder + "/typo.db"], "no database at"),
            (["list", "--db", folder], "is a directory"),
            (["list", "--db", ""], "--db"),
            (["dispatch", "--once", "--db", folder + "/typo.db"], "no database at"),
            (["signals", "--db", db, "--config", folder + "/missing.json"], "config"),
        ]
        for (args, needle) in cases {
            let r = try GavelBinary.run(args)
            #expect(r.status == 2, "\(args): \(r.err)")
            #expect(r.err.contains(needle), "\(args): \(r.err)")
        }
        try Data(#"{"actions":{"ban-ip":{"target":"ip","http":{"url":"ftp://x"}}}}"#.utf8).write(to: URL(fileURLWithPath: folder + "/bad.json"))
        let bad = try GavelBinary.run(["rules", "--db", db, "--config", folder + "/bad.json"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("actions.ban-ip.http.url"))
    }

    @Test func decisionsAreCompareAndSetAndNameWhoDecided() throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let body = #"{"SECURITY_RULE_NAME":"Fraud","SECURITY_SIGNAL_ID":"x1","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"mallory@example.com"}}}"#
        let post = try curl(serve.baseURL + "/webhook", body: body)
        #expect(post.contains(#""remediations":[1]"#))
        let first = try GavelBinary.run(["reject", "1", "--reason", "known customer", "--by", "alice", "--db", serve.dbPath])
        #expect(first.status == 0)
        let second = try GavelBinary.run(["approve", "1", "--by", "bob", "--db", serve.dbPath])
        #expect(second.status == 1)
        #expect(second.err.contains("already rejected by alice"))
        #expect(second.err.contains("known customer"))
        // Payload text cannot start a fake line in CLI output.
        let forged =
            #"{"SECURITY_RULE_NAME":"Rule A\nstate:     approved","SECURITY_SIGNAL_ID":"x2","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"eve@example.com"}}}"#
        _ = try curl(serve.baseURL + "/webhook", body: forged)
        let shown = try GavelBinary.run(["show", "2", "--db", serve.dbPath]).out
        #expect(shown.contains(#"Rule A\x0astate:"#))
        #expect(!shown.split(separator: "\n").contains { $0.hasPrefix("state:     approved") })
        let show = try GavelBinary.run(["show", "1", "--json", "--db", serve.dbPath])
        let json = try JSONValue.parse(show.out)
        #expect(json["state"] == .string("rejected"))
        #expect(json["reason"] == .string("known customer"))
        let audit = try GavelBinary.run(["audit", "--json", "--db", serve.dbPath])
        #expect(audit.out.contains(#""actor":"alice","action":"reject""#))
        #expect(try GavelBinary.run(["show", "99", "--db", serve.dbPath]).status == 1)
        // The queue is visible to Prometheus.
        let metrics = try curlGet(serve.baseURL + "/metrics")
        #expect(metrics.contains(#"gavel_remediations{state="rejected"} 1"#))
        #expect(metrics.contains("gavel_signals_stored_total 2"))
        #expect(metrics.contains("gavel_auto_dispatch_enabled 1"))
    }

    @Test func autoOnDispatchesTheNextSignalOfThatRuleWithNoApproval() throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let rule = "Request from unexpected IP address"
        // A rule that has not sent a signal yet is refused unless asked for explicitly (a typo must not pass).
        let typo = try GavelBinary.run(["auto", rule, "on", "--by", "alice", "--db", serve.dbPath])
        #expect(typo.status == 1)
        #expect(typo.err.contains("--new"))
        #expect(try GavelBinary.run(["auto", rule, "on", "--new", "--by", "alice", "--db", serve.dbPath]).status == 0)
        let rules = try GavelBinary.run(["rules", "--json", "--db", serve.dbPath]).out
        #expect(rules.contains(#""mode":"auto""#))
        _ = try curl(
            serve.baseURL + "/webhook",
            body:
                #"{"SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_ID":"auto1","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.9"]}}}}"#
        )
        var line: String?
        for _ in 0..<100 where line == nil {
            line = (try? String(contentsOfFile: serve.folder + "/gavel-outbox.jsonl", encoding: .utf8))?.split(separator: "\n").first.map(String.init)
            if line == nil { usleep(20_000) }
        }
        let sent = try JSONValue.parse(try #require(line))
        #expect(sent["target"] == .string("203.0.113.9"))
        #expect(sent["body"]?["decided_by"] == .string("auto:\(rule)"))
        let list = try GavelBinary.run(["list", "--state", "dispatched", "--json", "--db", serve.dbPath]).out
        #expect(list.contains(#""decided_by":"auto:\#(rule)""#))
        // The kill switch stops the next one.
        #expect(try GavelBinary.run(["auto", "--all", "off", "--db", serve.dbPath]).status == 0)
        _ = try curl(
            serve.baseURL + "/webhook",
            body:
                #"{"SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_ID":"auto2","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.10"]}}}}"#
        )
        usleep(500_000)
        let pending = try GavelBinary.run(["list", "--state", "pending", "--json", "--db", serve.dbPath]).out
        #expect(pending.contains("203.0.113.10"))
    }
}

/// POSTs JSON with curl, as Datadog would; returns the response body.
func curl(_ url: String, body: String, headers: [String] = []) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "-X", "POST", "-H", "Content-Type: application/json"] + headers.flatMap { ["-H", $0] } + ["--data-binary", body, url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// GETs a URL with curl; returns the body.
func curlGet(_ url: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
