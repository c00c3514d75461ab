import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// Schema v3's derived tables (remediation_entities, remediation_counts) against the base rows
/// they summarise, through the real ingest, decision and dispatch paths and through raw SQL.
@Suite struct DerivedTablesTests {
    /// remediation_entities recomputed from remediation_signals ⋈ entities, as the console read it before v3.
    static let entitiesFromBase = """
        SELECT rs.remediation, e.kind, e.value, min(e.signal), min(e.position) FROM remediation_signals rs
        JOIN entities e ON e.signal = rs.signal WHERE e.kind IN ('ip','user') GROUP BY rs.remediation, e.kind, e.value
        ORDER BY 1, 2, 3
        """
    static let entitiesDerived = "SELECT remediation, kind, value, first_signal, first_position FROM remediation_entities ORDER BY 1, 2, 3"
    static let countsFromBase = "SELECT rule_key, state, count(*) FROM remediations GROUP BY 1, 2 ORDER BY 1, 2"
    static let countsDerived = "SELECT rule_key, state, n FROM remediation_counts WHERE n != 0 ORDER BY 1, 2"

    func rows(_ db: Database, _ sql: String) throws -> [[String]] {
        try db.query(sql).map { r in r.values.map { "\($0)" } }
    }

    func expectConsistent(_ db: Database, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let derived = try rows(db, Self.entitiesDerived)
        #expect(derived == (try rows(db, Self.entitiesFromBase)), sourceLocation: sourceLocation)
        #expect(try rows(db, Self.countsDerived) == (try rows(db, Self.countsFromBase)), sourceLocation: sourceLocation)
    }

