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
        #expect(try cluster.psql("SELECT string_agg(version::text, ',') FROM gavel_schema", database: name).hasPrefix("1"))
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
}
