import Foundation
import GavelTestSupport
import Synchronization
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStore
@testable import GavelStoreSQLite

/// A database, a configuration written to a file, and helpers to feed signals and decide.
final class DispatchBench {
    let dir: TemporaryDirectory
    let config: GavelConfig
    var dbPath: String { dir.file("gavel.db") }

    init(configJSON: String?) throws {
        dir = try TemporaryDirectory()
        var path: String?
        if let configJSON {
            path = dir.file("gavel.json")
            try Data(configJSON.utf8).write(to: URL(fileURLWithPath: path!))
        }
        config = try GavelConfig.load(path: path, environment: [:], databasePath: dir.file("gavel.db"))
    }

    func database() throws -> Database { try Database(path: dbPath) }

    /// Stores one signal through the same intake the receiver uses; returns its remediation ids.
    @discardableResult
    func signal(_ json: String, config: GavelConfig? = nil) throws -> [Int64] {
        let db = try database()
        let body = Array(json.utf8)
        let incoming = IncomingSignal(
            signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: nil)
        return try db.writeTransaction { try db.store.intake(incoming, config: config ?? self.config).remediations }
    }

    /// Records a decision the way the console and the CLI do: under this bench's configuration
    /// (an approval binds the request it sends).
    func decide(_ ids: [Int64], _ decision: Decision, by actor: String) throws {
        _ = try database().store.decide(ids, decision, by: actor, config: config, at: .now)
    }

    func state(_ id: Int64) throws -> Remediation { try #require(try database().store.remediation(id: id)) }

    func dispatcher(_ config: GavelConfig? = nil) -> Dispatcher {
        Dispatcher(engine: SQLiteEngine(path: dbPath), config: config ?? self.config, retryPolicy: RetryPolicy(base: 0.01, cap: 0.02))
    }

    /// Runs `dispatch --once` until `id` leaves approved/dispatching (bounded).
    func dispatchUntilSettled(_ id: Int64, _ d: Dispatcher? = nil) throws {
        let d = d ?? dispatcher()
        for _ in 0..<200 {
            _ = try d.runOnce()
            let s = try state(id).state
            if s != .approved && s != .dispatching { return }
            usleep(10_000)
        }
    }
}

func banSignal(_ id: String, ip: String, rule: String = "Request from unexpected IP address") -> String {
    #"{"SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
}

func httpConfig(_ sink: LoopbackSink, extra: String = "", timeout: Double = 2, retries: Int = 3) -> String {
    """
    {
      "allow_internal_action_urls": true,
      \(extra)
      "actions": {
        "ban-ip": {
          "target": "ip",
          "http": {
            "method": "POST",
            "url": "\(sink.url("/ban"))?ip={{ip}}",
            "headers": { "X-Api-Key": "k-123" },
            "body": { "address": "{{ip}}", "rule": "{{rule_name}}", "by": "{{decided_by}}" },
            "timeout_seconds": \(timeout),
            "retries": \(retries)
          }
        }
      },
      "rules": { "Request from unexpected IP address": { "actions": ["ban-ip"] } }
    }
    """
}

@Suite(.serialized) struct DispatcherTests {
    @Test func approvedRemediationSendsExactlyOneRequestAsTheTemplateSays() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        #expect(ids.count == 1)
        try bench.decide(ids, .approve, by: "alice")
        try bench.dispatchUntilSettled(ids[0])
        #expect(sink.requests.count == 1)
        let request = RecordedRequest(sink.requests[0])
        #expect(request.method == "POST")
        #expect(request.target == "/ban?ip=203.0.113.42")
        #expect(request.values("X-Api-Key") == ["k-123"])
        #expect(request.values("Content-Type") == ["application/json"])
        let key = try bench.database().idempotencyKey(id: ids[0])
        #expect(request.values("Idempotency-Key") == [key])
        #expect(
            String(decoding: request.body, as: UTF8.self) == #"{"address":"203.0.113.42","rule":"Request from unexpected IP address","by":"alice"}"#)
        let r = try bench.state(ids[0])
        #expect(r.state == .dispatched)
        #expect(r.attempts == 1)
        #expect(r.lastStatus == 200)
    }

