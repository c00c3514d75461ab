import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// Issue 16 item 6 in the SQLite engine: a write-ahead log replaced by another file is refused
/// like a deleted one, a decision too, and the store is sound again once the paths name the
/// files gavel has open (a file moved back) — the end-to-end tests cover deletion and restarts.
@Suite(.serialized) struct StoreFilesTests {
    func deliver(_ intake: any SignalIntake, _ id: String) -> Result<IntakeOutcome, StoreError> {
        Result { () throws(StoreError) in
            try intake.intake(
                try! incoming(#"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"u-\#(id)"}}}"#))
        }
    }

    @Test func aReplacedWriteAheadLogIsRefusedUntilTheOriginalIsBack() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let engine = SQLiteEngine(path: t.path)
        let config = GavelConfig.builtInDefaults(databasePath: t.path)
        let intake = try engine.intake(config: { config }, onCommit: {})
        defer { intake.close() }
        #expect(try deliver(intake, "s1").get().record.duplicate == false)
        let decider = try engine.open(.existing)
        let wal = t.path + "-wal"
        try FileManager.default.moveItem(atPath: wal, toPath: t.folder + "/aside")
        try Data("not a write-ahead log".utf8).write(to: URL(fileURLWithPath: wal))
        guard case .failure(.unavailable(let why)) = deliver(intake, "s2") else {
            Issue.record("a delivery was acknowledged into a write-ahead log that is no longer the store's")
            return
        }
        #expect(why.contains("the write-ahead log \(wal) was replaced by another file while gavel had it open"), "\(why)")
        #expect(why.contains("until gavel is restarted on a sound database"))
        // Other writers refuse too: a decision is not recorded into the orphaned log.
        #expect(throws: StoreError.self) { try decider.decide([1], .approve, by: "alice", config: config, at: .now) }
        // The original file back at its path: sound again, without a restart.
        try FileManager.default.removeItem(atPath: wal)
        try FileManager.default.moveItem(atPath: t.folder + "/aside", toPath: wal)
        #expect(try deliver(intake, "s3").get().record.duplicate == false)
        #expect(try decider.decide([1], .approve, by: "alice", config: config, at: .now).first?.state == .approved)
        // s2 was refused before its transaction began: the sender's retry stores it now.
        #expect(try deliver(intake, "s2").get().record.duplicate == false)
        let db = try t.open()
        #expect(try db.query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) ?? "" } == ["s1", "s3", "s2"])
    }

    /// The second attacker pass: the copy was saved once per process, so what was acknowledged
    /// after a first incident had cleared was lost at a second one; and the copy was 0644.
    @Test func aSecondIncidentSavesItsOwnPrivateCopy() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let engine = SQLiteEngine(path: t.path)
        let config = GavelConfig.builtInDefaults(databasePath: t.path)
        let intake = try engine.intake(config: { config }, onCommit: {})
        defer { intake.close() }
        let wal = t.path + "-wal"
        func copies() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: t.folder).filter { $0.contains(".recovered-") }.sorted()
        }
        #expect(try deliver(intake, "a1").get().record.duplicate == false)
        try FileManager.default.moveItem(atPath: wal, toPath: t.folder + "/aside")
        guard case .failure = deliver(intake, "b1") else {
            Issue.record("acknowledged without its write-ahead log")
            return
        }
        let first = try copies()
        #expect(first.count == 1)
        for copy in first {
            let mode = try FileManager.default.attributesOfItem(atPath: t.folder + "/" + copy)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(copy): \(String(mode ?? 0, radix: 8))")
        }
        try FileManager.default.moveItem(atPath: t.folder + "/aside", toPath: wal)
        #expect(try deliver(intake, "c1").get().record.duplicate == false)
        Thread.sleep(forTimeInterval: 1.1)  // the copies are named by the second
        try FileManager.default.removeItem(atPath: wal)
        guard case .failure = deliver(intake, "d1") else {
            Issue.record("acknowledged without its write-ahead log")
            return
        }
        let second = try copies().filter { !first.contains($0) }
        #expect(second.count == 1)
        for copy in second {
            let db = try Database(path: t.folder + "/" + copy, readOnly: true, create: false)
            #expect(try db.query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) ?? "" } == ["a1", "c1"])
        }
    }
}
