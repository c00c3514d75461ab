import Foundation
import GavelCore
import GavelStore
import Synchronization
import Testing

/// The store contract, dispatch claims: atomic across sessions, under a lease, recovered after
/// the holder dies or the lease runs out, outcomes recorded.
@Suite(.serialized) struct ClaimContractTests {
    func approved(_ h: StoreHarness, _ n: Int) throws -> [Int64] {
        var ids: [Int64] = []
        for i in 1...n { ids += try h.post(signalJSON("s\(i)", ips: ["203.0.\(113 + i / 250).\(i % 250 + 1)"])).remediations }
        try h.store().decide(ids, .approve, by: "alice", config: h.config, at: .now)
        return ids
    }

    @Test(arguments: EngineKind.available)
    func twoDispatchersNeverClaimTheSameRemediation(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 60)
        let claimed = Tally()
        let seen = ClaimLog()
        let engine = h.engine
        let config = h.config
        DispatchQueue.concurrentPerform(iterations: 3) { n in
            guard let store = try? engine.open(.existing) else { return }
            while let batch = try? store.claimDue(worker: "host:1:w\(n)", limit: 4, leaseMs: 60_000, config: config, at: .now), !batch.isEmpty {
                for c in batch {
                    seen.add(c.id)
                    claimed.add()
                    _ = try? store.finish(c, AttemptReport(result: .dispatched, status: 200), config: config, at: .now)
                }
            }
        }
        #expect(claimed.total == ids.count && seen.distinct == ids.count)
        #expect(try h.store().stateCounts()[.dispatched] == ids.count)
    }

    @Test(arguments: EngineKind.available)
    func outcomesMoveTheRemediationAndAreRecordedAsAttempts(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 3)
        let store = try h.store()
        let now = Timestamp.now
        let claims = try store.claimDue(worker: "h:1:a", limit: 10, leaseMs: 60_000, config: h.config, at: now)
        #expect(claims.count == 3 && claims.allSatisfy { $0.attempt == 1 && $0.remediation.state == .dispatching })
        #expect(try store.claimDue(worker: "h:1:b", limit: 10, leaseMs: 60_000, config: h.config, at: now).isEmpty)
        try store.finish(claims[0], AttemptReport(result: .dispatched, status: 200, response: "ok", durationMs: 5), config: h.config, at: now)
        try store.finish(
            claims[1], AttemptReport(result: .retry(at: now.adding(milliseconds: 60_000)), status: 503, error: "HTTP 503"), config: h.config, at: now)
        try store.finish(claims[2], AttemptReport(result: .failed, status: 400, error: "HTTP 400"), config: h.config, at: now)
        #expect(try store.remediation(id: ids[0])?.state == .dispatched)
        let waiting = try #require(try store.remediation(id: ids[1]))
        #expect(waiting.state == .approved && waiting.lastStatus == 503 && waiting.nextAttemptAt != nil)
        #expect(try store.claimDue(worker: "h:1:a", limit: 10, leaseMs: 60_000, config: h.config, at: now).isEmpty)  // not due yet
        #expect(try store.claimDue(worker: "h:1:a", limit: 10, leaseMs: 60_000, config: h.config, at: now.adding(milliseconds: 61_000)).count == 1)
        #expect(try store.remediation(id: ids[2])?.state == .failed)
        let attempts = try store.attempts(ofRemediation: ids[1])
        #expect(attempts.map(\.outcome) == [.retry, nil] && attempts.map(\.number) == [1, 2])
        #expect(try store.attempts(ofRemediation: ids[0]).first?.response == "ok")
    }

    @Test(arguments: EngineKind.available)
    func aLapsedLeaseIsRecoveredAndTheLateFinishIsNotRecorded(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 1)
        let a = try h.store()
        let b = try h.store()
        let now = Timestamp.now
        let claim = try #require(try a.claimDue(worker: "far:1:a", limit: 1, leaseMs: 1000, config: h.config, at: now).first)
        // Before the lease runs out nothing is recovered, even by a dispatcher that cannot check the holder.
        #expect(try b.recoverClaims(at: now.adding(milliseconds: 500), isDead: { _ in false }, isIdempotent: { _ in true }).isEmpty)
        #expect(try b.recoverClaims(at: now.adding(milliseconds: 2000), isDead: { _ in false }, isIdempotent: { _ in true }) == ids)
        let requeued = try #require(try b.remediation(id: ids[0]))
        #expect(requeued.state == .approved && requeued.claim == nil)
        #expect(try a.finish(claim, AttemptReport(result: .dispatched, status: 200), config: h.config, at: now) == false)
        #expect(try b.remediation(id: ids[0])?.state == .approved)
        let again = try #require(
            try b.claimDue(worker: "near:2:b", limit: 1, leaseMs: 60_000, config: h.config, at: now.adding(milliseconds: 2000)).first)
        #expect(again.remediation.idempotencyKey == claim.remediation.idempotencyKey && again.attempt == 2)
    }

    @Test(arguments: EngineKind.available)
    func recoveryResendsOnlyIdempotentActions(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ban = try h.post(signalJSON("s1", ips: ["203.0.113.42"])).remediations
        let sg = try h.post(signalJSON("s2", rule: "SG", groups: ["sg-0a1b2c3d4e5f60789"])).remediations
        let store = try h.store()
        try store.decide(ban + sg, .approve, by: "alice", config: h.config, at: .now)
        try store.decide(sg, .approve, by: "bob", config: h.config, at: .now)  // the second of two approvals
        #expect(try store.claimDue(worker: "h:999:dead", limit: 5, leaseMs: 60_000, config: h.config, at: .now).count == 2)
        let recovered = try store.recoverClaims(at: .now, isDead: { $0 == "h:999:dead" }, isIdempotent: { $0 == "ban-ip" })
        #expect(Set(recovered) == Set(ban + sg))
        #expect(try store.remediation(id: ban[0])?.state == .approved)
        let failed = try #require(try store.remediation(id: sg[0]))
        #expect(failed.state == .failed && failed.lastError == "interrupted; outcome unknown")
        #expect(try store.attempts(ofRemediation: sg[0]).first?.outcome == .interrupted)
    }

    @Test(arguments: EngineKind.available)
    func theBrakesAndTheAllowlistTakeBackAClaimUnsent(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 2)
        let store = try h.store()
        let claims = try store.claimDue(worker: "h:1:a", limit: 2, leaseMs: 60_000, config: h.config, at: .now)
        try store.withdrawClaim(claims[0], reason: "kill switch", at: .now)
        try store.suppressClaim(claims[1], reason: "allowlist: 203.0.113.0/24", at: .now)
        #expect(try store.remediation(id: ids[0])?.state == .pending)
        let suppressed = try #require(try store.remediation(id: ids[1]))
        #expect(suppressed.state == .suppressed && suppressed.reason == "allowlist: 203.0.113.0/24")
        #expect(try store.attempts(ofRemediation: ids[0]).first?.outcome == .withdrawn)
    }
}

/// Remediation ids seen by several threads.
final class ClaimLog: Sendable {
    private let ids = Mutex<[Int64]>([])
    func add(_ id: Int64) { ids.withLock { $0.append(id) } }
    var distinct: Int { ids.withLock { Set($0).count } }
}
