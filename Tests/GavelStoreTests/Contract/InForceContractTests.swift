import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, life after dispatch (issue 12): in force until it expires, reverted at
/// expiry or by hand, escalation, extension, the allowlist looking back, withdrawing in the grace.
@Suite(.serialized) struct InForceContractTests {
    static func config(duration: String = "\"4h\"", extra: String = "") -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/ban/{{ip}}" },
                        "revert": { "http": { "method": "DELETE", "url": "http://127.0.0.1:9/rules/{{response.json.result.id}}" } },
                        "duration": \(duration) \(extra) } } }
        """
    }

    /// Proposes, approves, claims and finishes one ban at `now`; the dispatch's response is `response`.
    func dispatched(
        _ h: StoreHarness, ip: String = "203.0.113.42", id: String = "s1", at now: Timestamp, response: String = #"{"result":{"id":"rule-42"}}"#
    ) throws -> Int64 {
        let rid = try h.post(signalJSON(id, ips: [ip]), at: now).remediations[0]
        let store = try h.store()
        try store.decide([rid], .approve, by: "alice", config: h.config, at: now)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: now).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200, response: response), config: h.config, at: now)
        return rid
    }

    @Test(arguments: EngineKind.available)
    func aBanIsInForceUntilItExpiresThenItsRevertGoesWithTheDispatchResponse(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try dispatched(h, at: t0)
        let store = try h.store()
        let r = try #require(try store.remediation(id: id))
        #expect(r.state == .dispatched && r.inForceSince == t0 && r.durationMs == 4 * DurationText.hour)
        #expect(r.expiresAt == t0.adding(milliseconds: 4 * DurationText.hour))
        #expect(try store.inForce(limit: 10).map(\.id) == [id])
        // Nothing is due before the expiry.
        #expect(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0.adding(milliseconds: 60_000)).isEmpty)
        let later = t0.adding(milliseconds: 4 * DurationText.hour + 1)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: later).first)
        #expect(claim.kind == .revert && claim.attempt == 1 && claim.idempotencyKey == r.idempotencyKey + "-revert")
        guard case .success(.http(let revert)) = claim.request else {
            Issue.record("\(claim.request)")
            return
        }
        #expect(revert.method == "DELETE" && revert.url == "http://127.0.0.1:9/rules/rule-42")
        #expect(try store.remediation(id: id)?.state == .reverting)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 204), config: h.config, at: later)
        let done = try #require(try store.remediation(id: id))
        #expect(done.state == .reverted && done.revertedBy == "expiry" && done.expiresAt == nil)
        #expect(try store.inForce(limit: 10).isEmpty)
        let attempts = try store.attempts(ofRemediation: id)
        #expect(attempts.map(\.kind) == [.dispatch, .revert] && attempts.map(\.number) == [1, 1])
        let audit = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").map(\.action)
        #expect(audit.prefix(3) == ["revert-dispatch", "revert", "dispatch"])
    }

    @Test(arguments: EngineKind.available)
    func aRevertThatNeedsAMissingResponseValueFailsWithTheReason(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(duration: "\"1s\""))
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try dispatched(h, at: t0, response: "not json")
        let store = try h.store()
        #expect(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0.adding(milliseconds: 2000)).isEmpty)
        let r = try #require(try store.remediation(id: id))
        #expect(r.state == .revertFailed && r.lastError?.contains("response.json.result.id") == true)
    }

    @Test(arguments: EngineKind.available)
    func aRepeatOffenderIsNeverBannedTwiceAndStaysBannedLonger(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(extra: #", "escalation": {"factor": 2, "max": "30d", "window": "30d"}"#))
        defer { h.close() }
        let t0 = Timestamp.now
        let first = try dispatched(h, at: t0)
        // Seen again while in force: attaches to the same remediation, and its expiry restarts.
        let t1 = t0.adding(milliseconds: 3_600_000)
        let again = try h.post(signalJSON("s2", ips: ["203.0.113.42"]), at: t1)
        #expect(again.remediations == [first])
        let store = try h.store()
        #expect(try store.remediation(id: first)?.expiresAt == t1.adding(milliseconds: 4 * DurationText.hour))
        #expect(try store.remediation(id: first)?.signalCount == 2)
        // It expires and is reverted; seen again later: a new ban, twice as long.
        let t2 = t1.adding(milliseconds: 4 * DurationText.hour + 1)
        let revert = try #require(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t2).first)
        try store.finish(revert, AttemptReport(result: .dispatched, status: 204), config: h.config, at: t2)
        let t3 = t2.adding(milliseconds: 60_000)
        let second = try dispatched(h, id: "s3", at: t3)
        #expect(second != first)
        #expect(try store.remediation(id: second)?.durationMs == 8 * DurationText.hour)
    }

    @Test(arguments: EngineKind.available)
    func anAnalystRevertsAndExtendsByHandAndAnIrreversibleActionIsRefused(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let t0 = Timestamp.now
        let a = try dispatched(h, at: t0)
        let b = try dispatched(h, ip: "198.51.100.7", id: "s2", at: t0)
        let store = try h.store()
        let extended = try store.extend([b], by: 3_600_000, actor: "bob", at: t0)
        #expect(extended[0].expiresAt == t0.adding(milliseconds: 5 * DurationText.hour))
        #expect(try store.extend([b], by: nil, actor: "bob", at: t0)[0].expiresAt == nil)
        #expect(throws: StoreError.self) { try store.extend([b], by: 60_000, actor: "bob", at: t0) }  // permanent now
        let reverted = try store.revert([a], reason: "carrier NAT, not the attacker", by: "bob", config: h.config, at: t0)
        #expect(reverted[0].state == .reverting && reverted[0].revertedBy == "bob" && reverted[0].revertReason == "carrier NAT, not the attacker")
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0).first)
        #expect(claim.kind == .revert && claim.id == a)
        // Not in force: a conflict. An irreversible action: refused with the reason.
        #expect(throws: StoreError.self) { try store.revert([a], reason: "again", by: "bob", config: h.config, at: t0) }
        let sg = try h.post(signalJSON("g1", rule: "SG", groups: ["sg-0a1b2c3d4e5f60789"]), at: t0).remediations[0]
        try store.decide([sg], .approve, by: "alice", config: h.config, at: t0)
        try store.decide([sg], .approve, by: "carol", config: h.config, at: t0)
        for c in try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0) where c.id == sg {
            try store.finish(c, AttemptReport(result: .dispatched, status: 200), config: h.config, at: t0)
        }
        do {
            try store.revert([sg], reason: "oops", by: "bob", config: h.config, at: t0)
            Issue.record("an irreversible action was reverted")
        } catch {
            #expect("\(error)".contains("irreversible"))
        }
    }

    @Test(arguments: EngineKind.available)
    func theAllowlistLooksBackAtWhatIsInForce(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try dispatched(h, at: t0)
        let store = try h.store()
        let concerned = try store.addAllowlistEntry(
            AllowlistEntry(kind: .ip, value: "203.0.113.0/24", reason: "our office NAT", addedBy: "carol"), config: h.config, at: t0)
        #expect(concerned == [id])
        let r = try #require(try store.remediation(id: id))
        #expect(r.state == .revertPending && r.revertReason?.contains("203.0.113.0/24") == true)
        #expect(try store.allowlistEntries().map(\.value) == ["203.0.113.0/24"])
        // An analyst approves the revert: it goes.
        try store.decide([id], .approve, by: "carol", config: h.config, at: t0)
        #expect(try store.remediation(id: id)?.state == .reverting)
    }

    @Test(arguments: EngineKind.available)
    func anApprovalWaitsOutItsGraceAndCanBeWithdrawnMeanwhile(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(extra: #", "grace": "5s""#))
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"]), at: t0).remediations[0]
        let store = try h.store()
        let approved = try store.decide([id], .approve, by: "alice", config: h.config, at: t0)
        #expect(approved[0].nextAttemptAt == t0.adding(milliseconds: 5000))
        #expect(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0.adding(milliseconds: 1000)).isEmpty)
        let back = try store.decide([id], .withdraw, by: "alice", config: h.config, at: t0.adding(milliseconds: 2000))
        #expect(back[0].state == .pending)
        #expect(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0.adding(milliseconds: 9000)).isEmpty)
    }

    @Test(arguments: EngineKind.available)
    func theInForcePageIsSoonestExpiryFirstPermanentLast(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let t0 = Timestamp.now
        var ids: [Int64] = []
        for i in 0..<6 { ids.append(try dispatched(h, ip: "203.0.113.\(10 + i)", id: "s\(i)", at: t0.adding(milliseconds: Int64(i) * 1000))) }
        let store = try h.store()
        try store.extend([ids[1]], by: nil, actor: "bob", at: t0)
        try store.extend([ids[0]], by: 10_000_000, actor: "bob", at: t0)
        let states = RemediationState.allCases.filter(\.isInForce)
        let all = try store.page(ConsolePageQuery(states: states, order: .soonestExpiry, limit: 100))
        #expect(all.map(\.id) == [ids[2], ids[3], ids[4], ids[5], ids[0], ids[1]])
        for direction in [ConsolePageQuery.Direction.forward, .backward] {
            for row in all {
                for inclusive in [false, true] {
                    let q = ConsolePageQuery(
                        states: states, order: .soonestExpiry, cursor: ConsoleCursor(row), includesCursor: inclusive, direction: direction, limit: 2)
                    #expect(try store.page(q).map(\.id) == q.select(from: all).map(\.id), "\(q)")
                }
            }
        }
    }
}
