import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStore
@testable import GavelStoreSQLite

/// Issue 16 item 3: the request sent is the request approved.
@Suite(.serialized) struct RequestBindingTests {
    static func config(_ sink: LoopbackSink) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "http": {
            "url": "\(sink.url("/v1/signals/{{signal_id}}/ban/{{ip}}"))",
            "body": { "signal": "{{signal_id}}", "rule_id": "{{rule_id}}", "severity": "{{severity}}", "by": "{{decided_by}}" },
            "retries": 3 } } },
          "rules": { "Request from unexpected IP address": { "actions": ["ban-ip"] } } }
        """
    }

    static func signal(_ id: String, ruleID: String, severity: String) -> String {
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_RULE_ID":"\#(ruleID)","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"\#(severity)","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.42"]}}}}"#
    }

    /// A 503, then a newer signal of the same target (another signal id, rule id and severity),
    /// then the retry: both attempts carry the same bytes, the ones bound when alice approved.
    @Test func aRetryAfterA503SendsTheApprovedBytesEvenAfterANewerSignal() throws {
        let sink = try LoopbackSink([.status(503), .status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: Self.config(sink))
        let ids = try bench.signal(Self.signal("AQAAAYxk1-first", ruleID: "abc-111", severity: "medium"))
        try bench.decide(ids, .approve, by: "alice")
        let dispatcher = Dispatcher(
            engine: SQLiteEngine(path: bench.dbPath), config: bench.config, retryPolicy: RetryPolicy(base: 0.3, cap: 0.3))
        _ = try dispatcher.runOnce()
        #expect(sink.requests.count == 1)
        #expect(try bench.state(ids[0]).state == .approved)
        // The newer signal attaches to the approved remediation as context.
        #expect(try bench.signal(Self.signal("AQAAAYxk1-second", ruleID: "xyz-999", severity: "critical")) == ids)
        #expect(try bench.state(ids[0]).signalCount == 2)
        try bench.dispatchUntilSettled(ids[0], dispatcher)
        #expect(try bench.state(ids[0]).state == .dispatched)
        #expect(sink.requests.count == 2)
        #expect(sink.requests[0] == sink.requests[1])
        let sent = RecordedRequest(sink.requests[1])
        #expect(sent.target == "/v1/signals/AQAAAYxk1-first/ban/203.0.113.42")
        #expect(
            String(decoding: sent.body, as: UTF8.self) == #"{"signal":"AQAAAYxk1-first","rule_id":"abc-111","severity":"medium","by":"alice"}"#)
    }

    /// The signal id `..` in `/v1/signals/{{signal_id}}/ban/{{ip}}`: nothing reaches the sink,
    /// the remediation fails saying why, and a later harmless signal does not make it go.
    @Test(arguments: ["..", ".", "%2e%2E", "%2e", "..;"])
    func aDotSegmentValueIsRefusedAndNothingIsSent(_ signalID: String) throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: Self.config(sink))
        let ids = try bench.signal(Self.signal(signalID, ruleID: "abc-111", severity: "high"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.signal(Self.signal("AQAAAYxk1-harmless", ruleID: "abc-111", severity: "high"))
        try bench.dispatchUntilSettled(ids[0])
        usleep(100_000)
        #expect(sink.requests.isEmpty)
        #expect(sink.connections == 0)
        let r = try bench.state(ids[0])
        #expect(r.state == .failed)
        #expect(r.lastError?.contains("dot segment") == true, "\(r.lastError ?? "nil")")
        let audit = try bench.database().store.auditEntries(limit: 0, before: nil, subject: "remediation \(ids[0])")
        #expect(audit.contains { $0.action == "dispatch" && $0.after == "failed" && $0.detail?.contains("dot segment") == true })
    }
}
