import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStore
@testable import GavelStoreSQLite

/// Dispatch safety at the dispatcher (hardening checklist D1, D4), adding to the unit tests of
/// `TargetValidator`, `render` and `HTTPExecutor`: a target that is not a canonical IP never
/// leaves gavel even if it reached an approved row by another way than the intake (an older
/// version, a hand edit of the database), and a flooding endpoint is cut at the size cap while
/// the dispatcher goes on with the next remediation.
@Suite(.serialized) struct DispatchSafetyTests {
    @Test(arguments: [
        "127.1", "0177.0.0.1", "0x7f.0.0.1", "2130706433", "fe80::1%eth0", "203.0.113.50 ", " 203.0.113.50",
        "::ffff:203.0.113.50", "2001:DB8::1", "203.0.113.50\n", "203.0.113.50/32",
    ])
    func nonCanonicalTargetInAnApprovedRowIsNeverSent(_ target: String) throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink))
        let ids = try bench.signal(banSignal("tampered", ip: "203.0.113.50"))
        try bench.decide(ids, .approve, by: "alice")
        try bench.database().run("UPDATE remediations SET target = ? WHERE id = ?", [.text(target), .integer(ids[0])])
        try bench.dispatchUntilSettled(ids[0])
        #expect(sink.requests.isEmpty, "sent \(target.debugDescription)")
        let state = try bench.state(ids[0])
        #expect(state.state == .failed || state.state == .suppressed, "\(state.state)")
        #expect(state.lastError != nil || state.reason != nil)
    }

    @Test func floodingEndpointIsCutAtTheCapAndTheNextRemediationStillGoes() throws {
        let sink = try LoopbackSink([.flood(bytes: 10 << 20), .status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: httpConfig(sink, timeout: 10))
        let first = try bench.signal(banSignal("flood-1", ip: "203.0.113.61"))
        let second = try bench.signal(banSignal("flood-2", ip: "203.0.113.62"))
        try bench.decide(first + second, .approve, by: "alice")
        try bench.dispatchUntilSettled(first[0])
        try bench.dispatchUntilSettled(second[0])
        #expect(try bench.state(first[0]).state == .dispatched)
        #expect(try bench.state(second[0]).state == .dispatched)
        #expect(sink.requests.count == 2)
        let stored = try bench.database().query("SELECT max(length(CAST(response AS BLOB))) FROM attempts").first?.int(0) ?? 0
        #expect(stored <= DispatchOutcome.excerptLimit)
    }
}
