import GavelCore
import GavelStore

/// A value bound to a PostgreSQL statement: text-format parameters, except `bytes`, sent in
/// binary format (a `bytea`).
enum PGValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case bytes([UInt8])

    /// `.text(s)` or `.null` for nil.
    static func text(_ s: String?) -> PGValue { s.map { .text($0) } ?? .null }
    /// `.integer(i)` or `.null` for nil.
    static func int(_ i: Int?) -> PGValue { i.map { .integer(Int64($0)) } ?? .null }
    /// `.integer` of a count or position.
    static func int(_ i: Int) -> PGValue { .integer(Int64(i)) }
    /// Row ids as one `bigint[]` literal (`{1,2,3}`), for `id = ANY($n::bigint[])`: one statement
    /// for many rows.
    static func ids(_ ids: some Sequence<Int64>) -> PGValue { .text("{" + ids.map(String.init).joined(separator: ",") + "}") }
    /// `.integer` of a time in epoch milliseconds, or `.null` for nil.
    static func time(_ t: Timestamp?) -> PGValue { t.map { .integer($0.milliseconds) } ?? .null }
}

/// One result row in text format: column values by position, with typed accessors.
struct PGRow: Sendable {
    var values: [String?]

    /// Text of column `i`, or nil for NULL.
    func string(_ i: Int) -> String? { i < values.count ? values[i] : nil }

    /// Integer value of column `i`, or nil for NULL / non-integers.
    func int64(_ i: Int) -> Int64? { string(i).flatMap { Int64($0) } }

    /// Integer value of column `i` as Int (0 for NULL).
    func int(_ i: Int) -> Int { Int(int64(i) ?? 0) }

    /// True for a boolean column that is `t`.
    func bool(_ i: Int) -> Bool { string(i) == "t" }

    /// The bytes of a `bytea` column (text format: `\x` and hex digits), or nil for NULL.
    func bytes(_ i: Int) -> [UInt8]? {
        guard let text = string(i) else { return nil }
        let hex = Array(text.utf8)
        guard hex.count >= 2, hex[0] == UInt8(ascii: "\\"), hex[1] == UInt8(ascii: "x") else { return Array(text.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity((hex.count - 2) / 2)
        var i = 2
        while i + 1 < hex.count {
            out.append(Self.nibble(hex[i]) << 4 | Self.nibble(hex[i + 1]))
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: 0
        }
    }
}

/// An error from PostgreSQL or libpq, with the context needed to act on it.
///
/// `sqlState` is the five-character SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html);
/// a lost connection is `08006`, a failed connect `08001`.
struct PGError: Error, CustomStringConvertible, Sendable {
    var sqlState: String
    var message: String
    /// What was being done: the SQL's first line or the operation.
    var context: String

    /// True when the connection itself failed (class 08): the server is unreachable or went away.
    var isConnectionFailure: Bool { sqlState.hasPrefix("08") }

    /// True when the same transaction may succeed if run again at once: a serialization failure
    /// or a deadlock (class 40), or a unique violation of a race another transaction won (the
    /// retry then sees its row).
    var isRetryableRace: Bool { sqlState == "40001" || sqlState == "40P01" || sqlState == "23505" }

    /// True when the fault lies in the environment and may pass by itself: connection (08),
    /// transaction rollback (40), insufficient resources — disk full, out of memory, too many
    /// connections (53), lock not available / lock timeout (55P03), operator intervention —
    /// shutdown, query cancelled (57), system I/O errors (58), a read-only transaction on a
    /// standby (25006) or an idle-in-transaction timeout (25P03).
    var isTransient: Bool {
        let cls = sqlState.prefix(2)
        return ["08", "40", "53", "57", "58"].contains(cls) || ["55P03", "55006", "25006", "25P03"].contains(sqlState)
    }

    var description: String { "postgresql error \(sqlState): \(message) (while \(context))" }

    /// The engine-neutral error: transient states are `unavailable` (503 + `Retry-After`), the rest `failed` (500).
    var storeError: StoreError {
        isTransient
            ? .unavailable("\(message) (postgresql \(sqlState), while \(context))") : .failed("\(message) (postgresql \(sqlState), while \(context))")
    }
}

/// Runs `body`, turning every error into a `StoreError` (the protocols' one error type).
func pgCall<T>(_ body: () throws -> T) throws(StoreError) -> T {
    do {
        return try body()
    } catch {
        throw pgStoreError(error)
    }
}

/// The `StoreError` an error of the PostgreSQL engine means to callers.
func pgStoreError(_ error: any Error) -> StoreError {
    switch error {
    case let error as StoreError: error
    case let error as PGError: error.storeError
    case let error as TransitionRefusal: .refused(error.description)
    default: .failed("\(error)")
    }
}