    @Test func serverErrorIsRetriedThenDispatched() throws {
        let sink = try LoopbackSink([.status(500), .status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.dispatchUntilSettled(ids[0])
        let r = try bench.state(ids[0])
        #expect(r.state == .dispatched)
        #expect(r.attempts == 2)
        let attempts = try bench.database().attempts(remediation: ids[0])
        #expect(attempts.map(\.status) == [500, 200])
        #expect(attempts.map(\.outcome) == [.retry, .success])
        #expect(sink.requests.count == 2)
        let keys = Set(sink.requests.map { RecordedRequest($0).values("Idempotency-Key") })
        #expect(keys.count == 1)
    }

    @Test func clientErrorFailsAfterOneAttempt() throws {
        let sink = try LoopbackSink([.status(400)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.dispatchUntilSettled(ids[0])
        let r = try bench.state(ids[0])
        #expect(r.state == .failed)
        #expect(r.attempts == 1)
        #expect(r.lastStatus == 400)
        #expect(sink.requests.count == 1)
        // A failed remediation is sent again only when an analyst retries it.
        try bench.decide(ids, .retry, by: "bob")
        #expect(try bench.state(ids[0]).state == .approved)
    }

    @Test func hangingSinkTimesOutAndIsRetried() throws {
        let sink = try LoopbackSink([.hang, .status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink, timeout: 0.5))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.dispatchUntilSettled(ids[0])
        let attempts = try bench.database().attempts(remediation: ids[0])
        #expect(attempts.count == 2)
        #expect(attempts.first?.error?.contains("timeout") == true)
        #expect(try bench.state(ids[0]).state == .dispatched)
    }

    /// Also: under load a turn found its queue full (quota 0) and, by the time it asked, the senders
    /// had sent everything, so `runOnce` ended with remediations still due (fixed by `Run.heldBack`).
    @Test func twoDispatchersOnOneDatabaseNeverSendTheSameRemediationTwice() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        var ids: [Int64] = []
        for i in 1...200 {
            ids += try bench.signal(banSignal("s\(i)", ip: "203.0.\(113 + i / 200).\(i % 200 + 1)"))
        }
        #expect(ids.count == 200)
        try bench.decide(ids, .approve, by: "alice")
        let a = bench.dispatcher()
        let b = bench.dispatcher()
        let counts = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let n = try! (i == 0 ? a : b).runOnce().attempted
            counts.withLock { $0.append(n) }
        }
        let states = try bench.database().store.remediations(RemediationFilter(), limit: 0, before: nil)
        let byState = Dictionary(grouping: states, by: \.state).mapValues(\.count)
        let errors = Set(states.compactMap(\.lastError))
        #expect(counts.withLock { $0.reduce(0, +) } == 200, "\(byState) \(errors)")
        #expect(sink.requests.count == 200)
        let keys = Set(sink.requests.compactMap { RecordedRequest($0).values("Idempotency-Key").first })
        #expect(keys.count == 200)
        let dispatched = try bench.database().store.remediations(RemediationFilter(states: [.dispatched]), limit: 0, before: nil)
        #expect(dispatched.count == 200)
    }

    @Test func autoRuleDispatchesWithoutApprovalUntilItsBudgetIsSpent() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        try bench.database().setRuleMode(key: "Request from unexpected IP address", to: .auto, by: "alice")
        var ids: [Int64] = []
        for i in 1...11 { ids += try bench.signal(banSignal("a\(i)", ip: "203.0.113.\(i)")) }
        #expect(try bench.dispatcher().runOnce().attempted == 10)
        #expect(sink.requests.count == 10)
        for id in ids.prefix(10) {
            let r = try bench.state(id)
            #expect(r.state == .dispatched)
            #expect(r.decidedBy == "auto:Request from unexpected IP address")
        }
        #expect(try bench.state(ids[10]).state == .pending)
        let rule = try #require(try bench.database().store.rule(named: "Request from unexpected IP address"))
        #expect(rule.throttledAt != nil)
        let audit = try bench.database().auditLog(limit: 0).filter { $0.action == "throttled" }
        #expect(audit.count == 1)
        #expect(audit.first?.detail?.contains("rule budget of 10") == true)
        // A redelivery of an auto-dispatched signal never dispatches twice.
        try bench.signal(banSignal("a1", ip: "203.0.113.1"))
        #expect(try bench.dispatcher().runOnce().attempted == 0)
    }

    @Test func killSwitchStopsAutomaticDispatch() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        try bench.database().setRuleMode(key: "Request from unexpected IP address", to: .auto, by: "alice")
        try bench.database().setAutomaticDispatch(enabled: false, by: "alice")
        let ids = try bench.signal(banSignal("k1", ip: "203.0.113.9"))
        #expect(try bench.state(ids[0]).state == .pending)
        #expect(try bench.dispatcher().runOnce().attempted == 0)
        #expect(sink.requests.isEmpty)
    }

