import CSQLite
import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// One SQLite connection, configured the way gavel needs it. Internal to the SQLite engine:
/// only `GavelStoreSQLite` speaks SQL.
///
/// Not `Sendable`: a `Database` is confined to the thread that uses it (the ingest writer,
/// the dispatcher, the console's UI thread, a CLI command). Concurrency between them is
/// SQLite's: WAL mode gives concurrent readers and one writer, and every write transaction
/// starts with `BEGIN IMMEDIATE` so the busy timeout applies to it.
///
/// Every connection is set to `journal_mode=WAL`, `synchronous=FULL` (an acknowledged
/// signal survives power loss), `foreign_keys=ON` and a busy handler that retries every
/// millisecond up to the timeout (default 5000 ms); the schema is migrated to the latest
/// version on open (`PRAGMA user_version`). A file that holds another program's tables is
/// refused before anything is written to it. Every write transaction first checks that the
/// files open are still the ones at the path (`checkFilesAreTheOnesOpen`).
final class Database {
    let handle: OpaquePointer
    /// The file path the connection was opened on.
    let path: String
    private var statements: [String: Statement] = [:]
    /// 0 outside a transaction, 1 inside `writeTransaction`/`readTransaction`, +1 per nested SAVEPOINT.
    private(set) var transactionDepth = 0
    /// Opened read-only (never writes, so its files are not checked).
    let readOnly: Bool
    /// Whether the unix VFS's descriptors can be read for `checkFilesAreTheOnesOpen` (checked at open).
    private(set) var descriptorsUsable = false
    /// Where the store was saved when its files were found deleted or replaced (said in every refusal).
    var recoveredCopy: String?
    /// Facts the current write transaction has already established (a rule key resolved, its
    /// aliases inserted), so a batch of the ingest writer does not ask again for each signal.
    /// Emptied when a write transaction begins and on every rollback (of a SAVEPOINT too), so
    /// an entry never outlives the rows it stands for. Only the intake uses it (`SQLiteStore.intake`).
    /// Each fact is a list of its parts (what, rule key, id, name; nil for an absent one), never
    /// the parts joined by a separator, which a rule id or name from a payload could contain.
    var transactionFacts: Set<[String?]> = []
    /// Rule keys resolved in the current write transaction, by the signal's [rule id, rule name].
    var transactionRuleKeys: [[String?]: String] = [:]
    /// Rule rows as the current write transaction's intake last touched them (`touchRule`), by
    /// rule key, with the [id, name] they were touched with: a touch with another id or name
    /// replaces the entry (it may rename the row); anything else that writes a rule row empties it.
    var transactionRules: [String: (touchedWith: [String?], rule: Rule)] = [:]

    /// Creates a missing database file empty with mode 0600 (an empty file is a valid new
    /// SQLite database), so signals, analysts' names and bound requests are private to the
    /// user running gavel like the outbox and log. SQLite creates the `-wal` and `-shm` files
    /// with the database file's permissions. An existing file keeps its mode; `:memory:` and
    /// URI names are left to SQLite.
    static func createPrivately(_ path: String) {
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:") else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
    }

