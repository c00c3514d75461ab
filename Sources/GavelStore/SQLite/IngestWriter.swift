import CSQLite
import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The one writer that owns the ingest connection, with group commit, and the syncer that
/// makes each batch durable while the writer goes on with the next.
///
/// Receiver worker threads call `submit`, which blocks until the work is committed and on disk.
/// The writer thread takes every job waiting (up to `maxBatch`), runs them one after the other
/// in one `BEGIN IMMEDIATE` transaction, commits once, checks that the files
/// committed to are still the store's (`Database.checkFilesAreTheOnesOpen`), and hands the
/// batch to the syncer thread, which calls `fdatasync` on the write-ahead log, checks again that
/// the log synced is still the one at the store's path (issue 16: it may be deleted while the
/// disk works; its batches are then refused, 503), and only then wakes the callers — so a 2xx
/// is never sent for a signal that is not durable in the database at its path. A job that
/// fails rolls back alone: the batch is rolled back and run again with each job in its own
/// SAVEPOINT (`retriedBatches`; savepoints cost every batch ~8 % when always used, a retry only
/// the rare batch with a refused delivery); a failed COMMIT fails every job of the batch. Jobs
/// must therefore be store work only, safe to run twice when the first run is rolled back.
/// When SQLite rolls the whole transaction back by itself (SQLITE_FULL, IOERR, NOMEM) no job
/// runs on outside it, even after a job that caught the error and returned: the batch fails
/// (503). When a job's own failure does (a trigger's `RAISE(ROLLBACK)`), the others run again.
///
/// Durability is `synchronous=FULL`'s, moved to another thread: the writer's connection runs
/// with `synchronous=NORMAL` (in WAL mode SQLite then syncs the log only around checkpoints),
/// and the syncer's `fdatasync` of the log (a `dup` of the descriptor SQLite writes it through,
/// `gavel_sqlite_unix_fd`) covers every frame of the batch before anyone is told. While it
/// waits for the disk, the writer runs the next batch: the fsync no longer stops the one
/// writer, and waking the callers (a futex call each) is off its thread too (issue 15 item 4,
/// BENCHMARKS.md). Where the descriptor cannot be read (not SQLite's unix VFS) the connection
/// keeps `synchronous=FULL` and the writer wakes the callers itself after its COMMIT.
///
/// A failed `fdatasync` fails the batches it covered (503: the sender keeps them) and every
/// later job until gavel is restarted: after a failed fsync the kernel may have dropped the
/// unwritten pages, so a later successful one proves nothing (PostgreSQL's rule since 2018).
///
/// Fairness: after 200 ms of back-to-back batches the writer leaves the write lock free for
/// 3 ms, so a decision waiting in another connection's busy handler (which retries every
/// millisecond) gets its turn during a storm; it costs at most 1.5 % of the writer's time.
///
/// Thread-safety: `Sendable`. The `Database` never leaves the writer thread; jobs reach it
/// through a `Mutex`-protected queue, and committed batches reach the syncer through another.
final class IngestWriter: Sendable {
    /// A unit of work run on the writer's connection inside the batch transaction.
    typealias Work = @Sendable (SQLiteStore) throws -> any Sendable
    typealias Outcome = Result<any Sendable, any Error>

    private final class Job: Sendable {
        let work: Work
        /// Run alone on the connection, outside any transaction (`withConnection`).
        let outsideTransaction: Bool
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Outcome?>(nil)
        init(work: @escaping Work, outsideTransaction: Bool = false) {
            self.work = work
            self.outsideTransaction = outsideTransaction
        }

        func finish(_ outcome: Outcome) {
            result.withLock { $0 = outcome }
            done.signal()
        }
    }

    private struct State: ~Copyable {
        var jobs: [Job] = []
        var closed = false
    }

    /// Jobs the writer has run, waiting for the log to be on disk.
    private struct Ran: Sendable {
        let jobs: [Job]
        let outcomes: [Outcome]
        /// A `dup` of the log's descriptor to `fdatasync` (closed by the syncer), or -1: nothing to sync.
        let log: Int32
        /// How many jobs were committed (for `onCommit`); 0 for a failed batch or a `withConnection` job.
        let committed: Int
    }

