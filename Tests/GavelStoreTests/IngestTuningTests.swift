import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// The ingest path's performance changes (issue 6) keep behaviour: these check the outcomes
/// the tuning must not change, and the settings it relies on.
@Suite struct IngestTuningTests {
    private func defaults(_ t: TemporaryDatabase) throws -> GavelConfig {
        try GavelConfig.load(path: nil, environment: [:], databasePath: t.path)
    }

    @Test func connectionsKeepSubJournalsInMemoryAndTheWriterCheckpointsEvery4000Pages() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        #expect(try db.query("PRAGMA temp_store").first?.int(0) == 2)
        #expect(try db.query("PRAGMA synchronous").first?.int(0) == 2)  // FULL, unchanged
        let writer = try IngestWriter(path: t.path)
        defer { writer.close() }
        let (checkpoint, synchronous) = try writer.submit { db in
            (try db.query("PRAGMA wal_autocheckpoint").first?.int(0), try db.query("PRAGMA synchronous").first?.int(0))
        }
        #expect(checkpoint == 4000)
        #expect(synchronous == 1)  // NORMAL: its syncer fdatasyncs the log before any caller hears (IngestWriterTests)
    }

    /// Within one batch the intake remembers the rule it resolved and touched; a job rolled back
    /// must take what it established with it, or the next job of the batch would skip the rule
    /// row and its aliases that no longer exist.
    @Test func aRuleTouchedByARolledBackJobIsStillMadeByTheNextJobOfTheBatch() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let config = try defaults(t)
        struct Boom: Error {}
        func body(_ id: String, _ severity: String) -> String {
            #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"memo rule","SECURITY_SIGNAL_SEVERITY":"\#(severity)","#
                + #""SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.7"]}}}}"#
        }
        try db.writeTransaction {
            #expect(throws: Boom.self) {
                try db.writeTransaction {
                    _ = try db.intake(try incoming(body("m1", "critical")), config: config, nowMs: 1000)
                    throw Boom()
                }
            }
            _ = try db.intake(try incoming(body("m2", "low")), config: config, nowMs: 2000)
            _ = try db.intake(try incoming(body("m3", "high")), config: config, nowMs: 3000)  // the remembered rule
            _ = try db.intake(try incoming(body("m4", "medium")), config: config, nowMs: 4000)
        }
        #expect(
            try db.query("SELECT rule_key, last_seen_ms FROM rules").map { [$0.string(0), $0.int64(1).map(String.init)] } == [["memo rule", "4000"]])
        #expect(try db.query("SELECT rule_key FROM rule_aliases WHERE kind = 'name' AND value = 'memo rule'").map { $0.string(0) } == ["memo rule"])
        #expect(try db.query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) } == ["m2", "m3", "m4"])
        // One remediation gathered the three; its rank is the highest seen (high), not the rolled-back critical.
        let r = try #require(try db.query("SELECT signals, severity_rank FROM remediations WHERE target = '203.0.113.7'").first)
        #expect(r.int(0) == 3)
        #expect(r.int(1) == Severity.high.rank)
        #expect(try db.query("SELECT count(*) FROM remediations").first?.int(0) == 1)
    }

    /// A rule renamed during a storm: signals with its old and new names alternate within one
    /// batch. Each touch of the rule row takes the name its signal carries (the last one seen),
    /// so the row ends with the last signal's name, as it would with one batch per signal.
    @Test func aRuleRowTouchedAgainInABatchTakesTheNameOfTheLastSignal() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let config = try defaults(t)
        func body(_ id: String, _ name: String) -> String {
            #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_ID":"rule-1","SECURITY_RULE_NAME":"\#(name)","#
                + #""SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.8"]}}}}"#
        }
        try db.writeTransaction {
            _ = try db.intake(try incoming(body("n1", "Old name")), config: config, nowMs: 1000)
            _ = try db.intake(try incoming(body("n2", "New name")), config: config, nowMs: 2000)
            _ = try db.intake(try incoming(body("n3", "Old name")), config: config, nowMs: 3000)
        }
        #expect(
            try db.query("SELECT rule_key, rule_name, last_seen_ms FROM rules").map { [$0.string(0), $0.string(1), $0.int64(2).map(String.init)] }
                == [["rule-1", "Old name", "3000"]])
    }

    /// The per-batch memo of rule keys must not take two different (id, name) pairs for one: a
    /// NUL inside an attacker's rule id or name must not make another signal's pair collide.
    @Test func ruleIDsAndNamesWithNULsAreNotConfusedWithinABatch() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let config = try defaults(t)
        func body(_ id: String, _ ruleID: String, _ name: String) -> String {
            #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_ID":"\#(ruleID)","SECURITY_RULE_NAME":"\#(name)","#
                + #""SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.9"]}}}}"#
        }
        let first = try incoming(body("z1", #"a\u0000b"#, "c"))
        let second = try incoming(body("z2", "a", #"b\u0000c"#))
        #expect(first.signal.ruleID == "a\u{0}b" && second.signal.ruleName == "b\u{0}c")
        try db.writeTransaction {
            _ = try db.intake(first, config: config, nowMs: 1000)
            _ = try db.intake(second, config: config, nowMs: 2000)
        }
        #expect(
            try db.query("SELECT signal_id, hex(rule_key) FROM signals ORDER BY id").map { [$0.string(0), $0.string(1)] } == [
                ["z1", "610062"], ["z2", "61"],
            ])
    }

    /// The batch memo's promise, checked whole: the same deliveries stored in one transaction
    /// (one ingest batch) and each in its own leave the same rules, aliases, signals and
    /// remediations. They mix renamed rules, ids and names that are a configured rule's key,
    /// auto mode past its budget (throttled), dry-run, allowlisted targets, duplicates and
    /// updates that add entities.
    @Test func deliveriesStoredInOneBatchOrEachAloneLeaveTheSameRows() throws {
        let config = try GavelConfig.load(
            text: #"{"rules": {"R1": {"mode": "auto"}, "Named": {"mode": "auto"}, "D1": {"mode": "dry-run"}}, "auto_limits": {"per_rule": 2}}"#,
            origin: "test",
            environment: [:], databasePath: "/tmp/gavel-memo.db", requireSecret: false)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        let ids = [nil, "R1", "r-2", "Named", "r-3", "D1"]
        let names = [nil, "R1", "Named", "Brute force", "Brute force (renamed)"]
        let severities = ["low", "medium", "high", "critical"]
        var bodies: [String] = []
        for i in 0..<80 {
            let id = ids[next(ids.count)].map { #""SECURITY_RULE_ID":"\#($0)","# } ?? ""
            let name = names[next(names.count)].map { #""SECURITY_RULE_NAME":"\#($0)","# } ?? ""
            let ips = (0...next(2)).map { _ in #""203.0.113.\#(next(6))""# } + (next(5) == 0 ? [#""10.0.0.1""#] : [])
            let signal = next(4) == 0 && i > 0 ? "s\(next(i))" : "s\(i)"  // a duplicate, perhaps with new entities
            bodies.append(
                #"{"SECURITY_SIGNAL_ID":"\#(signal)",\#(id)\#(name)"SECURITY_SIGNAL_SEVERITY":"\#(severities[next(4)])","#
                    + #""SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":[\#(ips.joined(separator: ","))]}}}}"#)
        }
        func rows(_ oneBatch: Bool) throws -> [[String]] {
            let t = TemporaryDatabase()
            defer { t.cleanup() }
            let db = try t.open()
            let deliveries = try bodies.map { try incoming($0) }
            func deliver(_ k: Int) throws { _ = try db.intake(deliveries[k], config: config, nowMs: 1_000_000 + Int64(k) * 1000) }
            if oneBatch {
                try db.writeTransaction { for k in deliveries.indices { _ = try db.writeTransaction { try deliver(k) } } }
            } else {
                for k in deliveries.indices { try db.writeTransaction { try deliver(k) } }
            }
            func dump(_ sql: String) throws -> [String] {
                try db.query(sql).map { row in row.values.indices.map { row.string($0) ?? "null" }.joined(separator: "|") }
            }
            return [
                try dump("SELECT \(SQLiteStore.ruleColumns) FROM rules ORDER BY rule_key"),
                try dump("SELECT kind, value, rule_key FROM rule_aliases ORDER BY kind, value"),
                try dump("SELECT signal_id, rule_key, deliveries FROM signals ORDER BY signal_id"),
                try dump("SELECT id, action, target, state, rule_key, signals, severity_rank FROM remediations ORDER BY id"),
                try dump("SELECT remediation, signal FROM remediation_signals ORDER BY remediation, signal"),
            ]
        }
        let batched = try rows(true)
        let alone = try rows(false)
        for (b, a) in zip(batched, alone) { #expect(b == a) }
        #expect(alone[3].contains { $0.contains("|approved|") } && alone[3].contains { $0.contains("|simulated|") })
        #expect(alone[0].contains { $0.split(separator: "|", omittingEmptySubsequences: false)[5] != "null" })  // a rule throttled
    }

    @Test func derivedFieldsFollowTheBodyAndTheSignal() throws {
        var input = try incoming(#"{"SECURITY_SIGNAL_ID":"d1","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"u1"}}}"#)
        #expect(input.bodySHA256 == SHA256.hex(SHA256.hash(input.rawBody)))
        #expect(input.attributesJSON == #"{"usr":{"id":"u1"}}"#)
        input.rawBody = Array("other".utf8)
        #expect(input.bodySHA256 == SHA256.hex(SHA256.hash(Array("other".utf8))))
        input.signal.attributes = nil
        #expect(input.attributesJSON == nil)
    }

    @Test func storedColumnsMatchTheBodyAndAttributes() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let json = #"{"SECURITY_SIGNAL_ID":"c1","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.9"]}}}}"#
        _ = try db.writeTransaction { try db.record(try incoming(json)) }
        let row = try #require(try db.query("SELECT body_sha256, attributes, raw_body FROM signals WHERE signal_id = 'c1'").first)
        #expect(row.string(0) == SHA256.hex(SHA256.hash(Array(json.utf8))))
        #expect(row.string(1) == #"{"network":{"client":{"ip":["203.0.113.9"]}}}"#)
        #expect(row.bytes(2) == Array(json.utf8))
    }

    @Test func anUpdateStillAppendsEntitiesAfterTheStoredOnes() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let first =
            #"{"SECURITY_SIGNAL_ID":"u","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.1","203.0.113.2"]}}}}"#
        let update =
            #"{"SECURITY_SIGNAL_ID":"u","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.2","203.0.113.3"]}}}}"#
        let a = try db.writeTransaction { try db.record(try incoming(first)) }
        let b = try db.writeTransaction { try db.record(try incoming(update)) }
        #expect(a.newEntities.map(\.value) == ["203.0.113.1", "203.0.113.2"])
        #expect(b.updated && b.newEntities.map(\.value) == ["203.0.113.3"])
        let positions = try db.query("SELECT value, position FROM entities WHERE signal = ? ORDER BY position", [.integer(a.rowID)])
        // The update's new entity sits at base 2 + its index 1 in the update.
        #expect(positions.map { "\($0.string(0)!)@\($0.int(1))" } == ["203.0.113.1@0", "203.0.113.2@1", "203.0.113.3@3"])
    }

    @Test func touchRuleReturnsTheStoredRuleWithItsModeAndDisabledActions() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let created = try db.writeTransaction {
            try db.store.touchRule(key: "rid-1", ruleID: "rid-1", name: "Rule one", startingMode: .manual, at: Timestamp(milliseconds: 1000))
        }
        #expect(created.key == "rid-1" && created.name == "Rule one" && created.mode == .manual && created.lastSeenAt?.milliseconds == 1000)
        try db.store.setMode(rule: "rid-1", to: .auto, by: "alice", at: .now)
        try db.store.setAction(rule: "rid-1", action: "disable-user", enabled: false, by: "alice", at: .now)
        let touched = try db.writeTransaction {
            try db.store.touchRule(key: "rid-1", ruleID: nil, name: nil, startingMode: .manual, at: Timestamp(milliseconds: 2000))
        }
        #expect(touched.mode == .auto)  // the stored mode wins over the config's starting mode
        #expect(touched.disabledActions == ["disable-user"])
        #expect(touched.name == "Rule one" && touched.ruleID == "rid-1")  // coalesce keeps known values
        #expect(touched.lastSeenAt?.milliseconds == 2000)
        #expect(try db.store.rule(named: "rid-1") == touched)
    }

    @Test func claimNextWithNothingDueDoesNotNeedTheWriteLock() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let holder = try t.open()
        let dispatcher = try Database(path: t.path, busyTimeoutMs: 50)
        try holder.execute("BEGIN IMMEDIATE")
        #expect(try dispatcher.claimNext(worker: "h:1:a") == nil)  // no SQLITE_BUSY: it only looked
        try holder.execute("ROLLBACK")
    }

    @Test func claimNextStillClaimsWhatIsDueExactlyOnce() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let config = try defaults(t)
        let input = try incoming(
            #"{"SECURITY_SIGNAL_ID":"x1","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.7"]}}}}"#)
        let ids = try db.writeTransaction { try db.intake(input, config: config, nowMs: Timestamp.nowMs()).remediations }
        try #require(ids.count == 1)
        try db.decide(ids, .approve, by: "alice")
        let claim = try #require(try db.claimNext(worker: "h:1:a"))
        #expect(claim.id == ids[0] && claim.remediation.target == "203.0.113.7")
        #expect(try db.claimNext(worker: "h:1:a") == nil)
        // While another connection holds the write lock, a due remediation is waited for, not skipped.
        let other = try Database(path: t.path, busyTimeoutMs: 50)
        try db.run("UPDATE remediations SET state = 'approved' WHERE id = ?", [.integer(ids[0])])
        let holder = try t.open()
        try holder.execute("BEGIN IMMEDIATE")
        #expect(throws: StoreError.self) { try other.claimNext(worker: "h:1:b") }
        try holder.execute("ROLLBACK")
    }

    @Test func aBatchWithFailingJobsBetweenGoodOnesKeepsExactlyTheGoodOnes() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        struct Boom: Error {}
        let n = 64
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let input = try! incoming(#"{"SECURITY_SIGNAL_ID":"b-\#(i)","SECURITY_RULE_NAME":"r"}"#)
            _ = try? writer.submit { db -> Bool in
                _ = try db.record(input)
                if i % 3 == 0 { throw Boom() }
                return true
            }
        }
        writer.close()
        let db = try t.open()
        let stored = Set(try db.query("SELECT signal_id FROM signals").compactMap { $0.string(0) })
        #expect(stored == Set((0..<n).filter { $0 % 3 != 0 }.map { "b-\($0)" }))
        #expect(try db.query("SELECT count(*) FROM deliveries").first?.int(0) == stored.count)
    }
}