    /// Opens the database at `path` and migrates it.
    /// - Parameters:
    ///   - busyTimeoutMs: how long a statement waits for a lock before failing with `SQLITE_BUSY` (default 5000).
    ///   - readOnly: open without write access (no migration; fails if the schema is older than this build).
    ///   - create: create the file when it is missing (otherwise a missing file fails with `SQLITE_CANTOPEN`).
    /// - Throws: `SQLiteError` when the file cannot be opened, is not a database, is another program's
    ///   database (`SQLITE_NOTADB`, "not a gavel database"), or a migration fails.
    init(path: String, busyTimeoutMs: Int32 = 5000, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        _ = Self.configureLibrary
        var db: OpaquePointer?
        let writeFlags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        let flags = (readOnly ? SQLITE_OPEN_READONLY : writeFlags) | SQLITE_OPEN_NOMUTEX
        if create && !readOnly { Self.createPrivately(path) }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, context: "opening \(path)")
        }
        self.handle = db
        self.path = path
        self.readOnly = readOnly
        sqlite3_extended_result_codes(db, 1)
        gavel_sqlite_busy_poll(db, busyTimeoutMs)
        _ = gavel_sqlite_db_config_flag(db, SQLITE_DBCONFIG_DEFENSIVE, 1)
        try Schema.refuseForeign(self)
        if !readOnly {
            let mode = try query("PRAGMA journal_mode=WAL").first?.string(0)
            guard mode == "wal" else {
                throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(mode ?? "unknown"), expected wal", context: "opening \(path)")
            }
        }
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
        // Savepoint sub-journals in memory: the ingest writer runs each job in a SAVEPOINT of
        // its batch transaction, and a sub-journal past 64 KiB would otherwise spill to a temp
        // file written page by page (a third of the writer's pwrite calls under load).
        try execute("PRAGMA temp_store=MEMORY")
        if readOnly { try Schema.requireCurrent(self) } else { try Schema.migrate(self) }
        descriptorsUsable = StoreFiles.descriptorsUsable(db: db, path: path)
    }

    /// Process-wide SQLite settings, made once before the first connection opens: memory
    /// statistics off (`gavel_sqlite_disable_memstatus`). Ignored by SQLite when something else
    /// in the process opened a database first.
    private static let configureLibrary: Void = { _ = gavel_sqlite_disable_memstatus() }()

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more SQL statements with no parameters and no results (DDL, PRAGMA).
    func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: message, context: sql)
        }
    }

    private func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let s = statements[sql] { return s }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), context: sql)
        }
        let s = Statement(handle: stmt, sql: sql)
        statements[sql] = s
        return s
    }

    /// Runs a prepared statement with bound parameters and returns every row.
    /// The statement is reset afterwards, so no read snapshot stays open.
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue] = []) throws(SQLiteError) -> [Row] {
        let s = try statement(sql)
        defer { sqlite3_reset(s.handle) }
        try s.bind(values, db: handle)
        var rows: [Row] = []
        let count = sqlite3_column_count(s.handle)
        while true {
            let rc = sqlite3_step(s.handle)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), context: sql)
            }
            var row = Row(values: [])
            row.values.reserveCapacity(Int(count))
            for i in 0..<count { row.values.append(s.column(i)) }
            rows.append(row)
        }
        return rows
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue] = []) throws(SQLiteError) -> Int {
        try query(sql, values)
        return Int(sqlite3_changes(handle))
    }

    /// Whether a transaction is open on this connection (`sqlite3_get_autocommit` is 0). False
    /// after SQLite rolled one back by itself (on `SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// The rowid of the last successful INSERT on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a write transaction that starts with `BEGIN IMMEDIATE` (so it takes the
    /// write lock up front and the busy timeout applies) and commits when `body` returns.
    /// Nested calls use a SAVEPOINT, so a failing inner part rolls back alone.
    /// - Throws: what `body` throws (after rolling back), or `SQLiteError` from BEGIN/COMMIT.
    @discardableResult
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            let name = "sp\(transactionDepth)"
            try run("SAVEPOINT \(name)")
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            do {
                let result = try body()
                try run("RELEASE \(name)")
                return result
            } catch {
                forgetTransactionFacts()
                _ = try? run("ROLLBACK TO \(name)")
                _ = try? run("RELEASE \(name)")
                throw error
            }
        }
        // Nothing is written into files that are no longer the store's (issue 16).
        try checkFilesAreTheOnesOpen()
        forgetTransactionFacts()
        try run("BEGIN IMMEDIATE")
        transactionDepth = 1
        defer {
            transactionDepth = 0
            forgetTransactionFacts()
        }
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { _ = try? run("ROLLBACK") }
            throw error
        }
    }

    private func forgetTransactionFacts() {
        if !transactionFacts.isEmpty { transactionFacts.removeAll(keepingCapacity: true) }
        if !transactionRuleKeys.isEmpty { transactionRuleKeys.removeAll(keepingCapacity: true) }
        if !transactionRules.isEmpty { transactionRules.removeAll(keepingCapacity: true) }
    }

    /// Runs `body` inside a read transaction so that all its queries see one snapshot.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 { return try body() }
        try execute("BEGIN")
        transactionDepth = 1
        defer {
            transactionDepth = 0
            if sqlite3_get_autocommit(handle) == 0 { try? execute("COMMIT") }
        }
        return try body()
    }

    /// Writes a consistent copy of the database to `destination` with SQLite's online
    /// backup API; safe while other connections read and write.
    func backup(to destination: String) throws(SQLiteError) {
        var out: OpaquePointer?
        var rc = sqlite3_open_v2(destination, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let out else {
            if let out { sqlite3_close_v2(out) }
            throw SQLiteError(code: rc, message: "cannot open backup destination", context: "backup to \(destination)")
        }
        defer { sqlite3_close_v2(out) }
        guard let b = sqlite3_backup_init(out, "main", handle, "main") else {
            throw SQLiteError(code: sqlite3_errcode(out), message: String(cString: sqlite3_errmsg(out)), context: "backup to \(destination)")
        }
        repeat {
            rc = sqlite3_backup_step(b, 256)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(20) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        sqlite3_backup_finish(b)
        guard rc == SQLITE_DONE else {
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)), context: "backup to \(destination)")
        }
    }
}
