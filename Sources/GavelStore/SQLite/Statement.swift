import CSQLite
import GavelCore

/// A value bound to, or read from, an SQL statement.
enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    init(stringLiteral value: String) { self = .text(value) }
    init(integerLiteral value: Int64) { self = .integer(value) }
    init(nilLiteral: ()) { self = .null }
    /// `.text(s)` or `.null` for nil.
    static func text(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }
    /// `.integer(i)` or `.null` for nil.
    static func int(_ i: Int?) -> SQLValue { i.map { .integer(Int64($0)) } ?? .null }
    /// Row ids as one JSON array text, for `id IN (SELECT value FROM json_each(?))`: one statement
    /// for many rows (a statement that changes a remediation's state pays for its trigger and its
    /// statement journal once, not once per row).
    static func ids(_ ids: some Sequence<Int64>) -> SQLValue { .text("[" + ids.map(String.init).joined(separator: ",") + "]") }
    /// `.integer` of a time in epoch milliseconds, or `.null` for nil.
    static func time(_ t: Timestamp?) -> SQLValue { t.map { .integer($0.milliseconds) } ?? .null }
}

/// A prepared statement owned by one `Database` (cached there; not `Sendable`).
///
/// Every use goes through `Database.run`/`query`, which binds, steps and resets it, so a
/// statement never holds a read snapshot open between uses (which would block WAL checkpoints).
final class Statement {
    let handle: OpaquePointer
    let sql: String

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` to parameters 1…n (after clearing earlier bindings).
    func bind(_ values: [SQLValue], db: OpaquePointer) throws(SQLiteError) {
        sqlite3_clear_bindings(handle)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let s):
                var s = s
                rc = s.withUTF8 { buf in
                    buf.withMemoryRebound(to: CChar.self) { chars in
                        sqlite3_bind_text(handle, index, chars.baseAddress, Int32(chars.count), gavel_sqlite_transient())
                    }
                }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { buf in
                    sqlite3_bind_blob(handle, index, buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buf.count), gavel_sqlite_transient())
                }
            }
            guard rc == SQLITE_OK else {
                throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)), context: "binding parameter \(index) of \(sql)")
            }
        }
    }

    /// Column `i` of the current row.
    func column(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard let p = sqlite3_column_text(handle, i) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }
}

/// One result row: column values by position, with typed accessors.
struct Row: Sendable {
    var values: [SQLValue]

    subscript(_ i: Int) -> SQLValue { i < values.count ? values[i] : .null }

    /// Text of column `i` (integers and reals as their decimal text), or nil for NULL.
    func string(_ i: Int) -> String? {
        switch self[i] {
        case .text(let s): s
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .blob(let b): String(decoding: b, as: UTF8.self)
        case .null: nil
        }
    }

    /// Integer value of column `i`, or nil for NULL / non-integers.
    func int64(_ i: Int) -> Int64? {
        if case .integer(let v) = self[i] { return v }
        return nil
    }

    /// Integer value of column `i` as Int (0 for NULL).
    func int(_ i: Int) -> Int { Int(int64(i) ?? 0) }

    /// Bytes of column `i` (text as UTF-8), or nil for NULL.
    func bytes(_ i: Int) -> [UInt8]? {
        switch self[i] {
        case .blob(let b): b
        case .text(let s): Array(s.utf8)
        default: nil
        }
    }
}
