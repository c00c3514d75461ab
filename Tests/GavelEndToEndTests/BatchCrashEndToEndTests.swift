import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 15: `gavel dispatch` killed with SIGKILL while a batch is in flight (the endpoint holds the
/// request unanswered). The next dispatcher recovers every member by the idempotency rules: for an
/// idempotent action the members go again together, as the same batch — the same
/// `Idempotency-Key` and the same body, so the endpoint can drop the repeat — each member's second
/// attempt; for an action that is not idempotent every member becomes `failed`
/// "interrupted; outcome unknown" and nothing is sent again.
@Suite(.serialized) struct BatchCrashEndToEndTests {
    static func config(_ sink: LoopbackSink, idempotent: Bool) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "idempotent": \(idempotent),
            "http": { "url": "\(sink.url("/ips"))", "body": { "ip": "{{ip}}", "id": "{{remediation_id}}" }, "timeout_seconds": 60 },
            "batch": { "max": 50, "window": "100ms", "body": { "items": "{{targets}}" } } } },
          "rules": { "Request from unexpected IP address": { "actions": ["ban-ip"] } } }
        """
    }

    @Test(arguments: [true, false])
    func killNineMidBatchRecoversEveryMemberByTheIdempotencyRules(_ idempotent: Bool) throws {
        let sink = try LoopbackSink([.hang, .status(200)])
        defer { sink.stop() }
        // Signals through a real receiver, which adopts the configuration; then stopped.
        let serve = try ServeProcess(config: Self.config(sink, idempotent: idempotent))
        defer { serve.cleanup() }
        for i in 1...12 {
            let body =
                #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"kb\#(i)","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.\#(i)"]}}}}"#
            _ = try curl(serve.baseURL + "/webhook", body: body)
        }
        serve.stop()
        let db = serve.dbPath
        let approve = try GavelBinary.run(["approve"] + (1...12).map(String.init) + ["--by", "alice", "--db", db])
        #expect(approve.status == 0, "\(approve.err)")

        // The dispatcher sends the batch; the endpoint never answers; SIGKILL.
        let dispatch = Process()
        dispatch.executableURL = URL(fileURLWithPath: GavelBinary.path)
        dispatch.arguments = ["dispatch", "--db", db]
        var env = ProcessInfo.processInfo.environment
        env["GAVEL_CONFIG"] = nil
        dispatch.environment = env
        dispatch.currentDirectoryURL = URL(fileURLWithPath: serve.folder)
        dispatch.standardError = FileHandle.nullDevice
        dispatch.standardOutput = FileHandle.nullDevice
        try dispatch.run()
        let end = Date().addingTimeInterval(30)
        while sink.requests.isEmpty && Date() < end { usleep(20_000) }
        #expect(sink.requests.count == 1)
        kill(dispatch.processIdentifier, SIGKILL)
        dispatch.waitUntilExit()
        let first = RecordedRequest(try #require(sink.requests.first))
        let key = try #require(first.values("Idempotency-Key").first)
        #expect(try sql(db, "SELECT count(*) FROM remediations WHERE state = 'dispatching' AND batch_key = '\(key)'") == ["12"])

        // The next dispatcher recovers the claims of the dead one.
        let once = try GavelBinary.run(["dispatch", "--once", "--db", db], cwd: serve.folder)
        let states = try sql(db, "SELECT state || '|' || attempts || '|' || coalesce(last_error, '') FROM remediations ORDER BY id")
        let attempts = try sql(
            db, "SELECT group_concat(coalesce(outcome, '-') || ':' || coalesce(batch_key, '-'), ' ') FROM attempts GROUP BY remediation")
        if idempotent {
            #expect(once.status == 0, "\(once.err)")
            #expect(states == Array(repeating: "dispatched|2|", count: 12), "\(states)")
            #expect(attempts == Array(repeating: "interrupted:\(key) success:\(key)", count: 12), "\(attempts)")
            #expect(sink.requests.count == 2)
            let again = RecordedRequest(sink.requests[1])
            #expect(again.values("Idempotency-Key") == [key])
            #expect(again.body == first.body)
        } else {
            #expect(once.status == 0, "\(once.err)")
            #expect(states == Array(repeating: "failed|1|interrupted; outcome unknown", count: 12), "\(states)")
            #expect(attempts == Array(repeating: "interrupted:\(key)", count: 12), "\(attempts)")
            #expect(sink.requests.count == 1)
        }
        let audit = try sql(db, "SELECT count(*) FROM audit WHERE action = 'recover'")
        #expect(audit == ["12"])
    }
}