    private struct SyncState: ~Copyable {
        var ran: [Ran] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let syncState = Mutex(SyncState())
    private let syncWake = DispatchSemaphore(value: 0)
    private let syncFinished = DispatchSemaphore(value: 0)
    /// Set after a failed `fdatasync`: every later job fails with it (see the type's summary).
    private let poisoned = Mutex<SQLiteError?>(nil)
    private let maxBatch: Int
    private let onCommit: @Sendable (Int) -> Void
    private let syncFile: @Sendable (Int32) -> Int32
    /// The write-ahead log's path (`PATH-wal`): after a sync, the log synced must still be it.
    private let logPath: String
    /// Set once the connection failed to open; every job then fails with it.
    private let openError = Mutex<SQLiteError?>(nil)
    private let retried = Atomic<Int>(0)

    /// Jobs submitted and not yet taken by the writer (tests wait on it to build a batch).
    var queuedJobs: Int { state.withLock { $0.jobs.count } }

    /// Batches run a second time, a SAVEPOINT per job, because one of their jobs failed in the
    /// first (optimistic) run; since the writer started.
    var retriedBatches: Int { retried.load(ordering: .relaxed) }

    /// Starts the writer thread on its own connection to `path`, and the syncer thread.
    /// - Parameters:
    ///   - maxBatch: most jobs committed in one transaction (default 256).
    ///   - onCommit: called after each batch is committed and on disk, with the number of jobs
    ///     committed (the dispatcher uses it to wake up at once); on the syncer thread.
    ///   - syncFile: how a descriptor is made durable (default `fdatasync`; 0 or -1 with `errno`).
    ///     Tests give a failing one.
    /// - Throws: `SQLiteError` when the database cannot be opened or migrated.
    init(
        path: String, busyTimeoutMs: Int32 = 5000, maxBatch: Int = 256,
        onCommit: @escaping @Sendable (Int) -> Void = { _ in },
        syncFile: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }
    ) throws(SQLiteError) {
        self.maxBatch = maxBatch
        self.onCommit = onCommit
        self.syncFile = syncFile
        self.logPath = path + "-wal"
        let opened = DispatchSemaphore(value: 0)
        let syncer = Thread { [self] in
            ThreadName.set("gavel-syncer")
            syncLoop()
            syncFinished.signal()
        }
        let thread = Thread { [self] in
            ThreadName.set("gavel-writer")
            let db: Database
            let pipelined: Bool
            do {
                db = try Database(path: path, busyTimeoutMs: busyTimeoutMs)
                // Checkpoint every 4000 WAL pages (~16 MiB) rather than 1000: the index pages a
                // storm rewrites in every batch are copied to the database once per checkpoint,
                // so fewer, larger checkpoints cost the writer less (bench/: ~10% more signals/s).
                try db.execute("PRAGMA wal_autocheckpoint=4000")
                pipelined = db.descriptorsUsable
                if pipelined { try db.execute("PRAGMA synchronous=NORMAL") }
            } catch let error {
                let failure = error as? SQLiteError ?? SQLiteError(code: 1, message: "\(error)", context: "opening \(path)")
                openError.withLock { $0 = failure }
                opened.signal()
                finished.signal()
                return
            }
            opened.signal()
            run(db, pipelined: pipelined)
            syncState.withLock { $0.closed = true }
            syncWake.signal()
            syncFinished.wait()
            finished.signal()
        }
        thread.name = "gavel-writer"
        thread.start()
        opened.wait()
        if let error = openError.withLock({ $0 }) { throw error }
        syncer.name = "gavel-syncer"
        syncer.start()
    }

    /// Runs `work` in the next group-commit batch and returns its result once committed.
    /// `work` may run twice (its first run rolled back, see the type's summary): it must act
    /// on the store only.
    /// - Throws: what `work` threw, the `SQLiteError` of a failed BEGIN/COMMIT, or
    ///   `SQLiteError` "writer closed" after `close()`.
    @discardableResult
    func submit<T: Sendable>(_ work: @escaping @Sendable (SQLiteStore) throws -> T) throws -> T {
        try enqueue(Job(work: { db in try work(db) }))
    }

