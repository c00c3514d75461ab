import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The one writer that owns the ingest connection, with group commit.
///
/// Receiver worker threads call `submit`, which blocks until the work is committed.
/// The writer thread takes every job waiting (up to `maxBatch`), runs each inside its own
/// SAVEPOINT of one `BEGIN IMMEDIATE` transaction, commits once (one fsync for the batch
/// with `synchronous=FULL`), checks that the files committed to are still the store's
/// (`Database.checkFilesAreTheOnesOpen`), and only then wakes the callers — so a 2xx is never
/// sent for a signal that is not durable in the database at its path. A job that fails rolls back alone; a failed COMMIT fails
/// every job of the batch.
///
/// Fairness: after 200 ms of back-to-back batches the writer leaves the write lock free for
/// 3 ms, so a decision waiting in another connection's busy handler (which retries every
/// millisecond) gets its turn during a storm; it costs at most 1.5 % of the writer's time.
///
/// Thread-safety: `Sendable`. The `Database` never leaves the writer thread; jobs reach
/// it through a `Mutex`-protected queue.
final class IngestWriter: Sendable {
    /// A unit of work run on the writer's connection inside the batch transaction.
    typealias Work = @Sendable (SQLiteStore) throws -> any Sendable

    private final class Job: Sendable {
        let work: Work
        /// Run alone on the connection, outside any transaction (`withConnection`).
        let outsideTransaction: Bool
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<any Sendable, any Error>?>(nil)
        init(work: @escaping Work, outsideTransaction: Bool = false) {
            self.work = work
            self.outsideTransaction = outsideTransaction
        }
    }

    private struct State: ~Copyable {
        var jobs: [Job] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let maxBatch: Int
    private let onCommit: @Sendable (Int) -> Void
    /// Set once the connection failed to open; every job then fails with it.
    private let openError = Mutex<SQLiteError?>(nil)

    /// Starts the writer thread on its own connection to `path`.
    /// - Parameters:
    ///   - maxBatch: most jobs committed in one transaction (default 256).
    ///   - onCommit: called on the writer thread after each successful commit with the batch size
    ///     (the dispatcher uses it to wake up at once).
    /// - Throws: `SQLiteError` when the database cannot be opened or migrated.
    init(
        path: String, busyTimeoutMs: Int32 = 5000, maxBatch: Int = 256,
        onCommit: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws(SQLiteError) {
        self.maxBatch = maxBatch
        self.onCommit = onCommit
        let opened = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            let db: Database
            do {
                db = try Database(path: path, busyTimeoutMs: busyTimeoutMs)
                // Checkpoint every 4000 WAL pages (~16 MiB) rather than 1000: the index pages a
                // storm rewrites in every batch are copied to the database once per checkpoint,
                // so fewer, larger checkpoints cost the writer less (bench/: ~10% more signals/s).
                try db.execute("PRAGMA wal_autocheckpoint=4000")
            } catch let error {
                let failure = error as? SQLiteError ?? SQLiteError(code: 1, message: "\(error)", context: "opening \(path)")
                openError.withLock { $0 = failure }
                opened.signal()
                finished.signal()
                return
            }
            opened.signal()
            run(db)
            finished.signal()
        }
        thread.name = "gavel-ingest-writer"
        thread.start()
        opened.wait()
        if let error = openError.withLock({ $0 }) { throw error }
    }

    /// Runs `work` in the next group-commit batch and returns its result once committed.
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

    private func run(_ db: Database) {
        let store = SQLiteStore(db: db)
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
                // Consecutive transactional jobs share one commit; a `withConnection` job runs alone between them.
                var pending: [Job] = []
                for job in batch {
                    guard job.outsideTransaction else {
                        pending.append(job)
                        continue
                    }
                    if !pending.isEmpty {
                        commit(pending, on: db, store: store)
                        pending = []
                    }
                    job.result.withLock { $0 = Result { try job.work(store) } }
                    job.done.signal()
                }
                if !pending.isEmpty { commit(pending, on: db, store: store) }
            }
        }
    }

    private func commit(_ batch: [Job], on db: Database, store: SQLiteStore) {
        var results: [Result<any Sendable, any Error>] = []
        results.reserveCapacity(batch.count)
        do {
            try db.writeTransaction {
                for job in batch {
                    do {
                        let value = try db.writeTransaction { try job.work(store) }
                        results.append(.success(value))
                    } catch {
                        results.append(.failure(error))
                    }
                }
            }
            // Committed — but into the store's files? Not when they were deleted or replaced
            // meanwhile (issue 16): then nothing of the batch is acknowledged (503, the sender retries).
            try db.checkFilesAreTheOnesOpen()
            onCommit(batch.count)
        } catch {
            // SQLite rolls a whole transaction back by itself on some errors (SQLITE_FULL, IOERR,
            // NOMEM); the COMMIT then fails with "no transaction is active". The cause, and what
            // the receiver must answer (503, not 500), is the job's transient error.
            let cause = results.lazy.compactMap { result -> (any Error)? in
                if case .failure(let e) = result, (e as? SQLiteError)?.isTransient == true { return e }
                return nil
            }.first
            results = Array(repeating: .failure(cause ?? error), count: batch.count)
        }
        for (job, result) in zip(batch, results) {
            job.result.withLock { $0 = result }
            job.done.signal()
        }
    }
}
