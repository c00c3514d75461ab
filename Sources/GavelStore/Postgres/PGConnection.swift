import CLibPQ
import Foundation
import GavelCore
import GavelStore

/// One libpq connection (`PGconn`), configured the way gavel needs it. Internal to the
/// PostgreSQL engine: only `GavelStorePostgres` speaks SQL to PostgreSQL.
///
/// Not `Sendable`, and not thread-safe (libpq's rule for one `PGconn`): a connection is used by
/// one thread at a time — a session's thread, or the ingest pool's borrower, which hands it back.
///
/// Every value is a bound parameter (`$1…`, text format; `bytes` in binary format as `bytea`);
/// each distinct SQL text is prepared once per connection (`PQprepare`) and run with
/// `PQexecPrepared`. A connection that broke (server restart, network) is re-established by the
/// next call made outside a transaction (`PQreset`), so a session heals by itself; the call
/// that met the break fails `unavailable`.
final class PGConnection {
    private let handle: OpaquePointer
    /// The location for people to read (no password).
    let displayName: String
    /// Statements run after every (re)connect (`SET lock_timeout …`).
    private let setup: [String]
    /// Passwords found in the connection string, removed from every message.
    private let secrets: [String]
    private var prepared: [String: String] = [:]
    private var listening: [String] = []
    /// 0 outside a transaction, 1 inside `transaction`, +1 per nested SAVEPOINT.
    private(set) var transactionDepth = 0

    /// Connects with libpq's connection string or URI (`postgres://…`, `host=/run/postgresql
    /// dbname=gavel`), so `sslmode`, `PGPASSWORD`, `~/.pgpass` and the other `PG*` variables work
    /// as PostgreSQL users expect.
    /// - Parameters:
    ///   - conninfo: the URI as given (it may hold a password: it is never printed).
    ///   - displayName: the URI with the password removed, for messages.
    ///   - setup: statements run after every connect (session settings).
    /// - Throws: `PGError` (SQLSTATE `08001`) with libpq's message when it cannot connect or authenticate.
    init(conninfo: String, displayName: String, setup: [String] = []) throws(PGError) {
        // Keywords before `dbname` are defaults the URI (expanded from `dbname`) overrides.
        let keys = ["connect_timeout", "application_name", "dbname"]
        let values = ["10", "gavel", conninfo]
        let conn = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let conn else { throw PGError(sqlState: "08001", message: "out of memory", context: "connecting to \(displayName)") }
        self.handle = conn
        self.displayName = displayName
        self.setup = setup
        self.secrets = Self.passwords(in: conninfo)
        // libpq prints server notices to stderr by default, which would write over the console's screen.
        _ = PQsetNoticeProcessor(conn, { _, _ in }, nil)
        guard PQstatus(conn) == CONNECTION_OK else {
            // Every stored property is set, so `deinit` runs and calls PQfinish (once).
            let message = Self.scrub(Self.message(conn), secrets)
            throw PGError(sqlState: "08001", message: message, context: "connecting to \(displayName)")
        }
        for sql in setup { try execute(sql) }
    }

    deinit { PQfinish(handle) }

