import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStoreSQLite

/// Issue 16 item 15: the dispatcher's counters, latency histogram and heartbeat.
@Suite(.serialized) struct DispatchMetricsTests {
    @Test func theExpositionHasCountersByActionAndOutcomeAndACumulativeHistogram() {
        let m = DispatchMetrics()
        m.record(action: "ban-ip", kind: "dispatch", outcome: .retry, seconds: 0.2)
        m.record(action: "ban-ip", kind: "dispatch", outcome: .success, seconds: 0.004)
        m.record(action: "ban-ip", kind: "revert", outcome: .success, seconds: 12)
        m.record(action: "disable-user", kind: "dispatch", outcome: .suppressed, seconds: nil)
        let lines = m.exposition()
        #expect(lines.contains(#"gavel_dispatch_attempts_total{action="ban-ip",kind="dispatch",outcome="retry"} 1"#))
        #expect(lines.contains(#"gavel_dispatch_attempts_total{action="ban-ip",kind="revert",outcome="success"} 1"#))
        #expect(lines.contains(#"gavel_dispatch_attempts_total{action="disable-user",kind="dispatch",outcome="suppressed"} 1"#))
        #expect(lines.contains("# TYPE gavel_dispatch_duration_seconds histogram"))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="0.005"} 1"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="0.25"} 2"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="10"} 2"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="30"} 3"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="+Inf"} 3"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_sum{action="ban-ip"} 12.204"#))
        #expect(lines.contains(#"gavel_dispatch_duration_seconds_count{action="ban-ip"} 3"#))
        #expect(!lines.contains { $0.contains("duration_seconds") && $0.contains("disable-user") })  // nothing was sent
    }

    @Test func aStalledLoopIsToldFromAnIdleOneAndFromALongAttempt() {
        let m = DispatchMetrics()
        let s: UInt64 = 1_000_000_000
        #expect(m.stall(at: 100 * s) == nil)  // not started: nothing to say
        m.turned(at: 10 * s)
        #expect(m.stall(at: 39 * s) == nil)
        #expect(m.stall(at: 41 * s) == "stalled: the dispatcher loop has not run for 31 s")
        m.busy(with: "remediation 7 ban-ip", forSeconds: 300, at: 41 * s)
        #expect(m.stall(at: 370 * s) == nil)  // a long attempt within its deadline and the grace
        #expect(m.stall(at: 372 * s) == "stalled: remediation 7 ban-ip has run 31 s past its deadline")
        m.turned(at: 373 * s)
        #expect(m.stall(at: 374 * s) == nil)
    }

    /// A real dispatcher inside an attempt to an endpoint that never answers: healthy within the
    /// attempt's deadline, reported stalled when looked at past it (the look is shifted in time,
    /// not waited for), and healthy again once the attempt ended.
    @Test func aRealDispatcherInsideAnAttemptReportsItsDeadline() throws {
        let sink = try LoopbackSink([.hang, .status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink, timeout: 1))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        let d = Dispatcher(
            engine: SQLiteEngine(path: bench.dbPath), config: bench.config, retryPolicy: RetryPolicy(base: 0.01, cap: 0.02), idleMs: 20)
        #expect(d.health == "not running")
        d.start()
        defer { d.stop() }
        for _ in 0..<200 where sink.connections == 0 { usleep(10_000) }
        let now = DispatchTime.now().uptimeNanoseconds
        #expect(d.health == nil)
        #expect(d.metrics.stall(at: now + 40_000_000_000)?.hasPrefix("stalled: remediation \(ids[0]) ban-ip has run ") == true)
        for _ in 0..<300 where try bench.state(ids[0]).state != .dispatched { usleep(10_000) }
        #expect(try bench.state(ids[0]).state == .dispatched)
        #expect(d.metrics.stall(at: DispatchTime.now().uptimeNanoseconds + 20_000_000_000) == nil)
    }
}
