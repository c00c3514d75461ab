import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, accountability (issue 14): the two-person rule, pending TTLs, notes and
/// the audit log as one hash chain, on every engine — with several sessions writing at once.
@Suite(.serialized) struct AccountabilityContractTests {
    /// `ban-ip` over HTTP; `extra` adds fields to the action (`"approvals": 2`, `"pending_ttl": "1h"`).
    static func config(_ extra: String = "") -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": {
            "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/ban/{{ip}}", "body": { "ip": "{{ip}}", "by": "{{decided_by}}" } }
                        \(extra) } } }
        """
    }

    /// Every entry of the chain, read page by page as `gavel audit --verify` reads it.
    static func chain(_ store: any Store, page: Int = 3) throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        while true {
            let next = try store.auditChain(after: entries.last?.id ?? 0, limit: page)
            if next.isEmpty { return entries }
            entries += next
        }
    }

    @Test(arguments: EngineKind.available)
    func twoAnalystsMustApproveAndTheSameOneCannotApproveTwice(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(#", "approvals": 2"#))
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"]), at: t0).remediations[0]
        let store = try h.store()
        let first = try store.decide([id], .approve, by: "alice", config: h.config, at: t0)[0]
        #expect(first.state == .pending && first.approvals.map(\.analyst) == ["alice"] && first.boundRequest == nil && first.decidedBy == nil)
        #expect(try store.auditEntries(limit: 1, before: nil, subject: "remediation \(id)").first?.detail == "1 of 2 approvals")
        let twice = Result { () throws(StoreError) in try store.decide([id], .approve, by: "alice", config: h.config, at: t0) }
        guard case .failure(.refused(let message)) = twice else {
            Issue.record("the same analyst approved twice: \(twice)")
            return
        }
        #expect(message.contains("alice already approved remediation \(id)") && message.contains("another analyst"), "\(message)")
        // Nothing is claimable until the second approval; the last one binds the request.
        #expect(try store.claimDue(worker: "h:1:a", limit: 5, leaseMs: 60_000, config: h.config, at: t0).isEmpty)
        let t1 = t0.adding(milliseconds: 1000)
        let second = try store.decide([id], .approve, by: "bob", config: h.config, at: t1)[0]
        #expect(second.state == .approved && second.decidedBy == "bob")
        #expect(second.approvals == [Approval(analyst: "alice", at: t0), Approval(analyst: "bob", at: t1)])
        guard case .http(let request)? = second.boundRequest else {
            Issue.record("no request bound: \(String(describing: second.boundRequest))")
            return
        }
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"ip":"203.0.113.42","by":"bob"}"#)
        // Withdrawn, the approvals go with it: two analysts must approve again.
        let back = try store.decide([id], .withdraw, by: "bob", config: h.config, at: t1)[0]
        #expect(back.state == .pending && back.approvals.isEmpty)
        #expect(try store.decide([id], .approve, by: "alice", config: h.config, at: t1)[0].state == .pending)
        // Auto mode never counts as an approval: a rule in auto leaves it pending, saying why.
        try store.setMode(rule: "Request from unexpected IP address", to: .auto, by: "carol", at: t1)
        let auto = try h.post(signalJSON("s2", ips: ["198.51.100.7"]), at: t1)
        #expect(auto.autoApproved.isEmpty)
        #expect(try store.remediation(id: auto.remediations[0])?.state == .pending)
        let skipped = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(auto.remediations[0])")
        #expect(skipped.contains { $0.action == "auto-skip" && $0.detail?.contains("needs 2 approvals") == true })
    }

    @Test(arguments: EngineKind.available)
    func analystsApprovingAtOnceEachCountOnceAndTheRemediationIsApprovedOnce(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(#", "approvals": 2"#))
        defer { h.close() }
        let ids = try (0..<8).map { try h.post(signalJSON("s\($0)", ips: ["203.0.113.\(10 + $0)"])).remediations[0] }
        let analysts = ["alice", "bob", "carol"]
        let succeeded = Tally()
        let conflicts = Tally()
        let other = Tally()
        let engine = h.engine
        let config = h.config
        DispatchQueue.concurrentPerform(iterations: analysts.count) { i in
            guard let store = try? engine.open(.existing) else { return other.add() }
            for id in ids {
                do {
                    try store.decide([id], .approve, by: analysts[i], config: config, at: .now)
                    succeeded.add()
                } catch {
                    if case .conflict = error as? StoreError { conflicts.add() } else { other.add() }
                }
            }
        }
        // Per remediation: two approvals count (the second approves), the third analyst is told it is decided.
        #expect(succeeded.total == 2 * ids.count && conflicts.total == ids.count && other.total == 0)
        let store = try h.store()
        for id in ids {
            let r = try #require(try store.remediation(id: id))
            #expect(r.state == .approved && r.approvals.count == 2 && r.boundRequest != nil)
            let decisions = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").filter { $0.action == "approve" }
            #expect(decisions.map(\.after) == ["approved", "pending"])
        }
    }

    @Test(arguments: EngineKind.available)
    func aPendingRemediationExpiresAfterItsTTLAndCannotBeApprovedThen(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config(#", "pending_ttl": "1h""#))
        defer { h.close() }
        let t0 = Timestamp.now
        let late = try h.post(signalJSON("s1", ips: ["203.0.113.42"]), at: t0).remediations[0]
        let decided = try h.post(signalJSON("s2", ips: ["198.51.100.7"]), at: t0).remediations[0]
        let store = try h.store()
        try store.decide([decided], .approve, by: "alice", config: h.config, at: t0.adding(milliseconds: 60_000))
        #expect(try store.expirePending(config: h.config, at: t0.adding(milliseconds: 1_800_000)).isEmpty)
        let t1 = t0.adding(milliseconds: 3_600_001)
        // Past its TTL it cannot be approved, even before the sweep marks it.
        let tooLate = Result { () throws(StoreError) in try store.decide([late], .approve, by: "alice", config: h.config, at: t1) }
        guard case .failure(.conflict(let c)) = tooLate else {
            Issue.record("an expired remediation was approved: \(tooLate)")
            return
        }
        #expect(c.state == .expired && c.reason?.contains("pending longer than 1h") == true, "\(c)")
        #expect(try store.expirePending(config: h.config, at: t1) == [late])
        #expect(try store.expirePending(config: h.config, at: t1).isEmpty)
        #expect(try store.remediation(id: late)?.state == .expired)
        #expect(try store.remediation(id: decided)?.state == .approved)
        let expiry = try #require(try store.auditEntries(limit: 1, before: nil, subject: "remediation \(late)").first)
        #expect(expiry.actor == "expiry" && expiry.action == "expire" && expiry.before == "pending" && expiry.after == "expired")
        #expect(try store.stateCounts()[.expired] == 1)
    }

    @Test(arguments: EngineKind.available)
    func notesAreKeptOldestFirstAndAudited(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let t0 = Timestamp.now
        let id = try h.post(signalJSON("s1", ips: ["203.0.113.42"]), at: t0).remediations[0]
        let store = try h.store()
        let text = #"carrier NAT "range"; ask Bob\ before banning ' OR 1=1 --"#
        let first = try store.addNote(to: id, text: text, by: "alice", at: t0)
        try store.addNote(to: id, text: "checked: a scanner", by: "bob", at: t0.adding(milliseconds: 5))
        let notes = try store.notes(ofRemediation: id)
        #expect(notes.map(\.author) == ["alice", "bob"] && notes[0] == first && notes[0].text == text && notes[0].remediationID == id)
        #expect(
            try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").first { $0.action == "note" }?.detail == "checked: a scanner")
        #expect(throws: StoreError.self) { try store.addNote(to: 999, text: "nobody", by: "alice", at: t0) }
        #expect(try store.notes(ofRemediation: 999).isEmpty)
    }

    @Test(arguments: EngineKind.available)
    func theAuditLogIsOneHashChainThatShowsAnEditOrADeletion(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let ids = try (0..<3).map { try h.post(signalJSON("s\($0)", ips: ["203.0.113.\(10 + $0)"])).remediations[0] }
        let store = try h.store()
        try store.decide([ids[0]], .approve, by: "alice", config: h.config, at: .now)
        try store.decide([ids[1]], .reject("a scanner — known, \"harmless\""), by: "bob", config: h.config, at: .now)
        try store.addNote(to: ids[2], text: "watching it", by: "carol", at: .now)
        try store.setMode(rule: "Request from unexpected IP address", to: .dryRun, by: "carol", at: .now)
        let entries = try Self.chain(store)
        #expect(entries.count == 7 && entries.map(\.id) == Array(1...7))
        #expect(entries.first?.previousHash == AuditChain.genesis)
        #expect(AuditChain.verify(entries) == .intact(count: 7, head: entries.last?.hash))
        #expect(try store.auditEntries(limit: 0, before: nil, subject: nil).reversed() == entries)
        // A deleted entry: the next one no longer follows.
        try h.runBehindTheStore("DELETE FROM audit WHERE id = 5")
        guard case .broken(let at, let why) = AuditChain.verify(try Self.chain(store)) else {
            Issue.record("a deletion went unnoticed")
            return
        }
        #expect(at == 6 && why.contains("deleted or inserted"), "\(why)")
        // An edited entry: its content no longer matches its hash (the first break is named).
        try h.runBehindTheStore("UPDATE audit SET detail = 'nothing happened' WHERE id = 3")
        guard case .broken(let edited, let reason) = AuditChain.verify(try Self.chain(store)) else {
            Issue.record("an edit went unnoticed")
            return
        }
        #expect(edited == 3 && reason.contains("edited"), "\(reason)")
    }

    @Test(arguments: EngineKind.available)
    func sessionsWritingAtOnceKeepTheAuditChainOneLine(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind, configJSON: Self.config())
        defer { h.close() }
        let ids = try (0..<20).map { try h.post(signalJSON("s\($0)", ips: ["203.0.113.\(10 + $0)"])).remediations[0] }
        let failures = Tally()
        let writers = 4
        let engine = h.engine
        let config = h.config
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            guard let store = try? engine.open(.existing) else { return failures.add() }
            for (n, id) in ids.enumerated() {
                do {
                    try store.addNote(to: id, text: "note \(n) of writer \(w)", by: "analyst-\(w)", at: .now)
                    if n % writers == w { try store.decide([id], .approve, by: "analyst-\(w)", config: config, at: .now) }
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.total == 0)
        let store = try h.store()
        let entries = try Self.chain(store, page: 50)
        // 20 proposals, 80 notes, 20 approvals: one line, no gaps, every link intact.
        #expect(entries.count == 120 && entries.map(\.id) == Array(1...120))
        #expect(AuditChain.verify(entries) == .intact(count: 120, head: entries.last?.hash))
    }
}
