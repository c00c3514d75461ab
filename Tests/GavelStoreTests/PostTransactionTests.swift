import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// A post of several alerts on SQLite: kept once byte for byte, its signals' deliveries linked to
/// it, and stored all or none in one transaction (schema v7).
@Suite struct PostTransactionTests {
    static func alerts(_ n: Int) -> String {
        let items = (1...n).map {
            #"{"scenario":"crowdsecurity/ssh-bf","uuid":"cs-\#($0)","source":{"scope":"Ip","value":"203.0.113.\#($0)"},"decisions":[]}"#
        }
        return "[" + items.joined(separator: ",") + "]"
    }

    static func post(_ body: String) throws -> IncomingPost {
        let signals = try SenderIntake.signals(body: Array(body.utf8), format: .json, sender: .crowdsec)
        return IncomingPost(signals: signals, rawBody: Array(body.utf8), contentType: "application/json", peer: "127.0.0.1:7")
    }

    @Test func aPostIsKeptOnceAndEverySignalOfItIsStoredOrNone() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let config = GavelConfig.builtInDefaults(databasePath: t.path)
        let intake = SQLiteIntake(writer: try IngestWriter(path: t.path), config: { config })
        defer { intake.close() }
        // The second signal's insert fails: nothing of the post may remain.
        try intake.writer.withConnection { store in
            try store.db.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON signals WHEN new.signal_id = 'cs-2' BEGIN SELECT raise(ABORT, 'boom'); END")
        }
        let body = Self.alerts(3)
        #expect(throws: StoreError.self) { try intake.intake(post: try Self.post(body)) }
        let db = try t.open()
        for table in ["signals", "deliveries", "posts", "remediations", "entities"] {
            #expect(try db.query("SELECT count(*) FROM \(table)").first?.int(0) == 0, "\(table)")
        }
        try intake.writer.withConnection { store in try store.db.execute("DROP TRIGGER boom") }
        let outcomes = try intake.intake(post: try Self.post(body))
        #expect(outcomes.count == 3 && outcomes.allSatisfy { $0.remediations.count == 1 })
        let posts = try db.query("SELECT id, body, alerts, body_sha256 FROM posts")
        #expect(posts.count == 1 && posts[0].bytes(1) == Array(body.utf8) && posts[0].int(2) == 3)
        #expect(posts[0].string(3) == SHA256.hex(Array(body.utf8)))
        let linked = try db.query("SELECT DISTINCT post FROM deliveries").map { $0.int64(0) }
        #expect(linked == [posts[0].int64(0)])
        // Each signal keeps its own alert's bytes, not the whole post 3 times.
        let raw = try db.query("SELECT raw_body FROM signals WHERE signal_id = 'cs-2'").first?.bytes(0) ?? []
        #expect(String(decoding: raw, as: UTF8.self).contains("203.0.113.2") && !String(decoding: raw, as: UTF8.self).contains("203.0.113.3"))
    }

    @Test func aPostOfOneSignalIsItsDeliveryAsBefore() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let config = GavelConfig.builtInDefaults(databasePath: t.path)
        let intake = SQLiteIntake(writer: try IngestWriter(path: t.path), config: { config })
        defer { intake.close() }
        let body = Self.alerts(1)
        _ = try intake.intake(post: try Self.post(body))
        let db = try t.open()
        #expect(try db.query("SELECT count(*) FROM posts").first?.int(0) == 0)
        #expect(try db.query("SELECT raw_body FROM signals").first?.bytes(0) == Array(body.utf8))
        #expect(try db.query("SELECT post FROM deliveries").first?[0] == SQLValue.null)
    }

    @Test func migrationSevenKeepsEntitiesAndTheirDerivedRows() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        do {
            let db = try t.open()
            let config = GavelConfig.builtInDefaults(databasePath: t.path)
            _ = try db.writeTransaction {
                try db.intake(
                    try incoming(
                        #"{"SECURITY_SIGNAL_ID":"m7","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.9"]}},"usr":{"id":"u@example.com"}}}"#
                    ),
                    config: config, nowMs: 1000)
            }
            // Back to version 6: the v9, v8 and v7 additions removed, the entities CHECK of v1.
            try db.execute(
                """
                ALTER TABLE attempts DROP COLUMN stderr;
                DROP INDEX remediations_due; DROP INDEX remediations_batch; ALTER TABLE remediations DROP COLUMN batch_key;
                ALTER TABLE attempts DROP COLUMN batch_key;
                ALTER TABLE signals DROP COLUMN status; ALTER TABLE signals DROP COLUMN suggested_duration_s;
                ALTER TABLE signals DROP COLUMN event_count; ALTER TABLE signals DROP COLUMN first_seen; ALTER TABLE signals DROP COLUMN last_seen;
                DROP TABLE posts; ALTER TABLE deliveries DROP COLUMN post; ALTER TABLE remediations DROP COLUMN false_positive;
                DROP TABLE triage_updates; ALTER TABLE attempts DROP COLUMN triage;
                PRAGMA user_version = 6;
                """)
        }
        let db = try t.open()
        #expect(try db.query("PRAGMA user_version").first?.int(0) == Schema.latestVersion)
        #expect(try db.query("SELECT kind, value FROM entities ORDER BY position").map { $0.string(1) ?? "" } == ["203.0.113.9", "u@example.com"])
        #expect(try db.query("SELECT count(*) FROM remediation_entities").first?.int(0) == 4)
        // The rebuilt table takes the new kinds, and its trigger still feeds remediation_entities.
        let config = GavelConfig.builtInDefaults(databasePath: t.path)
        let out = try db.writeTransaction {
            try db.intake(
                try incoming(
                    #"{"SECURITY_SIGNAL_ID":"m7b","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.9","203.0.113.10"]}}}}"#
                ),
                config: config, nowMs: 2000)
        }
        #expect(out.remediations.count == 2)
        try db.run("INSERT INTO entities (signal, kind, value, position, delivery) VALUES (1, 'context_ip', '10.0.0.1', 9, 1)")
        #expect(throws: SQLiteError.self) {
            try db.run("INSERT INTO entities (signal, kind, value, position, delivery) VALUES (1, 'bogus', 'x', 10, 1)")
        }
        #expect(try db.query("PRAGMA foreign_key_check").isEmpty)
    }
}
