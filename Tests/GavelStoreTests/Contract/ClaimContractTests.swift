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

    @Test(arguments: EngineKind.available)
    func claimsTakeAtMostTheQuotaOfEachAction(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        var ids: [Int64] = []
        for i in 1...4 { ids += try h.post(signalJSON("q\(i)", ips: ["203.0.113.\(i)"], users: ["user\(i)"])).remediations }
        let store = try h.store()
        try store.decide(ids, .approve, by: "alice", config: h.config, at: .now)
        let now = Timestamp.now
        let bans = try store.claimDue(worker: "h:1:a", quota: ClaimQuota(actions: ["ban-ip": 3]), leaseMs: 60_000, config: h.config, at: now)
        #expect(bans.count == 3 && bans.allSatisfy { $0.remediation.action == "ban-ip" })
        // Oldest due first.
        #expect(bans.map(\.id) == bans.map(\.id).sorted())
        let rest = try store.claimDue(
            worker: "h:1:a", quota: ClaimQuota(actions: ["ban-ip": 0], others: 10), leaseMs: 60_000, config: h.config, at: now)
        #expect(rest.count == 4 && rest.allSatisfy { $0.remediation.action == "disable-user" })
        #expect(try store.claimDue(worker: "h:1:a", quota: .any(10), leaseMs: 60_000, config: h.config, at: now).count == 1)
    }

    @Test(arguments: EngineKind.available)
    func manyOutcomesAreRecordedInOneCallAndALostClaimIsNot(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 3)
        let store = try h.store()
        let now = Timestamp.now
        let claims = try store.claimDue(worker: "h:1:a", limit: 3, leaseMs: 1000, config: h.config, at: now)
        _ = try store.recoverClaims(at: now.adding(milliseconds: 2000), isDead: { _ in false }, isIdempotent: { _ in true }).count
        let again = try store.claimDue(worker: "h:1:b", limit: 1, leaseMs: 60_000, config: h.config, at: now.adding(milliseconds: 2000))
        #expect(again.count == 1)
        // The first dispatcher's lease ran out: none of its outcomes moves a remediation.
        let late = try store.finish(claims.map { FinishedAttempt($0, AttemptReport(result: .dispatched, status: 200)) }, config: h.config, at: now)
        #expect(late == [false, false, false])
        let recorded = try store.finish(
            [FinishedAttempt(again[0], AttemptReport(result: .dispatched, status: 200))], config: h.config, at: now.adding(milliseconds: 2000))
        #expect(recorded == [true])
        #expect(try store.remediation(id: again[0].id)?.state == .dispatched)
        #expect(ids.filter { try! store.remediation(id: $0)?.state == .approved }.count == 2)
    }

    @Test(arguments: EngineKind.available)
    func aBatchThatFailsIsClaimedAgainTogetherWithItsKey(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let ids = try approved(h, 5)
        let store = try h.store()
        let now = Timestamp.now
        let first = try store.claimDue(worker: "h:1:a", limit: 3, leaseMs: 60_000, config: h.config, at: now)
        let key = RenderedRequest.batchKey(revert: false, members: first.map(\.remediation.idempotencyKey))
        try store.recordBatch(first, key: key, at: now)
        #expect(try store.attempts(ofRemediation: first[0].id).first?.batchKey == key)
        // The other two are released unsent: due again, no attempt left, retries untouched.
        let other = try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: now)
        #expect(other.count == 2)
        try store.releaseClaims(other, at: now)
        for c in other {
            let r = try #require(try store.remediation(id: c.id))
            #expect(r.state == .approved && r.attempts == 0 && r.claim == nil)
            #expect(try store.attempts(ofRemediation: c.id).isEmpty)
        }
        let retryAt = now.adding(milliseconds: 10)
        try store.finish(
            first.map { FinishedAttempt($0, AttemptReport(result: .retry(at: retryAt), status: 503, error: "HTTP 503", batchKey: key)) },
            config: h.config, at: now)
        #expect(try store.remediation(id: first[0].id)?.batchKey == key)
        // Due again: the batch's members come first, together, each on its second attempt.
        let later = now.adding(milliseconds: 20)
        let again = try store.claimDue(worker: "h:1:a", limit: 10, leaseMs: 60_000, config: h.config, at: later)
        #expect(again.count == 5)
        #expect(Array(again.prefix(3)).map(\.id) == first.map(\.id) && again.prefix(3).allSatisfy { $0.batchKey == key && $0.attempt == 2 })
        #expect(again.suffix(2).allSatisfy { $0.batchKey == nil && $0.attempt == 1 })
        try store.finish(
            again.map { FinishedAttempt($0, AttemptReport(result: .dispatched, status: 200, batchKey: $0.batchKey)) }, config: h.config, at: later)
        let done = try #require(try store.remediation(id: first[0].id))
        #expect(done.state == .dispatched && done.batchKey == nil && done.attempts == 2)
        #expect(try store.attempts(ofRemediation: first[0].id).map(\.batchKey) == [key, key])
        #expect(ids.allSatisfy { try! store.remediation(id: $0)?.state == .dispatched })
    }

    @Test(arguments: EngineKind.available)
    func recoveryKeepsTheBatchOfAnInterruptedSend(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        _ = try approved(h, 2)
        let store = try h.store()
        let claims = try store.claimDue(worker: "h:999:dead", limit: 2, leaseMs: 60_000, config: h.config, at: .now)
        try store.recordBatch(claims, key: "gavel-batch-k", at: .now)
        #expect(try store.recoverClaims(at: .now, isDead: { $0 == "h:999:dead" }, isIdempotent: { _ in true }).count == 2)
        for c in claims {
            let r = try #require(try store.remediation(id: c.id))
            #expect(r.state == .approved && r.batchKey == "gavel-batch-k")
        }
        let again = try store.claimDue(worker: "h:2:b", limit: 2, leaseMs: 60_000, config: h.config, at: .now)
        #expect(again.map(\.batchKey) == ["gavel-batch-k", "gavel-batch-k"])
    }
}

/// Remediation ids seen by several threads.
final class ClaimLog: Sendable {
    private let ids = Mutex<[Int64]>([])
    func add(_ id: Int64) { ids.withLock { $0.append(id) } }
    var distinct: Int { ids.withLock { Set($0).count } }
}
