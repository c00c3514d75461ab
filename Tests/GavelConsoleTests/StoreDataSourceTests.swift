import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole
@testable import GavelStoreSQLite

/// StoreDataSource against rows in SQLite: its keyset pages must equal the reference semantics
/// (`ConsolePageQuery.select(from:)`) for every cursor, direction, state set and filter, and its
/// rows must show the IPs and users the base tables hold.
@Suite struct StoreDataSourceTests {
    final class Fixture {
        let folder = NSTemporaryDirectory() + "gavel-console-store-" + UUID().uuidString
        let db: Database
        let source: StoreDataSource

        init() throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            db = try Database(path: folder + "/gavel.db")
            let config = try GavelConfig.load(path: nil, environment: [:], databasePath: folder + "/gavel.db")
            source = StoreDataSource(store: SQLiteStore(db: db), config: { config }, listenAddress: nil)
            let users = ["a_b@example.com", "50%off@example.com", "ÄRGER@example.com", "plain@example.com"]
            for i in 0..<36 {
                let ips = (0...(i % 3)).map { "203.0.113.\((i + $0 * 5) % 9)" }.map { "\"\($0)\"" }.joined(separator: ",")
                let usr = i % 2 == 0 ? #","usr":{"id":"\#(users[(i / 2) % 4])"}"# : ""
                let json =
                    #"{"SECURITY_SIGNAL_ID":"s\#(i)","SECURITY_RULE_NAME":"\#(i % 3 == 0 ? "Brute force" : "Card_fraud 100%")","SECURITY_SIGNAL_SEVERITY":"\#(["low", "high", "critical", "medium"][i % 4])","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":[\#(ips)]}}\#(usr)}}"#
                let body = Array(json.utf8)
                let input = IncomingSignal(
                    signal: try SignalPayload.decode(body: body, format: .json), rawBody: body,
                    contentType: "application/json", peer: "127.0.0.1:1")
                var at = input
                at.receivedAt = Timestamp(milliseconds: 1_000_000 + Int64(i))
                _ = try db.writeTransaction { try SQLiteStore(db: db).intake(at, config: config) }
            }
            // Ties on every sort key but the id, a severity-less row, and a mix of states.
            try db.run("UPDATE remediations SET created_ms = 5000 + (id % 4) * 1000, severity_rank = CASE WHEN id % 7 = 0 THEN -1 ELSE id % 3 END")
            try db.run("UPDATE remediations SET state = 'rejected', reason = 'no' WHERE id % 5 = 1")
            try db.run("UPDATE remediations SET state = 'dispatched' WHERE id % 5 = 2")
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }

