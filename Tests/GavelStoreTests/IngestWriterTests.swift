import Foundation
import GavelTestSupport
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

    @Test func eachAcknowledgementWaitsForASyncOfTheLogAfterItsCommit() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let syncs = BatchCounter()
        let writer = try IngestWriter(
            path: t.path,
            syncFile: { fd in
                syncs.add(1)
                return fdatasync(fd)
            })
        for i in 1...5 {
            try writer.submit { db in try db.run("INSERT INTO settings VALUES ('k\(i)', 'v')") }
            // Its own batch was committed after the previous sync, so a sync after it came first.
            #expect(syncs.total >= i)
        }
        // The writer's connection leaves the syncing of its commits to the syncer (NORMAL);
        // every other connection still syncs its own (FULL).
        #expect(try writer.withConnection { db in try db.query("PRAGMA synchronous").first?.int(0) } == 1)
        writer.close()
        #expect(try t.open().query("PRAGMA synchronous").first?.int(0) == 2)
        #expect(try t.open().query("SELECT count(*) FROM settings WHERE key LIKE 'k%'").first?.int(0) == 5)
    }

    @Test func aFailedSyncFailsItsBatchAndEveryLaterJobUntilRestart() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(
            path: t.path,
            syncFile: { _ in
                errno = EIO
                return -1
            })
        var first: (any Error)?
        do {
            try writer.submit { db in try db.run("INSERT INTO settings VALUES ('first', 'v')") }
        } catch {
            first = error
        }
        let failure = try #require(first as? SQLiteError)
        #expect(failure.code == IngestWriter.ioErrFsync && failure.isTransient)  // 503 + Retry-After: the sender keeps it
        #expect(failure.message.contains("fdatasync of the write-ahead log failed"))
        #expect(failure.message.contains("until gavel is restarted"))
        #expect(throws: SQLiteError.self) {
            try writer.submit { db in try db.run("INSERT INTO settings VALUES ('later', 'v')") }
        }
        #expect(throws: SQLiteError.self) { try writer.withConnection { _ in 0 } }  // /healthz and /readyz fail too
        writer.close()
        // Nothing runs once a sync failed: the later job was never written.
        #expect(try t.open().query("SELECT key FROM settings WHERE key = 'later'").isEmpty)
    }

    /// Issue 16's attack while a batch waits for the disk: the writer found the files sound
    /// after its COMMIT, then the log is deleted while the syncer syncs it. What was synced is
    /// in a file no longer at the store's path (gone at the next start), so nothing of it may
    /// be acknowledged: the callers get the transient refusal (503), and the sender keeps it.
    @Test func aLogDeletedWhileItsBatchIsSyncedIsNotAcknowledged() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let deleteDuringSync = Atomic(false)
        let writer = try IngestWriter(
            path: t.path,
            syncFile: { fd in
                if deleteDuringSync.load(ordering: .acquiring) { unlink(t.path + "-wal") }
                return fdatasync(fd)
            })
        defer { writer.close() }
        try writer.submit { db in try db.run("INSERT INTO settings VALUES ('before', 'v')") }
        deleteDuringSync.store(true, ordering: .releasing)
        var refusal: (any Error)?
        do {
            try writer.submit { db in try db.run("INSERT INTO settings VALUES ('during', 'v')") }
        } catch {
            refusal = error
        }
        let failure = try #require(refusal as? SQLiteError, "acknowledged a batch synced into a deleted log")
        #expect(failure.isTransient)
        #expect(failure.message.contains("write-ahead log"))
    }

    @Test func theWriterAndTheSyncerAreNamedForTopAndPerf() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        defer { writer.close() }
        try writer.submit { _ in 0 }
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
            try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(names.contains("gavel-writer"))
        #expect(names.contains("gavel-syncer"))
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

    /// Jobs share one transaction without a SAVEPOINT each; when one fails, the batch is rolled
    /// back and run again with a SAVEPOINT per job: the failing ones roll back alone, every other
    /// job's rows are there exactly once, and each caller gets its own outcome.
    @Test func aBatchWithAFailingJobRunsAgainWithASavepointPerJob() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        struct Boom: Error {}
        // Hold the writer so that the 12 jobs below queue up and run as one batch.
        let release = holdWriter(writer)
        let outcomes = Mutex<[Int: Bool]>([:])
        let done = DispatchSemaphore(value: 0)
        for i in 0..<12 {
            Thread {
                let ok =
                    (try? writer.submit { db -> Int in
                        try db.run("INSERT INTO settings VALUES ('job\(i)', 'v')")
                        try db.run("UPDATE settings SET value = value || '+' WHERE key = 'job\(i)'")
                        if i % 5 == 2 { throw Boom() }
                        return i
                    }) != nil
                outcomes.withLock { $0[i] = ok }
                done.signal()
            }.start()
        }
        while writer.queuedJobs < 12 { usleep(1000) }
        release.signal()
        for _ in 0..<12 { done.wait() }
        #expect(writer.retriedBatches == 1)
        #expect(outcomes.withLock { $0 } == Dictionary(uniqueKeysWithValues: (0..<12).map { ($0, $0 % 5 != 2) }))
        let rows = try t.open().query("SELECT key, value FROM settings WHERE key LIKE 'job%' ORDER BY key")
        let good = (0..<12).filter { $0 % 5 != 2 }.map { "job\($0)" }.sorted()
        #expect(rows.map { $0.string(0) } == good)
        #expect(rows.allSatisfy { $0.string(1) == "v+" })  // each job's work applied once
        // A batch where nothing fails is not run again.
        try writer.submit { db in try db.run("INSERT INTO settings VALUES ('after', 'v')") }
        #expect(writer.retriedBatches == 1)
        writer.close()
    }

    /// When SQLite rolls a batch's transaction back by itself (a real SQLITE_FULL here), the jobs
    /// after the failing one do not run outside the transaction — a SAVEPOINT outside one begins
    /// and commits its own — and no job of the batch is reported stored: each caller hears a
    /// transient error (503: the senders retry). Also when the failing job's store work caught
    /// the error and returned as if nothing happened (`swallowed`, as a dry run's request on a
    /// full disk once did): each statement after it was committed alone while the batch failed.
    @Test(arguments: [false, true])
    func aTransactionRolledBackUnderTheBatchStopsItsLaterJobs(swallowed: Bool) throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let writer = try IngestWriter(path: t.path)
        let outcomes = runAsOneBatch(
            writer,
            [
                { db in try db.run("INSERT INTO settings VALUES ('first', 'v')") },
                { db in
                    try db.run("INSERT INTO settings VALUES ('failing', 'v')")
                    let pages = try db.query("PRAGMA page_count").first?.int(0) ?? 0
                    _ = try db.query("PRAGMA max_page_count=\(pages)")
                    let big = "INSERT INTO settings VALUES ('big', zeroblob(30000))"
                    return swallowed ? (try? db.run(big)) ?? 0 : try db.run(big)
                },
                { db in try db.run("INSERT INTO settings VALUES ('after', 'v')") },
            ])
        try writer.withConnection { db in _ = try db.query("PRAGMA max_page_count=1073741823") }
        #expect(outcomes.count == 3)
        for outcome in outcomes {
            guard case .failure(let error) = outcome else {
                Issue.record("a job of the rolled-back batch was reported stored")
                continue
            }
            #expect((error as? StoreError)?.isTransient == true || (error as? SQLiteError)?.isTransient == true, "\(error)")
            if !swallowed { #expect((error as? SQLiteError)?.primaryCode == 13, "\(error)") }  // SQLITE_FULL
        }
        #expect(try t.open().query("SELECT key FROM settings WHERE key IN ('first', 'failing', 'big', 'after')").isEmpty)
        try expectTheWriterGoesOn(writer, t)
    }

    /// A job whose own failure makes SQLite roll the whole transaction back (a trigger's
    /// RAISE(ROLLBACK); no environment fault the others would meet too) fails alone, with its
    /// error: the other jobs of its batch run again in a new transaction and are stored. They were
    /// answered with its error (a 500, which their senders do not retry) and lost.
    @Test func aJobWhoseOwnFailureRollsTheBatchBackFailsAlone() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        try t.open().execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON settings WHEN new.key = 'poison' BEGIN SELECT RAISE(ROLLBACK, 'poisoned row'); END")
        let writer = try IngestWriter(path: t.path)
        let keys = ["first", "poison", "second", "poison", "third"]
        let outcomes = runAsOneBatch(
            writer, keys.map { key in { db in try db.run("INSERT OR REPLACE INTO settings VALUES (?, 'v')", [.text(key)]) } })
        writer.close()
        #expect(writer.retriedBatches == 1)
        #expect(outcomes.count == keys.count)
        for (key, outcome) in zip(keys, outcomes) {
            switch outcome {
            case .success: #expect(key != "poison")
            case .failure(let error):
                #expect(key == "poison", "\(key): \(error)")
                #expect((error as? SQLiteError)?.message == "poisoned row", "\(error)")
            }
        }
        #expect(try t.open().query("SELECT key FROM settings WHERE value = 'v' ORDER BY key").map { $0.string(0) } == ["first", "second", "third"])
    }

    /// `onCommit` hears how many jobs were committed: not the ones that failed and rolled back
    /// alone in a committed batch (it heard the whole batch), and nothing for a batch that
    /// committed none.
    @Test func onCommitCountsOnlyTheJobsCommitted() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let committed = BatchCounter()
        let calls = BatchCounter()
        let writer = try IngestWriter(
            path: t.path,
            onCommit: {
                committed.add($0)
                calls.add(1)
            })
        struct Boom: Error {}
        let outcomes = runAsOneBatch(
            writer,
            [
                { db in try db.run("INSERT INTO settings VALUES ('one', 'v')") },
                { _ in throw Boom() },
                { db in try db.run("INSERT INTO settings VALUES ('two', 'v')") },
            ])
        #expect(outcomes.map { (try? $0.get()) != nil } == [true, false, true])
        #expect(throws: Boom.self) { try writer.submit { _ -> Int in throw Boom() } }
        writer.close()  // after the syncer's last onCommit
        #expect(committed.total == 2)
        #expect(calls.total == 1)
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

