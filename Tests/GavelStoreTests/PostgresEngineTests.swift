import Foundation
import GavelCore
import GavelStore
import GavelTestSupport
import Testing

@testable import GavelStorePostgres

/// What the PostgreSQL engine does beyond the store contract: where a URI leads (missing,
/// foreign, unreachable), migrations racing, passwords never shown.
@Suite(.serialized, .enabled(if: PostgresCluster.unavailableReason == nil, "needs PostgreSQL server binaries"))
struct PostgresEngineTests {
    func engine() throws -> (PostgresEngine, PostgresCluster, String) {
        let cluster = try PostgresCluster.shared.get()
        let uri = try cluster.createDatabase()
        return (PostgresEngine(uri: uri, displayName: uri), cluster, String(uri.split(separator: "/").last ?? ""))
    }

    @Test func anEmptyDatabaseIsNotOpenedAsExistingAndAForeignOneIsRefusedUntouched() throws {
        let (engine, cluster, name) = try engine()
        let missing = Result { () throws(StoreError) in try engine.open(.existing) }
        guard case .failure(.location(let message)) = missing else {
            Issue.record("expected a location error, got \(missing)")
            return
        }
        #expect(message.contains("no gavel database"))
        #expect(try cluster.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", database: name).hasPrefix("0"))
        try cluster.psql("CREATE TABLE invoices (id int)", database: name)
        let foreign = Result { () throws(StoreError) in try engine.open(.create) }
        guard case .failure(.location(let refusal)) = foreign else {
            Issue.record("expected a refusal, got \(foreign)")
            return
        }
        #expect(refusal.contains("not a gavel database") && refusal.contains("invoices"))
        #expect(try cluster.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", database: name).hasPrefix("1"))
    }