    @Test func killSwitchWithdrawsAutomaticApprovalsNotYetSent() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        try bench.database().setRuleMode(key: "Request from unexpected IP address", to: .auto, by: "alice")
        let ids = try bench.signal(banSignal("w1", ip: "203.0.113.21"))
        #expect(try bench.state(ids[0]).state == .approved)
        try bench.database().setAutomaticDispatch(enabled: false, by: "alice")
        // Taken back at once, before any dispatcher claims it.
        #expect(try bench.state(ids[0]).state == .pending)
        #expect(try bench.dispatcher().runOnce().attempted == 0)
        #expect(sink.requests.isEmpty)
        let r = try bench.state(ids[0])
        #expect(r.state == .pending)
        #expect(r.decidedBy == nil)
        #expect(try bench.database().auditLog(limit: 1).first?.action == "withdraw")
        // An analyst's own approval is not withdrawn by the kill switch.
        try bench.decide(ids, .approve, by: "bob")
        try bench.dispatchUntilSettled(ids[0])
        #expect(try bench.state(ids[0]).state == .dispatched)
        #expect(sink.requests.count == 1)
    }

    @Test func allowlistedTargetsAreSuppressedAndNeverSentEvenInAuto() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink, extra: #""allowlist": { "cidrs": ["198.51.100.0/24"] },"#))
        try bench.database().setRuleMode(key: "Request from unexpected IP address", to: .auto, by: "alice")
        let internalIP = try bench.signal(banSignal("p1", ip: "10.1.2.3"))
        let configured = try bench.signal(banSignal("p2", ip: "198.51.100.7"))
        for id in internalIP + configured {
            let r = try bench.state(id)
            #expect(r.state == .suppressed)
            #expect(r.reason?.contains("allowlist") == true)
        }
        #expect(throws: StoreError.self) { try bench.decide(internalIP, .approve, by: "alice") }
        #expect(try bench.dispatcher().runOnce().attempted == 0)
        #expect(sink.requests.isEmpty)
    }

    @Test func allowlistEntryAddedWhilePendingStopsTheDispatch() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        let ids = try bench.signal(banSignal("n1", ip: "203.0.113.50"))
        try bench.decide(ids, .approve, by: "alice")
        var later = bench.config
        later.allowlist.cidrs.append(CIDR(parsing: "203.0.113.0/24")!)
        _ = try bench.dispatcher(later).runOnce()
        #expect(sink.requests.isEmpty)
        #expect(try bench.state(ids[0]).state == .suppressed)
    }

    @Test func commandActionRefusesHostileUserAndPassesALegitimateOneAsOneArgument() throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("argv.log")
        let script = try dir.script("record.sh", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '\(log)'; done\n")
        let bench = try DispatchBench(
            configJSON: """
                { "actions": { "disable-user": { "target": "user", "command": { "argv": ["\(script)", "--", "{{user}}"], "timeout_seconds": 5 } } },
                  "rules": { "Fraud": { "actions": ["disable-user"] } } }
                """)
        let hostile = #"$(touch pwned); -rf"#
        let bad = try bench.signal(
            #"{"SECURITY_RULE_NAME":"Fraud","SECURITY_SIGNAL_ID":"f1","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"\#(hostile)"}}}"#)
        #expect(try bench.state(bad[0]).state == .suppressed)
        #expect(try bench.state(bad[0]).reason?.contains("invalid target") == true)
        #expect(throws: StoreError.self) { try bench.decide(bad, .approve, by: "alice") }
        let good = try bench.signal(
            #"{"SECURITY_RULE_NAME":"Fraud","SECURITY_SIGNAL_ID":"f2","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"shopper.one@example.com"}}}"#)
        try bench.decide(good, .approve, by: "alice")
        try bench.dispatchUntilSettled(good[0])
        #expect(try bench.state(good[0]).state == .dispatched)
        #expect(String(decoding: try dir.read("argv.log"), as: UTF8.self) == "--\nshopper.one@example.com\n")
        #expect(!FileManager.default.fileExists(atPath: "pwned"))
        #expect(!dir.exists("pwned"))
    }

    @Test func withNoConfigApprovingWritesOneOutboxLine() throws {
        let bench = try DispatchBench(configJSON: nil)
        let ids = try bench.signal(banSignal("o1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.dispatchUntilSettled(ids[0])
        #expect(try bench.state(ids[0]).state == .dispatched)
        let text = String(decoding: try bench.dir.read("gavel-outbox.jsonl"), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1)
        let line = try JSONValue.parse(String(lines[0]))
        #expect(line["action"] == .string("ban-ip"))
        #expect(line["target"] == .string("203.0.113.42"))
        #expect(line["idempotency_key"] == .string(try bench.database().idempotencyKey(id: ids[0])))
        #expect(line["body"]?["decided_by"] == .string("alice"))
    }

    @Test func interruptedDispatchIsResentOnlyWhenIdempotent() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(
            configJSON: """
                { "allow_internal_action_urls": true,
                  "actions": {
                    "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))" } },
                    "delete-security-group": { "target": "security_group", "http": { "method": "DELETE", "url": "\(sink.url("/sg/{{security_group}}"))" } } } }
                """)
        let ban = try bench.signal(banSignal("c1", ip: "203.0.113.42"))
        let sg = try bench.signal(
            #"{"SECURITY_RULE_NAME":"SG","SECURITY_SIGNAL_ID":"c2","SECURITY_SIGNAL_ATTRIBUTES":{"requestParameters":{"groupId":"sg-0a1b2c3d4e5f60789"}}}"#
        )
        let db = try bench.database()
        try bench.decide(ban + sg, .approve, by: "alice")
        try bench.decide(sg, .approve, by: "bob")  // deleting a group needs two analysts
        // Simulate a dispatcher killed mid-send: claimed by a process that no longer exists.
        for _ in 0..<2 { _ = try db.claimNext(worker: "\(Dispatcher.hostName()):999999:dead") }
        #expect(try bench.state(ban[0]).state == .dispatching)
        _ = try bench.dispatcher().runOnce()
        #expect(try bench.state(ban[0]).state == .dispatched)
        let failed = try bench.state(sg[0])
        #expect(failed.state == .failed)
        #expect(failed.lastError == "interrupted; outcome unknown")
        #expect(sink.requests.count == 1)
        #expect(RecordedRequest(sink.requests[0]).values("Idempotency-Key") == [try db.idempotencyKey(id: ban[0])])
    }
}