/// Runs `jobs` on `writer` as one batch, in this order: the writer is held (a `withConnection`
/// job) until every one is queued. Returns each job's outcome, in the same order.
func runAsOneBatch(_ writer: IngestWriter, _ jobs: [@Sendable (SQLiteStore) throws -> Int]) -> [Result<Int, any Error>] {
    let release = holdWriter(writer)
    let outcomes = Mutex<[Int: Result<Int, any Error>]>([:])
    let done = DispatchSemaphore(value: 0)
    for (i, job) in jobs.enumerated() {
        Thread {
            let outcome = Result { try writer.submit(job) }
            outcomes.withLock { $0[i] = outcome }
            done.signal()
        }.start()
        while writer.queuedJobs < i + 1 { usleep(500) }  // queued in this order
    }
    release.signal()
    for _ in jobs { done.wait() }
    return outcomes.withLock { all in jobs.indices.compactMap { all[$0] } }
}

/// Keeps the writer busy (a `withConnection` job waiting) until the returned semaphore is
/// signalled, so that jobs submitted meanwhile queue up and run as one batch.
func holdWriter(_ writer: IngestWriter) -> DispatchSemaphore {
    hold { block in _ = try? writer.withConnection { _ in block() } }
}

/// After a fault, the writer still stores: a job submitted next is in the database once the
/// writer is closed.
func expectTheWriterGoesOn(_ writer: IngestWriter, _ t: TemporaryDatabase) throws {
    try writer.submit { db in try db.run("INSERT INTO settings VALUES ('next', 'v')") }
    writer.close()
    #expect(try t.open().query("SELECT key FROM settings WHERE key = 'next'").count == 1)
}