        func all() throws -> [Remediation] {
            try source.page(ConsolePageQuery(states: [], order: .newestFirst, limit: 1000))
        }
    }

    func queries(_ all: [Remediation], filter: String?) -> [ConsolePageQuery] {
        var out: [ConsolePageQuery] = []
        for order in [ConsolePageQuery.Order.severityThenOldest, .newestFirst] {
            for states in [[], [RemediationState.pending], [.pending, .rejected]] {
                for direction in [ConsolePageQuery.Direction.forward, .backward] {
                    out.append(ConsolePageQuery(states: states, order: order, filter: filter, direction: direction, limit: 4))
                    for row in all {
                        for inclusive in [false, true] {
                            out.append(
                                ConsolePageQuery(
                                    states: states, order: order, filter: filter, cursor: ConsoleCursor(row),
                                    includesCursor: inclusive, direction: direction, limit: 4))
                        }
                    }
                }
            }
        }
        return out
    }

    @Test func pagesEqualTheReferenceForEveryCursorAndFilter() throws {
        let f = try Fixture()
        let all = try f.all()
        #expect(all.count == (try f.db.query("SELECT count(*) FROM remediations").first?.int(0)))
        #expect(Set(all.map(\.state)).count >= 3 && all.contains { $0.severity == nil })
        // LIKE metacharacters and backslashes match only themselves; Unicode case folds (TextFilter).
        for filter in [nil, "203.0.113.4", "_", "%", "a_b", "0%o", "\\", "BRUTE", "card_FRAUD 100", "ärger", "ÄRGER", "ban-", "nothing"]
            as [String?]
        {
            let qs = queries(all, filter: filter)
            var checked = 0
            for q in qs {
                let got = try f.source.page(q).map(\.id)
                let want = q.select(from: all).map(\.id)
                #expect(got == want, "\(q)")
                checked += want.count
            }
            if filter == "nothing" || filter == "\\" { #expect(checked == 0) } else { #expect(checked > 0, "\(filter ?? "nil")") }
        }
    }

    @Test func aCursorRowWhoseSeverityRoseIsMergedWhereItNowSorts() throws {
        let f = try Fixture()
        let before = try f.all()
        let row = try #require(before.first { $0.state == .pending && ($0.severity?.rank ?? -1) == 0 })
        let cursor = ConsoleCursor(row)
        try f.db.run("UPDATE remediations SET severity_rank = 4 WHERE id = ?", [.integer(row.id)])
        let after = try f.all()
        for direction in [ConsolePageQuery.Direction.forward, .backward] {
            for limit in [1, 3, 50] {
                let q = ConsolePageQuery(
                    states: [.pending], order: .severityThenOldest, cursor: cursor, includesCursor: true,
                    direction: direction, limit: limit)
                let got = try f.source.page(q).map(\.id)
                #expect(got == q.select(from: after).map(\.id), "\(direction) \(limit)")
                if direction == .forward { #expect(got.first == row.id) }
            }
        }
    }

    @Test func rowsShowTheFirstIPsAndUsersOfTheirSignals() throws {
        let f = try Fixture()
        for row in try f.all() {
            let base = try f.db.query(
                """
                SELECT e.kind, e.value FROM remediation_signals rs JOIN entities e ON e.signal = rs.signal
                WHERE rs.remediation = ? AND e.kind IN ('ip','user') GROUP BY e.kind, e.value
                ORDER BY min(e.signal), min(e.position), e.kind, e.value LIMIT 20
                """, [.integer(row.id)])
            #expect(row.ips == base.filter { $0.string(0) == "ip" }.compactMap { $0.string(1) })
            #expect(row.users == base.filter { $0.string(0) == "user" }.compactMap { $0.string(1) })
            #expect(!row.ips.isEmpty || !row.users.isEmpty)
        }
    }

    @Test func detailListsTheNewestSignalsAndTheTargetsHistory() throws {
        let f = try Fixture()
        let busiest = try #require(try f.db.query("SELECT id, target FROM remediations ORDER BY signals DESC, id LIMIT 1").first)
        let id = try #require(busiest.int64(0))
        let detail = try #require(try f.source.detail(remediationID: id))
        let newest = try f.db.query("SELECT signal FROM remediation_signals WHERE remediation = ? ORDER BY signal DESC LIMIT 10", [.integer(id)])
        #expect(detail.signals.map(\.stored.id) == newest.compactMap { $0.int64(0) })
        #expect(detail.signals.count > 1)
        let named = try #require(
            try f.db.query("SELECT count(DISTINCT signal) FROM entities WHERE value = ?", [.text(busiest.string(1) ?? "")]).first?.int(0))
        #expect(detail.targetHistory.first == "\(named) signal(s) named \(busiest.string(1) ?? "")")
        #expect(try f.source.detail(remediationID: 999_999) == nil)
        let summary = try f.source.summary()
        #expect(summary.counts[.pending] == (try f.db.query("SELECT count(*) FROM remediations WHERE state = 'pending'").first?.int(0)))
    }

    @Test func anOpenCircuitShowsInTheHeaderAndOnTheRulesActions() throws {
        let f = try Fixture()
        let config = try GavelConfig.load(path: nil, environment: [:], databasePath: f.folder + "/gavel.db")
        let until = Timestamp.now.adding(milliseconds: 25_000)
        let source = StoreDataSource(
            store: SQLiteStore(db: f.db), config: { config }, listenAddress: nil, circuits: { ["ban-ip": until] })
        #expect(try f.source.summary().banner == nil)
        #expect(try source.summary().banner?.hasPrefix("circuit open: ban-ip (2") == true)
        #expect(try source.rules().allSatisfy { $0.openCircuits == ["ban-ip"] })
        let session = ConsoleSession(model: ConsoleModel(analyst: "alice", readOnly: false, size: (24, 100), now: Date()), dataSource: source) { _ in
            nil
        }
        session.tick(now: Date())
        session.press(Key.parseScript("3")!)
        let rows = session.frame().rows.map(\.text)
        #expect(rows[0].contains("circuit open: ban-ip ("))
        #expect(rows.contains { $0.contains("Brute force") && $0.contains("+ban-ip (circuit open) +disable-user") })
    }

    /// Issue 16: three signals whose attributes hold a 40,000-element array froze a scripted
    /// session for 71 s: the console must parse each signal's attributes once, not at every
    /// refresh, and keep what it draws per frame bounded by the pane (a 240 KB outline line was
    /// sanitized and measured whole at every frame).
    @Test func unchangedSignalsAreNotReparsedAtEveryRefresh() throws {
        let folder = NSTemporaryDirectory() + "gavel-console-parse-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = try Database(path: folder + "/gavel.db")
        let config = try GavelConfig.load(path: nil, environment: [:], databasePath: folder + "/gavel.db")
        let elements = (0..<40_000).map(String.init).joined(separator: ",")
        for i in 0..<3 {
            let json =
                #"{"SECURITY_SIGNAL_ID":"wide-\#(i)","SECURITY_RULE_NAME":"Wide","SECURITY_SIGNAL_SEVERITY":"critical","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.\#(10 + i)"]}},"junk":[\#(elements)]}}"#
            let body = Array(json.utf8)
            let input = IncomingSignal(
                signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: nil)
            _ = try db.writeTransaction { try SQLiteStore(db: db).intake(input, config: config) }
        }
        let source = StoreDataSource(store: SQLiteStore(db: db), config: { config }, listenAddress: nil)
        let session = ConsoleSession(model: ConsoleModel(analyst: "alice", size: (30, 100)), dataSource: source) { _ in nil }
        session.tick()
        var frames: [String] = []
        for key in Key.parseScript("j k j j k k j j")! {
            session.press(key)
            session.tick()
            frames.append(session.frame().text)
        }
        // Every remediation's detail was shown (and refreshed) many times; each signal parsed once.
        #expect(frames.contains { $0.contains("#1 ban-ip") } && frames.contains { $0.contains("#3 ban-ip") })
        #expect(source.attributeParses == 3)
        let detail = try #require(try source.detail(remediationID: 2))
        #expect(source.attributeParses == 3)
        let junk = try #require(detail.signals.first?.attributeLines.first { $0.hasPrefix("junk: [") })
        #expect(junk.hasSuffix(" more characters)"))
        #expect(junk.count < StoreDataSource.outlineLimits.characters + 40)
    }
}
