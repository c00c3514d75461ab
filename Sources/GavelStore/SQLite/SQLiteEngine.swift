import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The embedded engine: one SQLite database file (WAL, `synchronous=FULL`, one ingest writer
/// with group commit). The default store.
///
/// `Sendable`: it holds only the path; every session opens its own connection on the calling thread.
public struct SQLiteEngine: StoreEngine {
    /// The database file.
    public let path: String
    /// How long a session's writes wait for the lock, in ms (the busy policy: 30 s).
    public var busyTimeoutMs: Int32 = 30_000

    /// The engine for the database file at `path` (nothing is opened yet).
    public init(path: String) { self.path = path }

    public var displayName: String { path }

    /// Opens a session. `.existing` and `.readOnly` never create a file and refuse an empty one
    /// (nothing to read: it would silently become a new database); every access refuses a
    /// directory and anything that is not a regular file (`/dev/null`, a FIFO), and a file
    /// holding another program's tables is refused untouched.
    public func open(_ access: StoreAccess) throws(StoreError) -> any Store {
        try checkLocation(mustExist: access != .create)
        do {
            let db = try Database(path: path, busyTimeoutMs: busyTimeoutMs, readOnly: access == .readOnly, create: access == .create)
            return SQLiteStore(db: db)
        } catch {
            throw locationError(error)
        }
    }

    public func intake(config: @escaping @Sendable () -> GavelConfig, onCommit: @escaping @Sendable () -> Void) throws(StoreError)
        -> any SignalIntake
    {
        try checkLocation(mustExist: false)
        do {
            return SQLiteIntake(writer: try IngestWriter(path: path), config: config, onCommit: onCommit)
        } catch {
            throw locationError(error)
        }
    }

    private func checkLocation(mustExist: Bool) throws(StoreError) {
        guard !path.isEmpty else { throw StoreError.location("the database path is empty; give a database file path") }
        var info = stat()
        guard stat(path, &info) == 0 else {
            if mustExist { throw StoreError.location("no database at \(path); it is created by 'gavel serve' or the console") }
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw StoreError.location("\(path) is a directory; give a database file path")
        default: throw StoreError.location("\(path) is not a regular file; give a database file path")
        }
        if mustExist && info.st_size == 0 {
            throw StoreError.location("\(path) is empty, not a gavel database; it is created by 'gavel serve' or the console")
        }
    }

    private func locationError(_ error: SQLiteError) -> StoreError {
        switch error.primaryCode {
        case 26:  // SQLITE_NOTADB
            return .location("\(path) is not a gavel database: \(error.message)")
        case 14:  // SQLITE_CANTOPEN
            return .location("cannot open \(path): \(error.message)")
        default:
            return error.storeError
        }
    }
}

/// The receiver's path into an SQLite store: the ingest writer (one thread, group commit).
final class SQLiteIntake: SignalIntake {
    let writer: IngestWriter
    let config: @Sendable () -> GavelConfig
    /// The store fault the last delivery met and when (monotonic ns), cleared by the next one
    /// stored (`checkHealth`).
    private let lastFault = Mutex<(what: String, at: UInt64)?>(nil)
    /// How long a delivery's store fault keeps `checkHealth` failing when no delivery has been
    /// stored since, in seconds (default 10, twice the `Retry-After` of a 503). Bounded so that a
    /// load balancer that took this receiver out of rotation on `/readyz` puts it back: with no
    /// deliveries arriving, nothing else would clear the fault. A fault that persists fails the
    /// next delivery again.
    let faultMemorySeconds: Double

    /// Called after a delivery that approved something automatically is durable (the dispatcher
    /// wakes at once); not after the others, so a storm of manual-mode signals does not wake it
    /// for every batch.
    let onCommit: @Sendable () -> Void

    init(
        writer: IngestWriter, config: @escaping @Sendable () -> GavelConfig, onCommit: @escaping @Sendable () -> Void = {},
        faultMemorySeconds: Double = 10
    ) {
        self.writer = writer
        self.config = config
        self.onCommit = onCommit
        self.faultMemorySeconds = faultMemorySeconds
    }

    func intake(_ incoming: IncomingSignal) throws(StoreError) -> IntakeOutcome {
        let config = self.config()
        let incoming = incoming.planned(for: config)  // on the caller's thread, before the store
        let outcome = try remembered { () throws(StoreError) in
            try storeCall { try writer.submit { store in try store.intake(incoming, config: config) } }
        }
        if !outcome.autoApproved.isEmpty { onCommit() }
        return outcome
    }

    /// Runs a delivery's store call, remembering a transient fault it met (and forgetting the
    /// last one when it succeeds) for `checkHealth`.
    private func remembered<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        do {
            let value = try body()
            lastFault.withLock { $0 = nil }
            return value
        } catch {
            if error.isTransient { lastFault.withLock { $0 = (error.description, DispatchTime.now().uptimeNanoseconds) } }
            throw error
        }
    }

    func checkHealth() throws(StoreError) {
        try storeCall {
            try writer.withConnection { store in
                try store.db.checkFilesAreTheOnesOpen()
                try store.db.query("SELECT 1 FROM remediations LIMIT 1")
            }
        }
        let now = DispatchTime.now().uptimeNanoseconds
        if let fault = lastFault.withLock({ $0 }), now &- fault.at < UInt64(max(0, faultMemorySeconds) * 1e9) {
            let ago = Int((now &- fault.at) / 1_000_000_000)
            throw StoreError.unavailable("the last delivery, \(ago) s ago, could not be stored: \(fault.what)")
        }
    }

    func intake(post: IncomingPost) throws(StoreError) -> [IntakeOutcome] {
        let config = self.config()
        let post = post.planned(for: config)  // here, on the caller's thread, not on the one writer
        let outcomes = try remembered { () throws(StoreError) in
            try storeCall { try writer.submit { store in try store.intake(post: post, config: config) } }
        }
        if outcomes.contains(where: { !$0.autoApproved.isEmpty }) { onCommit() }
        return outcomes
    }

    func recordIntakeError(_ entry: IntakeErrorEntry) throws(StoreError) {
        try storeCall { try writer.submit { store in try store.recordIntakeError(entry) } }
    }

    func close() { writer.close() }
}
