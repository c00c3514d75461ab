import Foundation
import GavelTestSupport
import Synchronization
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStore
@testable import GavelStoreSQLite

/// Issue 15 against real loopback sinks and real SQLite: many requests at once, never one twice;
/// an endpoint's 429 and Retry-After slow the action; failures open its circuit without spending
/// the retries of what waits; a batch is retried as a batch with each member's attempts right;
/// reverts batch the same way.
@Suite(.serialized) struct StormDispatchTests {
    /// An `http` ban action to `sink` with extra action settings (`"concurrency": 16, …`).
    func config(_ sink: LoopbackSink, _ settings: String, retries: Int = 3, body: String? = nil) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip",
            "http": { "url": "\(sink.url("/ban"))", "body": \(body ?? #"{ "ip": "{{ip}}", "id": "{{remediation_id}}" }"#),
                      "timeout_seconds": 5, "retries": \(retries) }\(settings.isEmpty ? "" : ", " + settings) } },
          "rules": { "Request from unexpected IP address": { "actions": ["ban-ip"] } } }
        """
    }

    /// `n` approved ban remediations, stored in one transaction through the receiver's intake.
    func approved(_ bench: DispatchBench, _ n: Int) throws -> [Int64] {
        let db = try bench.database()
        let ids = try db.writeTransaction {
            try (0..<n).flatMap { i -> [Int64] in
                let body = Array(banSignal("st\(i)", ip: "203.0.\(113 + i / 250).\(i % 250 + 1)").utf8)
                let incoming = IncomingSignal(
                    signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: nil)
                return try db.store.intake(incoming, config: bench.config).remediations
            }
        }
        try bench.decide(ids, .approve, by: "alice")
        return ids
    }

    /// Waits (bounded) until `condition` holds.
    func eventually(_ seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    func count(_ bench: DispatchBench, _ state: RemediationState) throws -> Int {
        try bench.database().store.stateCounts()[state] ?? 0
    }

    /// The remediation ids a request carried (`{"id": …}` alone, or its batch's `items`).
    func carried(in raw: [UInt8]) -> [String] {
        guard let body = try? JSONValue.parse(String(decoding: RecordedRequest(raw).body, as: UTF8.self)) else { return [] }
        if case .array(let items)? = body["items"] { return items.compactMap { $0["id"]?.scalarText } }
        return body["id"]?.scalarText.map { [$0] } ?? []
    }

    @Test func twoDispatchersSixteenAtOnceEachSendTwoThousandRemediationsEachExactlyOnce() throws {
        let sink = try LoopbackSink([.status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 16"#))
        let ids = try approved(bench, 2000)
        #expect(ids.count == 2000)
        let a = bench.dispatcher()
        let b = bench.dispatcher()
        a.start()
        b.start()
        let done = try eventually(120) { try count(bench, .dispatched) == 2000 }
        a.stop()
        b.stop()
        #expect(done)
        let sent = sink.requests.flatMap(carried(in:))
        #expect(sink.requests.count == 2000)
        #expect(Set(sent).count == 2000 && sent.count == 2000)
        let keys = sink.requests.compactMap { RecordedRequest($0).values("Idempotency-Key").first }
        #expect(Set(keys).count == 2000)
        let rows = try bench.database().query("SELECT count(*), sum(attempts) FROM remediations WHERE state = 'dispatched'")
        #expect(rows.first?.int(0) == 2000 && rows.first?.int(1) == 2000)
        #expect(try bench.database().query("SELECT count(*) FROM attempts WHERE outcome = 'success'").first?.int(0) == 2000)
        // Both sent (each claims only what it can send soon), and none more than 16 at once: at most 32 connections.
        #expect(sink.connections <= 32)
    }

    @Test func a429WithRetryAfterPausesTheActionUntilTheTimeItNames() throws {
        let sink = try LoopbackSink([.answer(429, headers: ["Retry-After: 2"]), .status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 1"#))
        let ids = try approved(bench, 4)
        let d = bench.dispatcher()
        d.start()
        #expect(eventually { sink.requests.count >= 1 })
        // While paused, the others wait approved with no attempt spent, and the status says so.
        #expect(eventually(5) { d.status().first { $0.action == "ban-ip" }?.pausedUntil != nil })
        // (Claims taken ahead go back to the queue at the loop's next turn.)
        #expect(try eventually(5) { try ids.dropFirst().map { try bench.state($0) }.allSatisfy { $0.state == .approved && $0.attempts == 0 } })
        #expect(sink.requests.count == 1)
        #expect(try eventually { try count(bench, .dispatched) == 4 })
        d.stop()
        let arrivals = sink.arrivals
        #expect(arrivals.count == 5)
        // Nothing went to the endpoint before the time it named.
        #expect(arrivals[1] - arrivals[0] >= 1.9, "\(arrivals)")
        let first = try bench.database().attempts(remediation: ids[0])
        #expect(first.map(\.status) == [429, 200])
        let status = try #require(d.status().first { $0.action == "ban-ip" })
        #expect(status.pauses == 1 && status.circuit == .closed)
    }

    @Test func aRateLimitSpreadsTheRequests() throws {
        let sink = try LoopbackSink([.status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 8, "rate": "4/1s""#))
        _ = try approved(bench, 8)
        let d = bench.dispatcher()
        d.start()
        #expect(try eventually { try count(bench, .dispatched) == 8 })
        d.stop()
        let arrivals = sink.arrivals.sorted()
        // Four tokens at first (one second's worth), then four a second: the 8th no sooner than 1 s after the 1st.
        #expect(arrivals.count == 8 && arrivals[7] - arrivals[0] >= 0.9, "\(arrivals)")
        let status = try #require(d.status().first { $0.action == "ban-ip" })
        #expect(status.rateLimitWaits >= 3 && status.rateLimitWaitSeconds > 0)
        let lines = ActionDispatchStatus.metrics(d.status(), now: .now)
        #expect(lines.contains("gavel_dispatch_rate_limit_waits_total{action=\"ban-ip\"} \(status.rateLimitWaits)"))
    }

    @Test func fiveFailuresInARowOpenTheCircuitAndTheRestKeepTheirRetries() throws {
        let sink = try LoopbackSink([.status(503)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 1, "circuit": { "failures": 5, "cool_down": "1h" }"#))
        let ids = try approved(bench, 12)
        let d = Dispatcher(engine: SQLiteEngine(path: bench.dbPath), config: bench.config, retryPolicy: RetryPolicy(base: 3600, cap: 3600))
        d.start()
        #expect(eventually { d.openCircuits()["ban-ip"] != nil })
        usleep(300_000)  // anything still going would arrive now
        d.stop()
        #expect(sink.requests.count == 5)
        let rows = try ids.map { try bench.state($0) }
        let tried = rows.filter { $0.attempts == 1 }
        let untouched = rows.filter { $0.attempts == 0 }
        #expect(tried.count == 5 && untouched.count == 7)
        #expect(tried.allSatisfy { $0.state == .approved && $0.lastStatus == 503 && $0.nextAttemptAt != nil })
        // The rest wait approved with every retry left: no attempt row, no error.
        #expect(untouched.allSatisfy { $0.state == .approved && $0.lastError == nil })
        for r in untouched { #expect(try bench.database().attempts(remediation: r.id).isEmpty) }
        let status = try #require(d.status().first { $0.action == "ban-ip" })
        #expect(status.circuitOpenings == 1)
        #expect(ActionDispatchStatus.metrics(d.status(), now: .now).contains("gavel_dispatch_circuit_state{action=\"ban-ip\"} 1"))
    }

    @Test func aHalfOpenCircuitClosesOnASuccessfulProbe() throws {
        let sink = try LoopbackSink([.status(503), .status(503), .status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 1, "circuit": { "failures": 2, "cool_down": "300ms" }"#))
        let ids = try approved(bench, 6)
        let d = Dispatcher(engine: SQLiteEngine(path: bench.dbPath), config: bench.config, retryPolicy: RetryPolicy(base: 0.01, cap: 0.02))
        d.start()
        #expect(try eventually { try count(bench, .dispatched) == 6 })
        d.stop()
        let status = try #require(d.status().first { $0.action == "ban-ip" })
        #expect(status.circuitOpenings == 1 && status.circuit == .closed)
        #expect(sink.requests.count == 8)
        #expect(try ids.map { try bench.state($0).attempts }.reduce(0, +) == 8)
    }

    @Test func aBatchThatFailsIsRetriedAsTheSameBatchAndEachMemberCountsItsAttempts() throws {
        let sink = try LoopbackSink([.status(503), .status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(
            configJSON: config(sink, #""batch": { "max": 10, "window": "50ms", "body": { "items": "{{targets}}", "by": "{{action}}" } }"#))
        let ids = try approved(bench, 10)
        let d = bench.dispatcher()
        for _ in 0..<100 where try count(bench, .dispatched) < 10 {
            try d.runOnce()
            usleep(20_000)
        }
        #expect(try count(bench, .dispatched) == 10)
        #expect(sink.requests.count == 2)
        let sent = sink.requests.map(RecordedRequest.init)
        // The same request twice: the same key, the same body, every member in id order.
        #expect(sent[0].values("Idempotency-Key") == sent[1].values("Idempotency-Key"))
        #expect(sent[0].body == sent[1].body)
        #expect(carried(in: sink.requests[0]) == ids.map(String.init))
        let key = try #require(sent[0].values("Idempotency-Key").first)
        let keys = try ids.map { try bench.database().idempotencyKey(id: $0) }
        #expect(key == RenderedRequest.batchKey(revert: false, members: keys))
        for id in ids {
            let r = try bench.state(id)
            #expect(r.attempts == 2 && r.batchKey == nil)
            let attempts = try bench.database().attempts(remediation: id)
            #expect(attempts.map(\.outcome) == [.retry, .success] && attempts.map(\.number) == [1, 2])
            #expect(attempts.allSatisfy { $0.batchKey == key })
        }
        let audit = try bench.database().auditLog(limit: 0).filter { $0.action == "dispatch" }
        #expect(audit.count == 20 && audit.allSatisfy { $0.detail?.contains("in batch \(key)") == true })
    }

    @Test func aBatchHoldsAtMostMaxAndEveryRemediationGoesOnce() throws {
        let sink = try LoopbackSink([.status(200)], keepAlive: true)
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: config(sink, #""concurrency": 2, "batch": { "max": 40, "body": { "items": "{{targets}}" } }"#))
        _ = try approved(bench, 100)
        let d = bench.dispatcher()
        #expect(try d.runOnce().attempted == 100)
        #expect(sink.requests.count == 3)
        let sizes = sink.requests.map { carried(in: $0).count }.sorted()
        #expect(sizes == [20, 40, 40])
        let all = sink.requests.flatMap(carried(in:))
        #expect(Set(all).count == 100 && all.count == 100)
    }

    @Test func revertsBatchTheSameWay() throws {
        let sink = try LoopbackSink([.status(200)], keepAlive: true)
        defer { sink.stop() }
        let settings = """
            "revert": { "http": { "method": "DELETE", "url": "\(sink.url("/ban"))", "body": { "ip": "{{ip}}", "id": "{{remediation_id}}" } } },
            "duration": "200ms",
            "batch": { "max": 50, "body": { "items": "{{targets}}" }, "revert_body": { "items": "{{targets}}", "undo": true } }
            """
        let bench = try DispatchBench(configJSON: config(sink, settings))
        let ids = try approved(bench, 5)
        let d = bench.dispatcher()
        try d.runOnce()
        #expect(try count(bench, .dispatched) == 5)
        usleep(300_000)
        for _ in 0..<50 where try count(bench, .reverted) < 5 {
            try d.runOnce()
            usleep(20_000)
        }
        #expect(try count(bench, .reverted) == 5)
        let sent = sink.requests.map(RecordedRequest.init)
        #expect(sent.map(\.method) == ["POST", "DELETE"])
        let undo = try JSONValue.parse(String(decoding: sent[1].body, as: UTF8.self))
        #expect(undo["undo"] == .bool(true))
        #expect(carried(in: sink.requests[1]) == ids.map(String.init))
        let revertKeys = try ids.map { try bench.state($0).revertIdempotencyKey }
        #expect(sent[1].values("Idempotency-Key") == [RenderedRequest.batchKey(revert: true, members: revertKeys)])
    }
}
