import Foundation
import Synchronization
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

@Suite struct IngestWriterTests {
    @Test func concurrentSubmitsShareCommitsAndAllLand() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let batches = BatchCounter()
        let writer = try IngestWriter(path: t.path, onCommit: { batches.add($0) })
        let n = 200
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let input = try! incoming(
                #"{"SECURITY_SIGNAL_ID":"c-\#(i)","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"u\#(i)"}}}"#)
            let r = try! writer.submit { db in try db.record(input) }
            #expect(!r.duplicate)
        }
        writer.close()
        let db = try t.open()
        #expect(try db.query("SELECT count(*) FROM signals").first?.int(0) == n)
        #expect(batches.total == n)
    }

    @Test func concurrentDeliveriesOfOneIDMakeOneSignal() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        let input = try incoming(#"{"SECURITY_SIGNAL_ID":"same","SECURITY_RULE_NAME":"r"}"#)
        let duplicates = BatchCounter()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let r = try! writer.submit { db in try db.record(input) }
            if r.duplicate { duplicates.add(1) }
        }
        writer.close()
        let db = try t.open()
        #expect(try db.query("SELECT count(*), sum(deliveries) FROM signals").first?.int(0) == 1)
        #expect(try db.query("SELECT deliveries FROM signals").first?.int(0) == 16)
        #expect(duplicates.total == 15)
    }

    @Test func aFailingJobRollsBackAloneAndOthersCommit() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try writer.submit { db -> Int in
                try db.run("INSERT INTO settings VALUES ('half', 'written')")
                throw Boom()
            }
        }
        try writer.submit { db in try db.run("INSERT INTO settings VALUES ('ok', 'yes')") }
        writer.close()
        let db = try t.open()
        #expect(try db.query("SELECT key FROM settings ORDER BY key").map { $0.string(0) } == ["ok"])
    }

    @Test func lockedDatabaseFailsTheBatchWithATransientError() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path, busyTimeoutMs: 100)
        let holder = try t.open()
        try holder.execute("BEGIN IMMEDIATE")
        do {
            try writer.submit { db in try db.run("INSERT INTO settings VALUES ('x', 'y')") }
            Issue.record("expected SQLITE_BUSY")
        } catch let e as SQLiteError {
            #expect(e.isTransient)
        }
        try holder.execute("ROLLBACK")
        // Service resumes by itself once the lock is gone.
        try writer.submit { db in try db.run("INSERT INTO settings VALUES ('x', 'y')") }
        writer.close()
        #expect(throws: StoreError.self) { try writer.submit { _ in 1 } }
    }
}

final class BatchCounter: Sendable {
    private let value = Mutex(0)
    func add(_ n: Int) { value.withLock { $0 += n } }
    var total: Int { value.withLock { $0 } }
}
