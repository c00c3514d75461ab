import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore

@Suite struct RuleTests {
    @Test func aRuleSwitchedByNameKeepsItsModeWhenSignalsCarryItsID() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        try db.setRuleMode(key: "Impossible travel", to: .auto, by: "alice")
        let r = try db.writeTransaction {
            try db.touchRule(key: "abc-123", ruleID: "abc-123", name: "Impossible travel", startingMode: .manual, nowMs: 1)
        }
        #expect(r.mode == .auto)
        #expect(r.key == "Impossible travel")
        #expect(r.ruleID == "abc-123")
        #expect(try db.rules().count == 1)
        // Later signals with the id find the same row directly.
        let again = try db.writeTransaction {
            try db.touchRule(key: "abc-123", ruleID: "abc-123", name: "Impossible travel", startingMode: .manual, nowMs: 2)
        }
        #expect(again.key == "Impossible travel")
        #expect(try db.rule(key: "abc-123")?.mode == .auto)
    }

    @Test func rulesWithDifferentIDsStayApart() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        _ = try db.writeTransaction { try db.touchRule(key: "id-1", ruleID: "id-1", name: "Same name", startingMode: .manual, nowMs: 1) }
        _ = try db.writeTransaction { try db.touchRule(key: "id-2", ruleID: "id-2", name: "Same name", startingMode: .manual, nowMs: 2) }
        #expect(try db.rules().map(\.key).sorted() == ["id-1", "id-2"])
    }

    @Test func modeChangesAndActionTogglesAreAudited() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        _ = try db.writeTransaction { try db.touchRule(key: "R", ruleID: nil, name: "R", startingMode: .manual, nowMs: 1) }
        try db.setRuleMode(key: "R", to: .dryRun, by: "bob")
        try db.setRuleAction(key: "R", action: "disable-user", enabled: false, by: "bob")
        #expect(try db.rule(key: "R")?.disabledActions == ["disable-user"])
        let audit = try db.auditLog(limit: 0)
        #expect(audit.map(\.action) == ["disable-action", "mode"])
        #expect(audit.last?.before == "manual" && audit.last?.after == "dry-run" && audit.last?.actor == "bob")
    }
}
