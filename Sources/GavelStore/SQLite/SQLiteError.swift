import CSQLite
import GavelCore
import GavelStore

/// An error from SQLite, with the context needed to act on it.
///
/// `code` is the extended result code (`sqlite3_extended_result_codes` is on);
/// `primaryCode` is `code & 0xff`. `isTransient` is true for the codes that a later
/// retry can cure — busy, locked, full, read-only, I/O — which the receiver answers
/// with 503 and `Retry-After` so the sender retries.
struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// Extended result code (e.g. 2067 = SQLITE_CONSTRAINT_UNIQUE).
    var code: Int32
    /// SQLite's message (`sqlite3_errmsg`).
    var message: String
    /// What was being done: the SQL text or the operation name.
    var context: String

    init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// The primary result code (`SQLITE_BUSY`, `SQLITE_FULL`, …).
    var primaryCode: Int32 { code & 0xff }

    /// True when the fault lies in the environment (lock held, disk full, read-only, I/O)
    /// rather than in the request, so the same request may succeed later.
    var isTransient: Bool {
        switch primaryCode {
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR,
            SQLITE_CANTOPEN, SQLITE_PROTOCOL, SQLITE_NOMEM, SQLITE_INTERRUPT:
            return true
        default:
            return false
        }
    }

    var description: String { "sqlite error \(code): \(message) (while \(context))" }
}

extension SQLiteError {
    /// The engine-neutral error: transient codes are `unavailable` (503 + `Retry-After`), the rest `failed` (500).
    var storeError: StoreError {
        isTransient ? .unavailable("\(message) (sqlite \(code), while \(context))") : .failed("\(message) (sqlite \(code), while \(context))")
    }
}

/// Runs `body`, turning every error into a `StoreError` (the protocols' one error type).
func storeCall<T>(_ body: () throws -> T) throws(StoreError) -> T {
    do {
        return try body()
    } catch let error as StoreError {
        throw error
    } catch let error as SQLiteError {
        throw error.storeError
    } catch let error as TransitionRefusal {
        throw StoreError.refused(error.description)
    } catch {
        throw StoreError.failed("\(error)")
    }
}