    /// Runs `body` on the writer's own connection between two batches, outside any
    /// transaction, and returns its result.
    ///
    /// For health checks (`SQLiteIntake.checkHealth`), fault injection and maintenance. The resource-fault
    /// tests use it to make the writer's connection read-only (`PRAGMA query_only=ON`) or full
    /// (`PRAGMA max_page_count=N`, which SQLite only honours per connection) while the receiver runs.
    /// - Throws: what `body` threw, or `SQLiteError` "writer closed" after `close()`.
    @discardableResult
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (SQLiteStore) throws -> T) throws -> T {
        try enqueue(Job(work: { db in try body(db) }, outsideTransaction: true))
    }

    private func enqueue<T: Sendable>(_ job: Job) throws -> T {
        let accepted = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.jobs.append(job)
            return true
        }
        guard accepted else { throw StoreError.unavailable("the ingest writer is closed (gavel is shutting down)") }
        wake.signal()
        job.done.wait()
        switch job.result.withLock({ $0 })! {
        case .success(let value): return value as! T
        case .failure(let error): throw error
        }
    }

    /// Finishes the jobs already submitted, refuses new ones, and closes the connection.
    func close() {
        let first = state.withLock { s -> Bool in
            let was = s.closed
            s.closed = true
            return !was
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    private func run(_ db: Database, pipelined: Bool) {
        let store = SQLiteStore(db: db)
        var pipelined = pipelined
        while true {
            wake.wait()
            var busySince = DispatchTime.now().uptimeNanoseconds
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                if now &- busySince > 200_000_000 {
                    usleep(3000)
                    busySince = DispatchTime.now().uptimeNanoseconds
                }
                let (batch, closed) = state.withLock { s -> ([Job], Bool) in
                    let n = min(s.jobs.count, maxBatch)
                    let b = Array(s.jobs.prefix(n))
                    s.jobs.removeFirst(n)
                    return (b, s.closed)
                }
                if batch.isEmpty {
                    if closed { return }
                    break
                }
                if let failure = poisoned.withLock({ $0 }) {
                    batch.forEach { $0.finish(.failure(failure)) }
                    continue
                }
                // Consecutive transactional jobs share one commit; a `withConnection` job runs alone between them.
                var pending: [Job] = []
                for job in batch {
                    guard job.outsideTransaction else {
                        pending.append(job)
                        continue
                    }
                    if !pending.isEmpty {
                        commit(pending, on: db, store: store, pipelined: &pipelined)
                        pending = []
                    }
                    let outcome = Result { try job.work(store) }
                    hand(Ran(jobs: [job], outcomes: [outcome], log: pipelined ? Self.logDescriptor(db) : -1, committed: 0), pipelined: pipelined)
                }
                if !pending.isEmpty { commit(pending, on: db, store: store, pipelined: &pipelined) }
            }
        }
    }

    /// A job of an optimistic batch failed: the batch is rolled back and runs again, a SAVEPOINT per job.
    private struct JobFailed: Error {}

    private func commit(_ batch: [Job], on db: Database, store: SQLiteStore, pipelined: inout Bool) {
        var results: [Outcome] = []
        results.reserveCapacity(batch.count)
        var committed = 0
        var log: Int32 = -1
        do {
            do {
                // Optimistic: the jobs one after the other, without a SAVEPOINT each — inside one,
                // SQLite first copies every page a job changes into the sub-journal (~8 % of the
                // writer's CPU per signal, BENCHMARKS.md). A job that fails (rare: a delivery
                // the store refuses) rolls the whole batch back, and it runs again (`runEachInItsSavepoint`).
                try db.writeTransaction {
                    for job in batch {
                        do {
                            results.append(.success(try job.work(store)))
                        } catch {
                            throw JobFailed()
                        }
                        // A job that returned although SQLite rolled the transaction back under it
                        // (it caught the error): the next jobs would run outside any transaction,
                        // each statement committed alone while the batch fails. It fails in the retry.
                        guard db.isInTransaction else { throw JobFailed() }
                    }
                }
            } catch is JobFailed {
                retried.add(1, ordering: .relaxed)
                results = try runEachInItsSavepoint(batch, on: db, store: store)
            }
            // Committed — but into the store's files? Not when they were deleted or replaced
            // meanwhile (issue 16): then nothing of the batch is acknowledged (503, the sender retries).
            try db.checkFilesAreTheOnesOpen()
            committed = results.count { if case .success = $0 { true } else { false } }  // not the jobs rolled back alone
            if pipelined {
                log = Self.logDescriptor(db)
                if log < 0 {
                    // Not expected after a commit in WAL mode; this batch cannot be proven durable
                    // (503), and the connection goes back to syncing its own commits.
                    pipelined = false
                    try? db.execute("PRAGMA synchronous=FULL")
                    throw SQLiteError(
                        code: Self.ioErrFsync, message: "the write-ahead log's descriptor could not be read to sync it",
                        context: "making a batch durable")
                }
            }
        } catch {
            // When SQLite rolled the whole transaction back for a job's transient error (SQLITE_FULL,
            // IOERR, NOMEM), that error is what every job is answered (503, not 500).
            results = Array(repeating: .failure((error as? TransactionEnded)?.error ?? error), count: batch.count)
            committed = 0
        }
        hand(Ran(jobs: batch, outcomes: results, log: log, committed: committed), pipelined: pipelined)
    }

    /// A job's failure for which SQLite rolled the batch's whole transaction back: the job at
    /// `index` of the batch, and its error.
    private struct TransactionEnded: Error {
        let index: Int
        let error: any Error
    }

    /// Runs the batch again, each job in its own SAVEPOINT, so that one that fails rolls back alone.
    ///
    /// When SQLite rolls the whole transaction back for a job's failure, no job runs on outside
    /// it (each one's SAVEPOINT would begin and commit a transaction of its own). A transient
    /// failure (SQLITE_FULL, IOERR, NOMEM: the environment's, which the other jobs would meet
    /// too) fails the whole batch: `TransactionEnded` is thrown. Any other is that job's own (a
    /// trigger's `RAISE(ROLLBACK)`): the job keeps its error, and the others run again without it
    /// in a new transaction, so none of them is answered with another delivery's refusal (a 500,
    /// which the sender does not retry). At most one new transaction per job of the batch.
    /// - Returns: each job's outcome, in the batch's order.
    /// - Throws: `TransactionEnded` with the transient error, or the `SQLiteError` of a failed BEGIN/COMMIT.
    private func runEachInItsSavepoint(_ batch: [Job], on db: Database, store: SQLiteStore) throws -> [Outcome] {
        var outcomes = [Outcome](repeating: .failure(JobFailed()), count: batch.count)
        var left = Array(batch.indices)
        while true {
            do {
                try db.writeTransaction {
                    for i in left {
                        do {
                            let value = try db.writeTransaction {
                                let value = try batch[i].work(store)
                                guard db.isInTransaction else { throw Self.rolledBackUnderAJob }
                                return value
                            }
                            outcomes[i] = .success(value)
                        } catch {
                            outcomes[i] = .failure(error)
                            if !db.isInTransaction { throw TransactionEnded(index: i, error: error) }
                        }
                    }
                }
                return outcomes
            } catch let ended as TransactionEnded where !Self.isTransient(ended.error) {
                left.removeAll { $0 == ended.index }
            }
        }
    }

    /// A job's store work returned as if nothing happened, but SQLite had rolled the batch's
    /// transaction back under it (on a full disk, an I/O error, out of memory: an error the work
    /// caught). Transient: the whole batch fails with it (503), and the senders retry.
    private static let rolledBackUnderAJob = StoreError.unavailable(
        "SQLite rolled the ingest batch's transaction back during a delivery's store work, which did not report why "
            + "(a full disk, an I/O error, out of memory); nothing of the batch is stored")

    /// Whether a job's error may pass (`SQLiteError.isTransient`, `StoreError.isTransient`): 503, the sender retries.
    private static func isTransient(_ error: any Error) -> Bool {
        (error as? SQLiteError)?.isTransient ?? (error as? StoreError)?.isTransient ?? false
    }

    /// `SQLITE_IOERR_FSYNC` (`SQLITE_IOERR | 4 << 8`), a macro Swift does not import.
    static let ioErrFsync: Int32 = 10 | 4 << 8

    /// A `dup` of the descriptor SQLite writes the log through, or -1.
    private static func logDescriptor(_ db: Database) -> Int32 {
        let fd = gavel_sqlite_unix_fd(db.handle, 1)
        return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0)
    }

    /// Gives what the writer ran to the syncer; without it (`synchronous=FULL`, the COMMIT
    /// synced) the callers are woken here.
    private func hand(_ ran: Ran, pipelined: Bool) {
        guard pipelined else {
            if ran.committed > 0 { onCommit(ran.committed) }
            for (job, outcome) in zip(ran.jobs, ran.outcomes) { job.finish(outcome) }
            return
        }
        syncState.withLock { $0.ran.append(ran) }
        syncWake.signal()
    }

    /// The syncer thread: takes every batch the writer handed over, syncs the log once for them
    /// all (once per file, should there be two), and only then wakes their callers.
    private func syncLoop() {
        while true {
            syncWake.wait()
            let (ran, closed) = syncState.withLock { s -> ([Ran], Bool) in
                let r = s.ran
                s.ran.removeAll(keepingCapacity: true)
                return (r, s.closed)
            }
            if ran.isEmpty {
                if closed { return }
                continue
            }
            var failure = poisoned.withLock { $0 }
            var synced: [StoreFiles.Identity] = []
            // Logs found deleted or replaced after their sync (issue 16): what was synced into them
            // is not in the store at its path, so their batches are refused (503), not poisoned.
            var moved: [StoreFiles.Identity] = []
            var movedRuns = Set<Int>()
            var movedError: SQLiteError?
            // Newest first: one fdatasync covers every frame written before it to the same file.
            for (i, r) in ran.enumerated().reversed() where r.log >= 0 {
                defer { Glibc.close(r.log) }
                guard failure == nil else { continue }
                var info = stat()
                var identity: StoreFiles.Identity?
                if fstat(r.log, &info) == 0 {
                    let known = StoreFiles.Identity(info)
                    identity = known
                    if synced.contains(known) {
                        if moved.contains(known) { movedRuns.insert(i) }
                        continue
                    }
                    synced.append(known)
                }
                var rc: Int32
                repeat { rc = syncFile(r.log) } while rc != 0 && errno == EINTR
                if rc == 0, let problem = StoreFiles.logProblem(fd: r.log, wal: logPath) {
                    movedRuns.insert(i)
                    if let identity { moved.append(identity) }
                    movedError = SQLiteError(
                        code: StoreFiles.readOnlyDBMoved, message: problem + " (nothing synced into it since is acknowledged)",
                        context: "making a batch durable")
                }
                if rc != 0 {
                    let error = SQLiteError(
                        code: Self.ioErrFsync,
                        message: "fdatasync of the write-ahead log failed (\(String(cString: strerror(errno)))): what was committed since the "
                            + "last sync may not be on disk, so nothing more is acknowledged until gavel is restarted",
                        context: "making a batch durable")
                    failure = error
                    poisoned.withLock { $0 = $0 ?? error }
                }
            }
            var committed = 0
            for (i, r) in ran.enumerated() {
                let refusal = failure ?? (movedRuns.contains(i) ? movedError : nil)
                for (job, outcome) in zip(r.jobs, r.outcomes) {
                    if let refusal, case .success = outcome { job.finish(.failure(refusal)) } else { job.finish(outcome) }
                }
                if refusal == nil { committed += r.committed }
            }
            if failure == nil && committed > 0 { onCommit(committed) }
        }
    }
}