    func signal(_ id: String, rule: String = "Brute force", ips: [String], user: String? = nil, severity: String = "high") throws -> IncomingSignal {
        let ipList = ips.map { "\"\($0)\"" }.joined(separator: ",")
        let usr = user.map { #","usr":{"id":"\#($0)"}"# } ?? ""
        return try incoming(
            #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"\#(rule)","SECURITY_SIGNAL_SEVERITY":"\#(severity)","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":[\#(ipList)]}}\#(usr)}}"#
        )
    }

    /// A small history: storms on two IPs, users with LIKE metacharacters and non-ASCII, a
    /// redelivery that adds an IP to an old signal, decisions and dispatch outcomes.
    func fill(_ db: Database, _ config: GavelConfig) throws {
        let users = ["a_b@example.com", "50%off@example.com", "back\\\\slash@example.com", "ÄRGER@example.com", "a_b@example.com"]
        for i in 0..<40 {
            let ips = i % 3 == 0 ? ["203.0.113.7", "198.51.100.\(i % 5)"] : ["203.0.113.\(7 + i % 4)"]
            let input = try signal(
                "s\(i)", rule: i % 2 == 0 ? "Brute force" : "Card fraud", ips: ips, user: i % 4 == 0 ? users[i % 5] : nil,
                severity: ["low", "high", "critical"][i % 3])
            _ = try db.writeTransaction { try db.intake(input, config: config, nowMs: 1_000 + Int64(i)) }
        }
        // A redelivery of s3 with one more IP (and a new user): entities appended to an old signal.
        let again = try signal("s3", rule: "Card fraud", ips: ["203.0.113.10", "192.0.2.99"], user: "late@example.com", severity: "high")
        _ = try db.writeTransaction { try db.intake(again, config: config, nowMs: 5_000) }
        let pending = try db.query("SELECT id FROM remediations WHERE state = 'pending' ORDER BY id").compactMap { $0.int64(0) }
        try #require(pending.count >= 4)
        try db.decide([pending[0]], .approve, by: "alice")
        try db.decide([pending[1]], .reject("false positive"), by: "bob")
        try db.decide([pending[2]], .approve, by: "alice")
        if let claim = try db.claimNext(worker: "w:1") {
            try db.store.finish(claim, AttemptReport(result: .dispatched, status: 200, durationMs: 3), config: config, at: .now)
        }
    }

    @Test func triggersKeepBothTablesEqualToTheirBaseRows() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let config = try GavelConfig.load(path: nil, environment: [:], databasePath: t.path)
        try fill(db, config)
        #expect(try db.query("SELECT count(*) FROM remediation_entities").first?.int(0) ?? 0 > 10)
        #expect(try db.query("SELECT count(DISTINCT state) FROM remediations").first?.int(0) ?? 0 >= 3)
        try expectConsistent(db)
        // The late IP of s3 joined its remediations with s3's row id, not the redelivery's.
        let s3 = try #require(try db.query("SELECT id FROM signals WHERE signal_id = 's3'").first?.int64(0))
        let late = try db.query("SELECT DISTINCT first_signal FROM remediation_entities WHERE value = '192.0.2.99'").map { $0.int64(0) }
        #expect(late == [s3])
        #expect(
            try db.query("SELECT count(*) FROM remediation_entities WHERE kind = 'user' AND value IN ('late@example.com', '50%off@example.com')")
                .first?.int(0) ?? 0 >= 2)
        // Without the entities trigger the redelivery's IP would be missing: the check above has teeth.
        try db.execute("DROP TRIGGER remediation_entities_entity")
        _ = try db.writeTransaction {
            try db.intake(
                try signal("s6", rule: "Card fraud", ips: ["203.0.113.9", "192.0.2.100"], severity: "critical"), config: config, nowMs: 6_000)
        }
        #expect(try rows(db, Self.entitiesDerived) != (try rows(db, Self.entitiesFromBase)))
    }

    @Test func rawWritesOutsideGavelAreFollowedToo() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        try fill(db, try GavelConfig.load(path: nil, environment: [:], databasePath: t.path))
        // An older signal linked late lowers first_signal; an unlink recomputes; a moved rule and
        // deleted rows move the counts.
        let (r, first) = try #require(
            try db.query("SELECT remediation, min(signal) FROM remediation_signals GROUP BY remediation ORDER BY 1 DESC LIMIT 1").first.map {
                ($0.int64(0)!, $0.int64(1)!)
            })
        try db.run("INSERT OR IGNORE INTO remediation_signals (remediation, signal) VALUES (?, 1)", [.integer(r)])
        try expectConsistent(db)
        try db.run("DELETE FROM remediation_signals WHERE remediation = ? AND signal = ?", [.integer(r), .integer(first)])
        try expectConsistent(db)
        try db.run("UPDATE remediations SET rule_key = 'moved', state = 'failed' WHERE id = (SELECT min(id) FROM remediations)")
        try db.run("UPDATE remediations SET signals = signals + 1, updated_ms = 9")  // no state change: no count change
        try expectConsistent(db)
        try db.run("DELETE FROM remediations WHERE id IN (SELECT id FROM remediations ORDER BY id DESC LIMIT 2)")
        try expectConsistent(db)
        try db.run("DELETE FROM signals WHERE id = 2")
        try expectConsistent(db)
    }

    @Test func migration3FillsBothTablesFromAnExistingDatabase() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let before: [[String]]
        let counts: [[String]]
        do {
            let db = try t.open()
            try fill(db, try GavelConfig.load(path: nil, environment: [:], databasePath: t.path))
            before = try rows(db, Self.entitiesFromBase)
            counts = try rows(db, Self.countsFromBase)
            // Back to a version-2 database holding the same rows.
            try db.execute(
                """
                DROP TABLE remediation_entities; DROP TABLE remediation_counts;
                DROP TRIGGER IF EXISTS remediation_entities_link; DROP TRIGGER IF EXISTS remediation_entities_entity;
                DROP TRIGGER IF EXISTS remediation_entities_unlink; DROP TRIGGER IF EXISTS remediation_counts_insert;
                DROP TRIGGER IF EXISTS remediation_counts_update; DROP TRIGGER IF EXISTS remediation_counts_delete;
                DROP TABLE rule_aliases; DROP TABLE configurations; ALTER TABLE entities DROP COLUMN folded;
                DROP TABLE allowlist_entries; DROP INDEX remediations_expiry; DROP INDEX remediations_action_target;
                ALTER TABLE attempts DROP COLUMN kind; ALTER TABLE attempts DROP COLUMN stderr;
                ALTER TABLE remediations DROP COLUMN dispatched_ms; ALTER TABLE remediations DROP COLUMN expires_ms;
                ALTER TABLE remediations DROP COLUMN duration_ms; ALTER TABLE remediations DROP COLUMN suggested_duration_ms;
                ALTER TABLE remediations DROP COLUMN dispatch_response; ALTER TABLE remediations DROP COLUMN revert_request;
                ALTER TABLE remediations DROP COLUMN reverted_by; ALTER TABLE remediations DROP COLUMN reverted_ms;
                ALTER TABLE remediations DROP COLUMN revert_reason;
                ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash; DROP TABLE approvals; DROP TABLE notes;
                ALTER TABLE signals DROP COLUMN status; ALTER TABLE signals DROP COLUMN suggested_duration_s;
                ALTER TABLE signals DROP COLUMN event_count; ALTER TABLE signals DROP COLUMN first_seen; ALTER TABLE signals DROP COLUMN last_seen;
                DROP TABLE posts; ALTER TABLE deliveries DROP COLUMN post; ALTER TABLE remediations DROP COLUMN false_positive;
                DROP TABLE triage_updates; ALTER TABLE attempts DROP COLUMN triage;
                DROP INDEX remediations_due; DROP INDEX remediations_batch; ALTER TABLE remediations DROP COLUMN batch_key; ALTER TABLE attempts DROP COLUMN batch_key;
                PRAGMA user_version = 2;
                """)
        }
        let db = try t.open()
        #expect(try db.query("PRAGMA user_version").first?.int(0) == Schema.latestVersion)
        #expect(try rows(db, Self.entitiesDerived) == before)
        #expect(try rows(db, Self.countsDerived) == counts)
        #expect(!before.isEmpty && !counts.isEmpty)
    }

    @Test func stateAndRuleCountsReadTheCountsTable() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        #expect(try db.store.stateCounts().isEmpty && db.store.ruleCounts().isEmpty)
        try fill(db, try GavelConfig.load(path: nil, environment: [:], databasePath: t.path))
        var states: [RemediationState: Int] = [:]
        for r in try db.query("SELECT state, count(*) FROM remediations GROUP BY state") {
            states[RemediationState(rawValue: r.string(0)!)!] = r.int(1)
        }
        #expect(try db.store.stateCounts() == states)
        let rules = try db.store.ruleCounts()
        for r in try db.query("SELECT rule_key, sum(state = 'pending'), sum(state = 'dispatched') FROM remediations GROUP BY rule_key") {
            #expect(rules[r.string(0)!]?.pending == r.int(1) && rules[r.string(0)!]?.dispatched == r.int(2))
        }
        // A state that no longer has rows disappears from the counts, as with GROUP BY.
        try db.run("UPDATE remediations SET state = 'rejected' WHERE state = 'pending'")
        #expect(try db.store.stateCounts()[.pending] == nil)
        #expect(try db.store.stateCounts()[.rejected] == (try db.query("SELECT count(*) FROM remediations WHERE state = 'rejected'").first?.int(0)))
    }
}
