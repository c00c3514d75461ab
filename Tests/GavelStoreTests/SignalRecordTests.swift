import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

@Suite struct SignalRecordTests {
    let banIP =
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"s-1","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.42"]}}}}"#

    @Test func firstDeliveryStoresSignalEntitiesAndRawBody() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let input = try incoming(banIP)
        let r = try db.writeTransaction { try db.record(input) }
        #expect(!r.duplicate)
        #expect(r.newEntities == [EntityValue("ip", "203.0.113.42")])
        let row = try #require(try db.query("SELECT raw_body, rule_key, severity, deliveries FROM signals WHERE id = ?", [.integer(r.rowID)]).first)
        #expect(row.bytes(0) == Array(banIP.utf8))
        #expect(row.string(1) == "Request from unexpected IP address")
        #expect(row.string(2) == "high")
        #expect(row.int(3) == 1)
        #expect(try db.query("SELECT count(*) FROM deliveries").first?.int(0) == 1)
    }

    @Test func retryOfTheSameBodyIsADuplicate() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        _ = try db.writeTransaction { try db.record(try incoming(banIP)) }
        let again = try db.writeTransaction { try db.record(try incoming(banIP)) }
        #expect(again.duplicate)
        #expect(!again.updated)
        #expect(again.newEntities.isEmpty)
        #expect(try db.query("SELECT count(*) FROM signals").first?.int(0) == 1)
        #expect(try db.query("SELECT deliveries FROM signals").first?.int(0) == 2)
        #expect(try db.query("SELECT count(*) FROM deliveries WHERE duplicate = 1").first?.int(0) == 1)
    }

    @Test func updateWithANewIPAddsOnlyTheNewEntity() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        _ = try db.writeTransaction { try db.record(try incoming(banIP)) }
        let updated = banIP.replacingOccurrences(of: #"["203.0.113.42"]"#, with: #"["203.0.113.42","198.51.100.7"]"#)
        let r = try db.writeTransaction { try db.record(try incoming(updated)) }
        #expect(r.duplicate)
        #expect(r.updated)
        #expect(r.newEntities == [EntityValue("ip", "198.51.100.7")])
        let ips = try db.store.signals(limit: 0, before: nil).first?.signal.ips.map(\.description)
        #expect(ips == ["203.0.113.42", "198.51.100.7"])
        #expect(try db.query("SELECT count(*) FROM deliveries WHERE body IS NOT NULL").first?.int(0) == 1)
    }

    @Test func intakeErrorsAreKeptAndBounded() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        for i in 0..<30 {
            try db.store.recordIntakeError(
                IntakeErrorEntry(
                    peer: nil, status: 400, reason: "bad \(i)", contentType: "application/json", body: Array(repeating: 0x41, count: 100)),
                maxBodyBytes: 10, maxRows: 20)
        }
        #expect(try db.query("SELECT count(*) FROM intake_errors").first?.int(0) == 20)
        let last = try #require(try db.query("SELECT reason, length(body), body_size FROM intake_errors ORDER BY id DESC LIMIT 1").first)
        #expect(last.string(0) == "bad 29")
        #expect(last.int(1) == 10)
        #expect(last.int(2) == 100)
    }
}
