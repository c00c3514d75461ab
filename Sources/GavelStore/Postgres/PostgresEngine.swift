import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The shared engine: one PostgreSQL database that several gavel processes on several hosts
/// use at once (receivers behind a load balancer, consoles, dispatchers).
///
/// `Sendable`: it holds only the connection URI; every session opens its own connection on the
/// calling thread, the ingest path keeps a small pool (`PostgresIntake`), and the change feed
/// its own `LISTEN` connection.
public struct PostgresEngine: StoreEngine {
    /// The connection URI as given (libpq's syntax; it may hold a password, so it is never printed).
    public let uri: String
    /// The URI with any password removed, for messages.
    public let displayName: String
    /// How long a session's statement waits for a lock another process holds, in ms (the busy policy: 30 s).
    public var lockTimeoutMs = 30_000

    /// The engine for the database at `uri` (nothing is opened yet).
    /// - Parameters:
    ///   - uri: a `postgres://` / `postgresql://` URI or a libpq `key=value` string.
    ///   - displayName: `uri` with its password replaced (`StoreLocation.redacted`).
    public init(uri: String, displayName: String) {
        self.uri = uri
        self.displayName = displayName
    }

    /// A new connection with gavel's session settings: the lock timeout, `synchronous_commit = on`
    /// (a `COMMIT` returns once the WAL is flushed: a 202 is durable), and read-only when asked.
    func connect(readOnly: Bool = false, lockTimeoutMs: Int? = nil) throws(PGError) -> PGConnection {
        var setup = ["SET lock_timeout = \(lockTimeoutMs ?? self.lockTimeoutMs)", "SET synchronous_commit = on"]
        if readOnly { setup.append("SET default_transaction_read_only = on") }
        return try PGConnection(conninfo: uri, displayName: displayName, setup: setup)
    }

    /// Opens a session. `.existing` and `.readOnly` need a database with gavel's schema (created
    /// by `serve` or the console); `.create` creates it under the migration lock. A database that
    /// holds other tables is refused untouched.
    /// - Throws: `StoreError.location` when the server cannot be reached or refuses the login
    ///   (libpq's message; never the password), or the database is not gavel's.
    public func open(_ access: StoreAccess) throws(StoreError) -> any Store {
        let db: PGConnection
        do {
            db = try connect(readOnly: access == .readOnly)
        } catch {
            throw StoreError.location("cannot connect to \(displayName): \(error.message)")
        }
        try pgCall {
            let version = try PostgresSchema.version(db)
            switch access {
            case .existing:
                guard version != nil else {
                    throw StoreError.location("no gavel database at \(displayName); it is created by 'gavel serve' or the console")
                }
                try PostgresSchema.migrate(db)
            case .create:
                try PostgresSchema.migrate(db)
            case .readOnly:
                guard let version, version == PostgresSchema.latestVersion else {
                    throw StoreError.location(
                        "database schema version \(version ?? 0), this gavel needs \(PostgresSchema.latestVersion): open it once without --read-only to migrate it"
                    )
                }
            }
        }
        return PostgresStore(db: db, readOnly: access == .readOnly)
    }

    /// The receiver's ingest path: a pool of at most `PostgresIntake.maxOpen` connections, one
    /// transaction per delivery. `onCommit` is called after a commit that approved something
    /// automatically (the dispatcher then sends it at once).
    /// - Throws: `StoreError.location` when the server cannot be reached or the database is not gavel's.
    public func intake(config: @escaping @Sendable () -> GavelConfig, onCommit: @escaping @Sendable () -> Void) throws(StoreError)
        -> any SignalIntake
    {
        let first: PGConnection
        do {
            first = try connect(lockTimeoutMs: 5000)
        } catch {
            throw StoreError.location("cannot connect to \(displayName): \(error.message)")
        }
        try pgCall { try PostgresSchema.migrate(first) }
        return PostgresIntake(engine: self, first: first, config: config, onCommit: onCommit)
    }

    /// `LISTEN` on its own connection and thread; reconnects by itself after a loss (every second).
    public func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> (any ChangeWatch)? {
        PostgresChangeWatch(engine: self, onChange: onChange)
    }
}

/// Hands a connection from one thread to another through the pool. `@unchecked Sendable`
/// because a `PGConnection` is not thread-safe: the pool guarantees one borrower at a time
/// (a connection is either in the pool's array, under its lock, or with exactly one borrower).
struct PooledConnection: @unchecked Sendable {
    let connection: PGConnection
}

/// The receiver's path into a PostgreSQL store: each delivery is its own transaction on a
/// connection borrowed from a small pool (at most `maxOpen`), so receiver threads commit in parallel (PostgreSQL
/// flushes concurrent commits together). `SignalIntake.intake` returns after `COMMIT` returned
/// (`synchronous_commit = on`). A transaction that loses a race (a deadlock, or a unique index
/// another receiver's commit won) is run again, up to 5 times; a broken connection is dropped
/// from the pool and the delivery answered 503, and the next delivery connects anew.
final class PostgresIntake: SignalIntake {
    private let engine: PostgresEngine
    private let idle: Mutex<[PooledConnection]>
    private let closed = Atomic<Bool>(false)
    private let config: @Sendable () -> GavelConfig
    private let onCommit: @Sendable () -> Void
    /// When this process last announced a proposal (ms since the epoch).
    private let lastAnnounced = Atomic<Int64>(0)
    /// At most this many connections (and so transactions) at once per process; a delivery beyond
    /// waits for one to be free (up to 5 s, then 503). Two receivers use at most 32 of
    /// PostgreSQL's default 100 connections.
    static let maxOpen = 16
    /// Free slots of `maxOpen`.
    private let slots = DispatchSemaphore(value: PostgresIntake.maxOpen)

