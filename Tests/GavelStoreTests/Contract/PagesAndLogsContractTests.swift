import Foundation
import GavelCore
import GavelStore
import Testing

/// The store contract, the console's pages, rules, the audit log and the configuration in force.
@Suite(.serialized) struct PagesAndLogsContractTests {
    /// A mix of rules, severities, states, users with LIKE metacharacters and non-ASCII letters.
    func fill(_ h: StoreHarness) throws {
        let users = ["a_b@example.com", "50%off@example.com", "ÄRGER@example.com", "émile@example.com"]
        let store = try h.store()
        for i in 0..<30 {
            let ips = (0...(i % 3)).map { "203.0.113.\((i + $0 * 5) % 9 + 1)" }
            let out = try h.post(
                signalJSON(
                    "s\(i)", rule: i % 3 == 0 ? "Brute force" : "Card_fraud 100%", severity: ["low", "high", "critical", "medium"][i % 4],
                    ips: ips, users: i % 2 == 0 ? [users[(i / 2) % 4]] : []),
                at: Timestamp(milliseconds: 1_000_000 + Int64(i % 5) * 1000))
            for (n, id) in out.remediations.enumerated() where (i + n) % 4 == 1 {
                _ = try? store.decide([id], (i + n) % 8 == 1 ? .approve : .reject("no"), by: "alice", config: h.config, at: .now)
            }
        }
    }

    @Test(arguments: EngineKind.available)
    func pagesEqualTheReferenceForEveryCursorDirectionStateSetAndFilter(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        try fill(h)
        let store = try h.store()
        let all = try store.page(ConsolePageQuery(states: [], order: .newestFirst, limit: 1000))
        #expect(all.count == (try store.remediations(RemediationFilter(), limit: 0, before: nil).count))
        #expect(Set(all.map(\.state)).count >= 3)
        var checked = 0
        for filter in [nil, "203.0.113.4", "_", "%", "a_b", "0%o", "BRUTE", "card_FRAUD 100", "ärger", "ÉMILE", "ban-", "nothing"] as [String?] {
            for order in [ConsolePageQuery.Order.severityThenOldest, .newestFirst] {
                for states in [[], [RemediationState.pending], [.pending, .rejected]] {
                    for direction in [ConsolePageQuery.Direction.forward, .backward] {
                        var queries = [ConsolePageQuery(states: states, order: order, filter: filter, direction: direction, limit: 4)]
                        for row in all.prefix(12) {
                            for inclusive in [false, true] {
                                queries.append(
                                    ConsolePageQuery(
                                        states: states, order: order, filter: filter, cursor: ConsoleCursor(row), includesCursor: inclusive,
                                        direction: direction, limit: 4))
                            }
                        }
                        for q in queries {
                            let want = q.select(from: all).map(\.id)
                            #expect(try store.page(q).map(\.id) == want, "\(q)")
                            checked += want.count
                        }
                    }
                }
            }
        }
        #expect(checked > 1000)
        // The one text rule on non-ASCII text: Unicode lowercase on both sides.
        let q = ConsolePageQuery(states: [], order: .newestFirst, filter: "ärger", limit: 100)
        #expect(!(try store.page(q)).isEmpty)
        #expect(try store.remediations(RemediationFilter(text: "ÄrGeR"), limit: 0, before: nil).count == (try store.page(q)).count)
    }

    @Test(arguments: EngineKind.available)
    func rulesCountsAndModesAreKeptAndAudited(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        try fill(h)
        try h.post(signalJSON("g1", rule: "SG open", groups: ["sg-0a1b2c3d4e5f60789"]))
        let store = try h.store()
        #expect(Set(try store.rules().map(\.displayName)) == ["Brute force", "Card_fraud 100%", "SG open"])
        #expect(try store.ruleNamesSecurityGroups(key: "SG open"))
        #expect(try !store.ruleNamesSecurityGroups(key: "Brute force"))
        let counts = try store.ruleCounts()
        let pending = try store.remediations(RemediationFilter(states: [.pending], rule: "Brute force"), limit: 0, before: nil).count
        #expect(counts["Brute force"]?.pending == pending)
        #expect(try store.setMode(rule: "Brute force", to: .dryRun, by: "bob", at: .now) == .manual)
        try store.setAction(rule: "Brute force", action: "disable-user", enabled: false, by: "bob", at: .now)
        #expect(try store.rule(named: "Brute force")?.disabledActions == ["disable-user"])
        #expect(throws: StoreError.self) { try store.setAction(rule: "nope", action: "ban-ip", enabled: false, by: "bob", at: .now) }
        #expect(try store.setMode(rule: "Not seen yet", to: .auto, by: "bob", at: .now) == nil)
        let audit = try store.auditEntries(limit: 3, before: nil, subject: nil)
        #expect(audit.map(\.action) == ["mode", "disable-action", "mode"])
        #expect(audit[2].before == "manual" && audit[2].after == "dry-run" && audit[2].actor == "bob")
        let older = try store.auditEntries(limit: 2, before: audit[2].id, subject: nil)
        #expect(older.allSatisfy { $0.id < audit[2].id } && older.count == 2)
    }

    @Test(arguments: EngineKind.available)
    func theConfigurationInForceIsVersionedAndAppliedCompareAndSet(_ kind: EngineKind) throws {
        let h = try StoreHarness(kind)
        defer { h.close() }
        let a = try h.store()
        let b = try h.store()
        #expect(try a.configurationInForce() == nil)
        let v1 = try a.applyConfiguration(text: "{}", source: "/etc/gavel.json", by: "gavel", expectedVersion: nil, at: .now)
        #expect(v1.version == 1 && v1.sha256 == SHA256.hex(SHA256.hash(Array("{}".utf8))))
        #expect(try b.configurationInForce() == v1)
        #expect(throws: StoreError.self) {
            try b.applyConfiguration(text: #"{"listen":"127.0.0.1:1"}"#, source: nil, by: "bob", expectedVersion: nil, at: .now)
        }
        let v2 = try b.applyConfiguration(text: #"{"listen":"127.0.0.1:1"}"#, source: nil, by: "bob", expectedVersion: 1, at: .now)
        #expect(v2.version == 2 && v2.appliedBy == "bob")
        #expect(try a.configurationInForce()?.version == 2)
        let audit = try a.auditEntries(limit: 0, before: nil, subject: "configuration").map(\.action)
        #expect(audit == ["config-apply", "config-adopt"])
    }
}
