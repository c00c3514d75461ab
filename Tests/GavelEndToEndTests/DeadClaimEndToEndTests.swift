import Foundation
import GavelCore
import GavelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 item 5 on the embedded engine: after `kill -9` of a `gavel dispatch --once`
/// mid-request, the remediation stayed `dispatching` for as long as `gavel serve` ran (claims
/// were recovered only at start), and `retry`/`approve` refused to touch it.
@Suite(.serialized) struct DeadClaimEndToEndTests {
    static func config(_ sink: LoopbackSink) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))", "timeout_seconds": 120 } } } }
        """
    }

    static func state(_ db: String) throws -> String? {
        let listed = try GavelBinary.run(["list", "--json", "--db", db])
        guard case .array(let rows) = try JSONValue.parse(listed.out) else { return nil }
        return rows.first?["state"]?.scalarText
    }

    /// A running serve recovers the claim of a dispatcher killed mid-request on this host (its
    /// process is gone) while it runs — not only when it starts — and sends the ban again with
    /// the same idempotency key; while the dispatcher lived, its claim was left alone.
    @Test func aClaimOfAKilledDispatchOnceIsRecoveredByARunningServe() throws {
        let sink = try LoopbackSink([.hang, .status(200)])
        defer { sink.stop() }
        let first = try ServeProcess(config: Self.config(sink))
        defer { first.cleanup() }
        _ = try curl(first.baseURL + "/webhook", body: AccountabilityEndToEndTests.banSignal("dead-1", ip: "203.0.113.51"))
        #expect(first.stop() == 0)
        let db = first.dbPath
        let configFile = first.folder + "/gavel.json"
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", db, "--config", configFile]).status == 0)

        let once = Process()
        once.executableURL = URL(fileURLWithPath: GavelBinary.path)
        once.arguments = ["dispatch", "--once", "--db", db, "--config", configFile]
        once.standardOutput = FileHandle.nullDevice
        once.standardError = FileHandle.nullDevice
        try once.run()
        defer { if once.isRunning { kill(once.processIdentifier, SIGKILL) } }
        for _ in 0..<200 where sink.requests.isEmpty { usleep(50_000) }
        #expect(sink.requests.count == 1)  // the request is in flight, hanging
        #expect(try Self.state(db) == "dispatching")

        // serve starts while the claim's holder is alive: the claim is not taken from it.
        let serve = try ServeProcess(config: Self.config(sink), database: db)
        defer { serve.stop() }
        sleep(3)  // more than one recovery round (every 2 s)
        #expect(try Self.state(db) == "dispatching")
        #expect(sink.requests.count == 1)

        kill(once.processIdentifier, SIGKILL)
        once.waitUntilExit()  // reaped: its pid no longer answers
        var state = try Self.state(db)
        for _ in 0..<100 where state != "dispatched" {
            usleep(100_000)
            state = try Self.state(db)
        }
        #expect(state == "dispatched")
        #expect(sink.requests.count == 2)
        let shown = try JSONValue.parse(try GavelBinary.run(["show", "1", "--json", "--db", db]).out)
        guard case .array(let attempts) = shown["attempts"] else {
            Issue.record("no attempts in \(shown)")
            return
        }
        #expect(attempts.map { $0["outcome"]?.scalarText } == ["interrupted", "success"])
        let keys = sink.requests.map { RecordedRequest($0).headers.first { $0.name == "Idempotency-Key" }?.value }
        #expect(keys.count == 2 && keys[0] != nil && keys[0] == keys[1])
    }
}