    init(engine: PostgresEngine, first: PGConnection, config: @escaping @Sendable () -> GavelConfig, onCommit: @escaping @Sendable () -> Void) {
        self.engine = engine
        self.idle = Mutex([PooledConnection(connection: first)])
        self.config = config
        self.onCommit = onCommit
    }

    func intake(_ incoming: IncomingSignal) throws(StoreError) -> IntakeOutcome {
        let config = self.config()
        let incoming = incoming.planned(for: config)  // on the caller's thread, before the store
        let outcome = try withStore { store in
            try store.transaction { try store.intake(incoming, config: config, mayAnnounce: mayAnnounce) }
        }
        // Only an automatic approval gives the dispatcher something to do: a wake-up per delivery
        // would cost it a look at the queue per signal (SQLite wakes it once per group commit).
        if !outcome.autoApproved.isEmpty { onCommit() }
        return outcome
    }

    func intake(post: IncomingPost) throws(StoreError) -> [IntakeOutcome] {
        let config = self.config()
        let post = post.planned(for: config)  // before the transaction: no store needed
        let outcomes = try withStore { store in
            try store.transaction { try store.intake(post: post, config: config, mayAnnounce: mayAnnounce) }
        }
        if outcomes.contains(where: { !$0.autoApproved.isEmpty }) { onCommit() }
        return outcomes
    }

    /// At most one announcement of proposals per 250 ms from this process (consoles refresh every
    /// second anyway; automatic approvals are always announced).
    private func mayAnnounce() -> Bool {
        let now = Timestamp.now.milliseconds
        let last = lastAnnounced.load(ordering: .relaxed)
        guard now - last >= 250 else { return false }
        return lastAnnounced.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    }

    func recordIntakeError(_ entry: IntakeErrorEntry) throws(StoreError) {
        try withStore { store in try store.transaction { try store.recordIntakeError(entry) } }
    }

    /// A round trip on a pooled connection (a broken one is replaced once, as for a delivery).
    func checkHealth() throws(StoreError) {
        try withStore { store in _ = try store.db.query("SELECT 1") }
    }

    func close() {
        closed.store(true, ordering: .releasing)
        idle.withLock { $0.removeAll() }
    }

    /// Runs `body` on a pooled connection: again after a lost race (up to 5 times), and once on
    /// a new connection when a pooled one turns out to be broken (the server restarted or failed
    /// over while it was idle; a delivery that did commit before the break is then a duplicate
    /// delivery, counted as such).
    private func withStore<T>(_ body: (PostgresStore) throws -> T) throws(StoreError) -> T {
        guard !closed.load(ordering: .acquiring) else { throw StoreError.unavailable("the ingest path is closed (gavel is shutting down)") }
        guard slots.wait(timeout: .now() + .seconds(5)) == .success else {
            throw StoreError.unavailable("all \(Self.maxOpen) connections to \(engine.displayName) stayed busy for 5 s")
        }
        defer { slots.signal() }
        var pooled = idle.withLock({ $0.popLast() })?.connection
        var races = 1
        while true {
            let connection: PGConnection
            if let reused = pooled {
                connection = reused
            } else {
                do {
                    connection = try engine.connect(lockTimeoutMs: 5000)
                } catch {
                    throw StoreError.unavailable("cannot connect to \(engine.displayName): \(error.message)")
                }
            }
            do {
                let result = try body(PostgresStore(db: connection, readOnly: false))
                giveBack(connection)
                return result
            } catch let error as PGError where error.isConnectionFailure && pooled != nil {
                pooled = nil  // dropped; try once on a new connection
            } catch let error as PGError where error.isRetryableRace && races < 5 {
                races += 1
                pooled = connection
                usleep(UInt32.random(in: 1000...5000))
            } catch {
                giveBack(connection)
                throw pgStoreError(error)
            }
        }
    }

    /// Returns a healthy connection to the pool (a broken one is dropped and closed).
    private func giveBack(_ connection: PGConnection) {
        guard !connection.isBroken && !closed.load(ordering: .acquiring) else { return }
        let handed = PooledConnection(connection: connection)
        idle.withLock { if $0.count < Self.maxOpen { $0.append(handed) } }
    }
}

/// `LISTEN gavel_changes` on a connection of its own, on a thread of its own.
final class PostgresChangeWatch: ChangeWatch {
    private let stopped = Atomic<Bool>(false)

    init(engine: PostgresEngine, onChange: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            ThreadName.set("gavel-pg-listen")
            var listener: PGConnection?
            while !stopped.load(ordering: .acquiring) {
                do {
                    if listener == nil {
                        let db = try engine.connect()
                        try db.listen(PostgresSchema.channel)
                        listener = db
                        onChange()  // whatever happened while not listening
                    }
                    if let payloads = try listener?.waitForNotifications(timeoutMs: 250), !payloads.isEmpty, !stopped.load(ordering: .acquiring) {
                        onChange()
                    }
                } catch {
                    if listener?.isBroken ?? true { listener = nil }
                    usleep(1_000_000)
                }
            }
        }
        thread.name = "gavel-pg-listen"
        thread.start()
    }

    func cancel() { stopped.store(true, ordering: .releasing) }
}