    @Test func processesStartingTogetherMigrateOnce() throws {
        let (engine, cluster, name) = try engine()
        let failures = Tally()
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do { _ = try engine.open(.create) } catch { failures.add() }
        }
        #expect(failures.total == 0)
        // Each version once, numbered as the SQLite engine's schema (v1–v4 are one step here).
        let versions = try cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM gavel_schema", database: name)
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "4,5,6,7,8,9")
    }

    @Test func anUnreachableServerIsALocationErrorThatNeverShowsThePassword() throws {
        let port = LoopbackSink.closedPort()
        let uri = "postgres://alice:hunter2%21@127.0.0.1:\(port)/gavel?password=hunter3"
        let engine = PostgresEngine(uri: uri, displayName: "postgres://alice:****@127.0.0.1:\(port)/gavel?password=****")
        let opened = Result { () throws(StoreError) in try engine.open(.existing) }
        guard case .failure(.location(let message)) = opened else {
            Issue.record("expected a location error, got \(opened)")
            return
        }
        #expect(message.contains("cannot connect") && !message.contains("hunter"))
        #expect(PGConnection.passwords(in: uri).contains("hunter2!"))
        #expect(PGConnection.scrub("bad password hunter2! and hunter3", PGConnection.passwords(in: uri)) == "bad password **** and ****")
    }

    @Test func entitiesWithQuotesBackslashesAndBracesAreStoredAsSent() throws {
        let h = try StoreHarness(.postgres)
        defer { h.close() }
        try h.post(signalJSON("q1", ips: ["203.0.113.5"], users: [#"o'ne\"il\\x,{y} NULL"#]))
        let stored = try h.store().signals(limit: 0, before: nil)
        #expect(stored.first?.signal.users == [#"o'ne"il\x,{y} NULL"#])
        #expect(stored.first?.signal.ips.map(\.description) == ["203.0.113.5"])
    }

    @Test func theChangeFeedReportsADecisionMadeInAnotherSession() throws {
        let (engine, _, _) = try engine()
        let store = try engine.open(.create)
        let seen = Tally()
        let watch = try #require(engine.watchChanges { seen.add() })
        defer { watch.cancel() }
        usleep(300_000)
        let before = seen.total
        try store.setMode(rule: "Brute force", to: .auto, by: "alice", at: .now)
        let deadline = Date().addingTimeInterval(2)
        while seen.total == before && Date() < deadline { usleep(10_000) }
        #expect(seen.total > before)
    }

    @Test func aPostOfSeveralAlertsIsStoredWholeOrNotAtAll() throws {
        let h = try StoreHarness(.postgres)
        defer { h.close() }
        let name = String(h.engine.displayName.split(separator: "/").last ?? "")
        let cluster = try PostgresCluster.shared.get()
        let body =
            "["
            + (1...3).map { #"{"scenario":"crowdsecurity/ssh-bf","uuid":"cs-\#($0)","source":{"scope":"Ip","value":"203.0.113.\#($0)"}}"# }
            .joined(separator: ",") + "]"
        let signals = try SenderIntake.signals(body: Array(body.utf8), format: .json, sender: .crowdsec)
        let post = IncomingPost(signals: signals, rawBody: Array(body.utf8), contentType: "application/json", peer: "127.0.0.1:7")
        // The second signal's insert fails: nothing of the post may remain.
        try cluster.psql(
            """
            CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.signal_id = 'cs-2' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER boom BEFORE INSERT ON signals FOR EACH ROW EXECUTE FUNCTION boom();
            """, database: name)
        let intake = try h.intake()
        #expect(throws: StoreError.self) { try intake.intake(post: post) }
        for table in ["signals", "deliveries", "posts", "remediations", "entities"] {
            #expect(try cluster.psql("SELECT count(*) FROM \(table)", database: name).hasPrefix("0"), "\(table)")
        }
        try cluster.psql("DROP TRIGGER boom ON signals", database: name)
        let outcomes = try intake.intake(post: post)
        #expect(outcomes.count == 3 && outcomes.allSatisfy { $0.remediations.count == 1 })
        let kept = try cluster.psql("SELECT alerts || '|' || encode(sha256(body), 'hex') || '|' || body_sha256 FROM posts", database: name)
        let sha = SHA256.hex(Array(body.utf8))
        #expect(kept.trimmingCharacters(in: .whitespacesAndNewlines) == "3|\(sha)|\(sha)")
        #expect(try cluster.psql("SELECT count(DISTINCT post) FROM deliveries WHERE post IS NOT NULL", database: name).hasPrefix("1"))
    }

    @Test func aVersion6DatabaseIsMigratedToSevenKeepingItsEntitiesAndTakingContextKinds() throws {
        let h = try StoreHarness(.postgres)
        defer { h.close() }
        let name = String(h.engine.displayName.split(separator: "/").last ?? "")
        let cluster = try PostgresCluster.shared.get()
        try h.post(signalJSON("m6", ips: ["203.0.113.9"], users: ["u@example.com"]))
        // Back to version 6: the v9, v8 and v7 additions removed, the entities CHECK of v4.
        try cluster.psql(
            """
            ALTER TABLE attempts DROP COLUMN stderr;
            DROP INDEX remediations_batch; DROP INDEX remediations_due; ALTER TABLE remediations DROP COLUMN batch_key; ALTER TABLE attempts DROP COLUMN batch_key;
            CREATE INDEX remediations_due ON remediations(state, next_attempt_ms) WHERE state IN ('approved','dispatching');
            ALTER TABLE signals DROP COLUMN status, DROP COLUMN suggested_duration_s, DROP COLUMN event_count, DROP COLUMN first_seen,
                DROP COLUMN last_seen;
            DROP TABLE posts; ALTER TABLE deliveries DROP COLUMN post; ALTER TABLE remediations DROP COLUMN false_positive;
            DROP TABLE triage_updates; ALTER TABLE attempts DROP COLUMN triage;
            ALTER TABLE entities DROP CONSTRAINT entities_kind_check;
            ALTER TABLE entities ADD CONSTRAINT entities_kind_check
                CHECK (kind IN ('ip','user','security_group','invalid_ip','user_email','user_name','actor'));
            DELETE FROM gavel_schema WHERE version > 6;
            """, database: name)
        let migrated = try h.engine.open(.existing)
        let before = try #require(try migrated.signals(limit: 0, before: nil).first)
        #expect(before.signal.ips.map(\.description) == ["203.0.113.9"] && before.signal.users == ["u@example.com"])
        #expect(before.signal.status == .firing && before.source == "datadog")
        // The extended CHECK takes a GuardDuty finding's context.
        let body = SenderSamples.text("guardduty")
        let signals = try SenderIntake.signals(body: Array(body.utf8), format: .json, sender: .guardduty)
        _ = try h.intake().intake(post: IncomingPost(signals: signals, rawBody: Array(body.utf8), contentType: nil, peer: nil))
        #expect(try migrated.signalCount(naming: "10.0.2.15", kind: "context_ip") == 1)
        let versions = try cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM gavel_schema", database: name)
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "4,5,6,7,8,9")
    }

    @Test func aVersion4DatabaseIsMigratedWithItsAuditChainedAndWhatIsInForceDated() throws {
        let h = try StoreHarness(.postgres, configJSON: contractHTTPConfig)
        defer { h.close() }
        let name = String(h.engine.displayName.split(separator: "/").last ?? "")
        let cluster = try PostgresCluster.shared.get()
        let id = try h.post(signalJSON("m1", ips: ["203.0.113.42"])).remediations[0]
        try h.post(signalJSON("m2", ips: ["198.51.100.7"]))
        let store = try h.store()
        try store.decide([id], .approve, by: "alice", config: h.config, at: .now)
        let claim = try #require(try store.claimDue(worker: "h:1:a", limit: 1, leaseMs: 60_000, config: h.config, at: .now).first)
        try store.finish(claim, AttemptReport(result: .dispatched, status: 200, response: #"{"id":"r-1"}"#), config: h.config, at: .now)
        // Back to what a version-4 database held: no v5/v6/v7/v8 columns or tables, audit rows unchained.
        try cluster.psql(
            """
            DROP INDEX remediations_batch; DROP INDEX remediations_due; ALTER TABLE remediations DROP COLUMN batch_key; ALTER TABLE attempts DROP COLUMN batch_key;
            CREATE INDEX remediations_due ON remediations(state, next_attempt_ms) WHERE state IN ('approved','dispatching');
            ALTER TABLE signals DROP COLUMN status, DROP COLUMN suggested_duration_s, DROP COLUMN event_count, DROP COLUMN first_seen,
                DROP COLUMN last_seen;
            DROP TABLE posts; ALTER TABLE deliveries DROP COLUMN post; ALTER TABLE remediations DROP COLUMN false_positive;
            DROP TABLE triage_updates; ALTER TABLE attempts DROP COLUMN triage;
            ALTER TABLE remediations DROP COLUMN dispatched_ms, DROP COLUMN expires_ms, DROP COLUMN duration_ms, DROP COLUMN suggested_duration_ms,
                DROP COLUMN dispatch_response, DROP COLUMN revert_request, DROP COLUMN reverted_by, DROP COLUMN reverted_ms, DROP COLUMN revert_reason;
            DROP INDEX remediations_action_target; ALTER TABLE attempts DROP COLUMN kind, DROP COLUMN stderr; DROP TABLE allowlist_entries;
            DROP TABLE approvals; DROP TABLE notes;
            ALTER TABLE audit DROP COLUMN prev_hash, DROP COLUMN hash; DELETE FROM gavel_schema WHERE version > 4;
            """, database: name)
        let migrated = try h.engine.open(.existing)
        var entries: [AuditEntry] = []
        while true {
            let more = try migrated.auditChain(after: entries.last?.id ?? 0, limit: 2)
            if more.isEmpty { break }
            entries += more
        }
        #expect(entries.map(\.action) == ["propose", "propose", "approve", "dispatch"])
        #expect(AuditChain.verify(entries) == .intact(count: 4, head: entries.last?.hash))
        let r = try #require(try migrated.remediation(id: id))
        #expect(r.state == .dispatched && r.inForceSince == r.updatedAt && r.dispatchResponse == #"{"id":"r-1"}"#)
        #expect(try migrated.attempts(ofRemediation: id).map(\.kind) == [.dispatch])
        // New entries go on from the chained head.
        try migrated.addNote(to: id, text: "after the migration", by: "bob", at: .now)
        let all = try migrated.auditChain(after: 0, limit: 0)
        #expect(AuditChain.verify(all) == .intact(count: 5, head: all.last?.hash) && all.prefix(4) == entries[...])
        let versions = try cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM gavel_schema", database: name)
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "4,5,6,7,8,9")
    }
}
