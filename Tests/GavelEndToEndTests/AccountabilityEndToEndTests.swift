import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14 end to end: the built binary, a real loopback sink, the real outbox, `sqlite3` on
/// the database file, and the console in tmux.
@Suite(.serialized) struct AccountabilityEndToEndTests {
    static let sgSignal =
        #"{"SECURITY_RULE_NAME":"SG open to the world","SECURITY_SIGNAL_ID":"g1","SECURITY_SIGNAL_ATTRIBUTES":{"requestParameters":{"groupId":"sg-0a1b2c3d4e5f60789"}}}"#

    static func banSignal(_ id: String, ip: String, rule: String = "Request from unexpected IP address") -> String {
        #"{"SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
    }

    /// Deleting a security group goes to the sink; the built-in's `confirm`, `irreversible` and
    /// two approvals are kept (only `http` is redefined).
    static func config(_ sink: LoopbackSink, extra: String = "") -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "http": { "url": "\(sink.url("/ban"))" } \(extra) },
            "delete-security-group": { "http": { "method": "DELETE", "url": "\(sink.url("/sg/{{security_group}}"))", "body": null } } } }
        """
    }

    func json(_ args: [String]) throws -> JSONValue { try JSONValue.parse(try GavelBinary.run(args).out) }

    func state(_ id: Int, _ db: [String]) throws -> String? { try json(["show", String(id), "--json"] + db)["state"]?.scalarText }

    func waitForState(_ id: Int, _ db: [String], _ wanted: String, seconds: Double = 10) throws -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        var now = try state(id, db)
        while now != wanted && Date() < deadline {
            usleep(50_000)
            now = try state(id, db)
        }
        return now
    }

    @Test func twoAnalystsApproveAnIrreversibleActionAndItIsSentOnce() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        _ = try curl(serve.baseURL + "/webhook", body: Self.sgSignal)
        // Without a terminal and without --yes: exit 2, nothing recorded.
        let unconfirmed = try GavelBinary.run(["approve", "1", "--by", "alice"] + db)
        #expect(unconfirmed.status == 2 && unconfirmed.err.contains("--yes") && unconfirmed.err.contains("sg-0a1b2c3d4e5f60789"))
        #expect(try json(["show", "1", "--json"] + db)["approvals"] == .array([]))
        // The first approval leaves it pending and says who is still needed.
        let first = try GavelBinary.run(["approve", "1", "--by", "alice", "--yes"] + db)
        #expect(first.status == 0 && first.out.contains("1 of 2 approvals (alice, ") && first.out.contains("another analyst must approve it"))
        #expect(try state(1, db) == "pending")
        // The same analyst again: refused, by name, and still one approval.
        let again = try GavelBinary.run(["approve", "1", "--by", "alice", "--yes"] + db)
        #expect(again.status == 1 && again.err.contains("alice") && again.err.contains("already approved"))
        // $GAVEL_ANALYST names the analyst when --by is absent.
        let second = try GavelBinary.run(["approve", "1", "--yes"] + db, environment: ["GAVEL_ANALYST": "bob"])
        #expect(second.status == 0 && second.out.contains("approved: 1 (by bob)"), "\(second)")
        #expect(try waitForState(1, db, "dispatched") == "dispatched")
        usleep(300_000)
        #expect(sink.requests.count == 1)
        #expect(RecordedRequest(sink.requests[0]).method == "DELETE" && RecordedRequest(sink.requests[0]).target == "/sg/sg-0a1b2c3d4e5f60789")
        let shown = try json(["show", "1", "--json"] + db)
        #expect(shown["decided_by"] == .string("bob"))
        guard case .array(let approvals)? = shown["approvals"] else {
            Issue.record("no approvals list: \(shown)")
            return
        }
        #expect(approvals.map { $0["analyst"] } == [.string("alice"), .string("bob")])
        #expect(approvals.allSatisfy { $0["at"]?.scalarText?.hasSuffix("Z") == true })
        let text = try GavelBinary.run(["show", "1"] + db).out
        #expect(text.contains("approvals: 2 of 2 (alice, ") && text.contains("; bob, "))
    }

    @Test func theSameAnalystTwiceSendsNothingAndARejectionAfterOneApprovalEndsIt() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        _ = try curl(serve.baseURL + "/webhook", body: Self.sgSignal)
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["approve", "1", "--by", " alice ", "--yes"] + db).status == 1)
        // --by wins over $GAVEL_ANALYST; an unusable $GAVEL_ANALYST is named.
        let badName = try GavelBinary.run(["reject", "1", "--reason", "r"] + db, environment: ["GAVEL_ANALYST": "auto:me"])
        #expect(badName.status == 2 && badName.err.contains("$GAVEL_ANALYST"))
        let reject = try GavelBinary.run(
            ["reject", "1", "--reason", "the group is the bastion's", "--by", "carol"] + db, environment: ["GAVEL_ANALYST": "mallory"])
        #expect(reject.status == 0 && reject.out.contains("(by carol)"), "\(reject.err)")
        #expect(try state(1, db) == "rejected")
        #expect(try GavelBinary.run(["approve", "1", "--by", "bob", "--yes"] + db).status == 1)
        sleep(1)
        #expect(sink.requests.isEmpty)
        let audit = try GavelBinary.run(["audit", "--json"] + db).out
        #expect(audit.contains("1 of 2 approvals") && audit.contains("\"reject\""))
    }

    @Test func autoModeLeavesATwoPersonRemediationPendingAndSaysWhy() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        #expect(try GavelBinary.run(["auto", "SG open to the world", "on", "--new", "--by", "alice"] + db).status == 0)
        _ = try curl(serve.baseURL + "/webhook", body: Self.sgSignal)
        sleep(1)
        #expect(try state(1, db) == "pending")
        #expect(sink.requests.isEmpty)
        let shown = try GavelBinary.run(["show", "1"] + db).out
        #expect(shown.contains("auto mode never counts as one"), "\(shown)")
        #expect(shown.contains("approvals: 0 of 2"))
    }

    @Test func aRemediationPendingPastItsTTLExpiresAndIsNeverSent() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink, extra: #", "pending_ttl": "2s""#))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        _ = try curl(serve.baseURL + "/webhook", body: Self.banSignal("t1", ip: "203.0.113.42"))
        #expect(try state(1, db) == "pending")
        sleep(3)
        // Expired by the clock, whether or not the dispatcher's sweep has run yet: the approval is refused.
        let late = try GavelBinary.run(["approve", "1", "--by", "alice"] + db)
        #expect(late.status == 1 && late.err.contains("expired"), "\(late)")
        #expect(try waitForState(1, db, "expired") == "expired")
        sleep(1)
        #expect(sink.requests.isEmpty)
        let audit = try GavelBinary.run(["show", "1", "--json"] + db).out
        #expect(audit.contains("\"expire\""))
        // A new signal for the same target proposes afresh.
        let answer = try curl(serve.baseURL + "/webhook", body: Self.banSignal("t2", ip: "203.0.113.42"))
        #expect(answer.contains("\"remediations\":[2]"), "\(answer)")
        #expect(try state(2, db) == "pending")
    }

    /// `sqlite3` edits and deletes audit rows as anyone with the file could; `--verify` names them.
    @Test func theAuditChainVerifiesAndNamesAnEditedOrDeletedRow() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        for i in 0..<3 { _ = try curl(serve.baseURL + "/webhook", body: Self.banSignal("a\(i)", ip: "203.0.113.\(i + 1)")) }
        #expect(try GavelBinary.run(["reject", "1", "--reason", "known scanner", "--by", "alice"] + db).status == 0)
        #expect(try GavelBinary.run(["note", "2", "looks", "like", "the", "VPN's", "egress", "--by", "bob"] + db).status == 0)
        #expect(try GavelBinary.run(["approve", "3", "--by", "carol"] + db).status == 0)
        _ = try waitForState(3, db, "dispatched")
        serve.stop()
        let fresh = try GavelBinary.run(["audit", "--verify"] + db)
        #expect(fresh.status == 0 && fresh.out.hasPrefix("audit log intact: "), "\(fresh)")
        // The export carries what an auditor needs to recompute every hash with sha256sum.
        let lines = try GavelBinary.run(["audit", "--export"] + db).out.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(lines.count >= 6)
        var previous = String(repeating: "0", count: 64)
        for line in lines {
            #expect(line["previous_hash"]?.scalarText == previous)
            let content = try #require(line["content"]?.scalarText)
            let recomputed = try sha256sum(previous + "\n" + content)
            #expect(line["hash"]?.scalarText == recomputed)
            previous = recomputed
        }
        let rows = try sqlite3(serve.dbPath, "SELECT id FROM audit ORDER BY id").split(separator: "\n").map(String.init)
        let copy = serve.folder + "/copy.db"
        try FileManager.default.copyItem(atPath: serve.dbPath, toPath: copy)
        // An edited row: the chain breaks at that row.
        let edited = rows[2]
        _ = try sqlite3(serve.dbPath, "UPDATE audit SET actor = 'mallory' WHERE id = \(edited)")
        let afterEdit = try GavelBinary.run(["audit", "--verify"] + db)
        #expect(afterEdit.status == 1 && afterEdit.err.contains("entry \(edited):"), "\(afterEdit)")
        // The auditor's script (docs/operations.md), with jq and sha256sum only, agrees on both.
        let head = fresh.out.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let intact = try verifyExport(try GavelBinary.run(["audit", "--export", "--db", copy]).out)
        #expect(intact.status == 0 && intact.out == "intact; head \(head)\n", "\(intact)")
        let broken = try verifyExport(try GavelBinary.run(["audit", "--export"] + db).out)
        #expect(broken.status == 1 && broken.out.hasPrefix("entry \(edited): "), "\(broken)")
        // A deleted row (in the untouched copy): the chain breaks at the row after it.
        _ = try sqlite3(copy, "DELETE FROM audit WHERE id = \(rows[3])")
        let afterDelete = try GavelBinary.run(["audit", "--verify", "--db", copy])
        #expect(afterDelete.status == 1 && afterDelete.err.contains("entry \(rows[4]):"), "\(afterDelete)")
    }

    /// The newcomer pass: under `sudo -u gavel`, the person who ran sudo is the analyst; `show`
    /// says what changed the state apart from who decided; a decision made where ./gavel.json
    /// differs from the configuration in force says so.
    @Test func sudoUserNamesTheAnalystAndShowSeparatesStateFromDecision() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        _ = try curl(serve.baseURL + "/webhook", body: Self.banSignal("u1", ip: "203.0.113.9"))
        let noted = try GavelBinary.run(["note", "1", "checked"] + db, environment: ["SUDO_USER": "dave", "GAVEL_ANALYST": ""])
        #expect(noted.status == 0 && noted.out.contains("by dave"), "\(noted)")
        // A folder whose gavel.json differs from the configuration in force: the decision says so.
        let folder = serve.folder + "/elsewhere"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try #"{"actions": {"ban-ip": {"outbox": {}}}}"#.write(toFile: folder + "/gavel.json", atomically: true, encoding: .utf8)
        let approved = try GavelBinary.run(["approve", "1", "--by", "alice"] + db, cwd: folder)
        #expect(approved.status == 0 && approved.err.contains("note: ./gavel.json differs from the configuration in force"), "\(approved)")
        #expect(try waitForState(1, db, "dispatched") == "dispatched")
        let shown = try GavelBinary.run(["show", "1"] + db).out
        #expect(shown.contains("\nstate:     dispatched since "))
        #expect(shown.contains("\ndecided:   approved by alice at "))
    }

    @Test func theConsoleShowsTheAnalystApprovalsAndNotes() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let db = ["--db", serve.dbPath]
        _ = try curl(serve.baseURL + "/webhook", body: Self.sgSignal)
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["note", "1", "owner is platform team, ticket SEC-1234", "--by", "alice"] + db).status == 0)
        serve.stop()
        let console = try TmuxConsole(folder: serve.folder, args: ["--no-receiver"], cols: 120, rows: 35, environment: ["GAVEL_ANALYST": "bob"])
        defer { console.kill() }
        let screen = console.waitFor("1 of 2 approvals")
        #expect(screen.split(separator: "\n").first?.hasPrefix("gavel  bob  ") == true, "\(screen)")
        #expect(screen.contains("1 of 2 approvals (alice, "))
        #expect(screen.contains("needs a different analyst"))
        #expect(screen.contains("alice: owner is platform team, ticket SEC-1234"))
        // A note from the console, by the analyst in the header.
        console.send("c")
        console.waitFor("note")
        console.send("escalated to on-call", literal: true)
        console.send("Enter")
        let after = console.waitFor("bob: escalated to on-call")
        #expect(after.contains("bob: escalated to on-call"), "\(after)")
        #expect(try GavelBinary.run(["show", "1"] + db).out.contains("bob: escalated to on-call"))
    }
}

/// `sqlite3 PATH SQL`, the way an operator (or an intruder) edits the file.
func sqlite3(_ path: String, _ sql: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = [path, sql]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// The hex SHA-256 of `text` as coreutils' `sha256sum` prints it (what docs/operations.md tells an auditor to use).
func sha256sum(_ text: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    let input = Pipe()
    let out = Pipe()
    p.standardInput = input
    p.standardOutput = out
    try p.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: data, as: UTF8.self).prefix(64))
}

/// Runs scripts/verify-audit-export.sh on an export, as docs/operations.md tells an auditor to.
func verifyExport(_ export: String) throws -> (status: Int32, out: String) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = [root.appendingPathComponent("scripts/verify-audit-export.sh").path]
    let input = Pipe()
    let out = Pipe()
    p.standardInput = input
    p.standardOutput = out
    try p.run()
    input.fileHandleForWriting.write(Data(export.utf8))
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