    /// True when the connection is gone (the next call outside a transaction reconnects).
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// Re-establishes a broken connection (outside a transaction only) and restores the session
    /// settings and `LISTEN`s.
    /// - Throws: `PGError` `08006` when the server still cannot be reached.
    func reconnectIfNeeded() throws(PGError) {
        guard transactionDepth == 0, isBroken else { return }
        prepared.removeAll()
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PGError(sqlState: "08006", message: Self.scrub(Self.message(handle), secrets), context: "reconnecting to \(displayName)")
        }
        for sql in setup { try execute(sql) }
        for channel in listening { try execute("LISTEN \(channel)") }
    }

    /// Runs SQL text with no parameters (DDL, `SET`, several statements separated by `;`).
    func execute(_ sql: String) throws(PGError) {
        if transactionDepth == 0 { try reconnectIfNeeded() }
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql)
    }

    /// Runs one statement with bound parameters and returns every row (text format).
    @discardableResult
    func query(_ sql: String, _ values: [PGValue] = []) throws(PGError) -> [PGRow] {
        let result = try exec(sql, values)
        defer { PQclear(result) }
        return Self.rows(result)
    }

    /// Runs one statement that returns no rows; returns how many rows it changed (`PQcmdTuples`).
    @discardableResult
    func run(_ sql: String, _ values: [PGValue] = []) throws(PGError) -> Int {
        let result = try exec(sql, values)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private func exec(_ sql: String, _ values: [PGValue]) throws(PGError) -> OpaquePointer? {
        if transactionDepth == 0 { try reconnectIfNeeded() }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "g\(prepared.count + 1)"
            let made = PQprepare(handle, name, sql, Int32(values.count), nil)
            defer { PQclear(made) }
            try check(made, sql)
            prepared[sql] = name
        }
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        defer { buffers.forEach { free($0) } }
        for value in values {
            switch value {
            case .null:
                buffers.append(nil)
                lengths.append(0)
                formats.append(0)
            case .integer(let i):
                buffers.append(strdup(String(i)))
                lengths.append(0)
                formats.append(0)
            case .text(let s):
                // A text parameter is a C string: U+0000 cannot be sent (PostgreSQL text holds no NUL).
                buffers.append(strdup(s.contains("\u{0}") ? s.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : s))
                lengths.append(0)
                formats.append(0)
            case .bytes(let b):
                let m = malloc(max(1, b.count))!.assumingMemoryBound(to: CChar.self)
                b.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(m, base, b.count) }
                }
                buffers.append(m)
                lengths.append(Int32(b.count))
                formats.append(1)
            }
        }
        let result = buffers.withUnsafeBufferPointer { bufs in
            bufs.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, bufs.count)) { params in
                PQexecPrepared(handle, name, Int32(values.count), values.isEmpty ? nil : params, lengths, formats, 0)
            }
        }
        do {
            try check(result, sql)
        } catch {
            PQclear(result)
            throw error
        }
        return result
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws(PGError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return }
        var state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        var message = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) } ?? Self.message(handle)
        if isBroken {
            state = "08006"
            message = "connection lost: " + Self.scrub(Self.message(handle), secrets)
        }
        throw PGError(sqlState: state ?? "XX000", message: message, context: Self.context(sql))
    }

    /// Runs `body` in a transaction (`BEGIN` … `COMMIT`, READ COMMITTED) and commits when it returns.
    /// Nested calls use a SAVEPOINT, so a failing inner part rolls back alone.
    /// - Parameter mode: extra `BEGIN` options (`ISOLATION LEVEL REPEATABLE READ READ ONLY` for one
    ///   snapshot of several reads).
    /// - Throws: what `body` throws (after rolling back), or `PGError` from BEGIN/COMMIT; a COMMIT
    ///   that the server turned into a rollback is an error.
    @discardableResult
    func transaction<T>(_ mode: String = "", _ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            let name = "sp\(transactionDepth)"
            try execute("SAVEPOINT \(name)")
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            do {
                let result = try body()
                try execute("RELEASE SAVEPOINT \(name)")
                return result
            } catch {
                if !isBroken { _ = try? execute("ROLLBACK TO SAVEPOINT \(name)") }
                throw error
            }
        }
        try execute("BEGIN" + (mode.isEmpty ? "" : " " + mode))
        transactionDepth = 1
        defer { transactionDepth = 0 }
        do {
            let value = try body()
            let result = PQexec(handle, "COMMIT")
            defer { PQclear(result) }
            try check(result, "COMMIT")
            let tag = result.map { String(cString: PQcmdStatus($0)) } ?? ""
            guard tag == "COMMIT" else {
                throw PGError(sqlState: "40000", message: "the transaction was rolled back at COMMIT (\(tag))", context: "COMMIT")
            }
            return value
        } catch {
            if !isBroken && PQtransactionStatus(handle) != PQTRANS_IDLE { PQclear(PQexec(handle, "ROLLBACK")) }
            throw error
        }
    }

    /// Runs `body` in one read-only snapshot (REPEATABLE READ READ ONLY), or in the caller's transaction.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 { return try body() }
        return try transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    // MARK: - LISTEN / NOTIFY

    /// Subscribes this connection to `channel` (kept across reconnects).
    func listen(_ channel: String) throws(PGError) {
        try execute("LISTEN \(channel)")
        if !listening.contains(channel) { listening.append(channel) }
    }

    /// Waits up to `timeoutMs` for notifications on the channels this connection listens to and
    /// returns their payloads (empty when none came).
    /// - Throws: `PGError` `08006` when the connection is lost (the next call reconnects).
    func waitForNotifications(timeoutMs: Int32) throws(PGError) -> [String] {
        try reconnectIfNeeded()
        var payloads = drainNotifications()
        if !payloads.isEmpty { return payloads }
        let ready = gavel_pq_wait_readable(handle, timeoutMs)
        if ready < 0 && errno != EINTR {
            throw PGError(sqlState: "08006", message: "poll failed: errno \(errno)", context: "waiting for notifications")
        }
        if ready > 0 && PQconsumeInput(handle) == 0 {
            throw PGError(sqlState: "08006", message: "connection lost: " + Self.message(handle), context: "waiting for notifications")
        }
        payloads = drainNotifications()
        return payloads
    }

    private func drainNotifications() -> [String] {
        _ = PQconsumeInput(handle)
        var payloads: [String] = []
        while let n = PQnotifies(handle) {
            payloads.append(String(cString: n.pointee.extra))
            PQfreemem(n)
        }
        return payloads
    }

    // MARK: - Results

    private static func rows(_ result: OpaquePointer?) -> [PGRow] {
        guard let result else { return [] }
        let n = PQntuples(result)
        let columns = PQnfields(result)
        var rows: [PGRow] = []
        rows.reserveCapacity(Int(n))
        for r in 0..<n {
            var values: [String?] = []
            values.reserveCapacity(Int(columns))
            for c in 0..<columns {
                if PQgetisnull(result, r, c) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, r, c))
                    let p = PQgetvalue(result, r, c)!
                    values.append(
                        p.withMemoryRebound(to: UInt8.self, capacity: length) {
                            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                        })
                }
            }
            rows.append(PGRow(values: values))
        }
        return rows
    }

    private static func message(_ conn: OpaquePointer) -> String {
        String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The passwords a connection string carries: the URI's `user:password@` (as written and
    /// percent-decoded) and any `password=` parameter or keyword.
    static func passwords(in conninfo: String) -> [String] {
        var found: [String] = []
        if let scheme = conninfo.range(of: "://") {
            let rest = conninfo[scheme.upperBound...]
            let authority = rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex)]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let raw = String(authority[authority.index(after: colon)..<at])
                found += [raw, raw.removingPercentEncoding ?? raw]
            }
        }
        for part in conninfo.split(whereSeparator: { $0 == "&" || $0 == "?" || $0 == " " }) where part.lowercased().hasPrefix("password=") {
            let raw = String(part.dropFirst("password=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            found += [raw, raw.removingPercentEncoding ?? raw]
        }
        return found.filter { !$0.isEmpty }
    }

    /// `message` with every one of `secrets` replaced by `****`.
    static func scrub(_ message: String, _ secrets: [String]) -> String {
        secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "****") }
    }

    /// The SQL as context for an error: its first line, at most 120 characters.
    private static func context(_ sql: String) -> String {
        let line = sql.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return line.count > 120 ? String(line.prefix(120)) + "…" : line
    }
}

/// Calls `body` with `strings` as a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) } + [nil]
    defer { copies.forEach { free($0) } }
    return copies.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: copies.count) { body($0) }
    }
}
