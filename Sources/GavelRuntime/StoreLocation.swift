import GavelCore
import GavelStore
import GavelStorePostgres
import GavelStoreSQLite

/// Where `--db` (or `$GAVEL_DB`) says the store is: a file path (the embedded SQLite engine) or
/// a `postgres://` / `postgresql://` connection URI (libpq's syntax, RFC 3986).
public enum StoreLocation: Sendable, Equatable {
    /// An SQLite database file.
    case sqlite(path: String)
    /// A PostgreSQL connection URI, as given (it may hold a password: print `displayName`).
    case postgres(uri: String)

    /// Reads `--db`: a URI when it starts with `postgres://` or `postgresql://` (case-insensitive
    /// scheme, RFC 3986 §3.1), else a path.
    public init(_ text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            self = .postgres(uri: text)
        } else {
            self = .sqlite(path: text)
        }
    }

    /// The location with any password replaced by `****` (for logs, errors and the console header).
    public var displayName: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let uri): return StoreLocation.redacted(uri)
        }
    }

    /// A URI with the password of its userinfo (`user:password@`) and any `password=` query
    /// parameter replaced by `****`.
    public static func redacted(_ uri: String) -> String {
        var out = uri
        if let scheme = out.range(of: "://") {
            let rest = out[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                out.replaceSubrange(authority.index(after: colon)..<at, with: "****")
            }
        }
        if let query = out.firstIndex(of: "?") {
            let head = out[...query]
            let parameters = out[out.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { p -> String in
                p.lowercased().hasPrefix("password=") ? "password=****" : String(p)
            }
            out = head + parameters.joined(separator: "&")
        }
        return out
    }

    /// The engine for this location: `SQLiteEngine` for a path, `PostgresEngine` for a URI (the
    /// URI goes to libpq as given, so `sslmode`, `host=/run/postgresql`, `PGPASSWORD` and
    /// `~/.pgpass` work; messages name it by `displayName`).
    public func engine() throws(StoreError) -> any StoreEngine {
        switch self {
        case .sqlite(let path):
            return SQLiteEngine(path: path)
        case .postgres(let uri):
            return PostgresEngine(uri: uri, displayName: displayName)
        }
    }

    /// The folder gavel keeps its own files in (the log, the default outbox): the database's
    /// folder for SQLite, the current folder for PostgreSQL. Ends with `/` or is empty.
    ///
    /// With PostgreSQL these files are per host and per working folder, not shared: each host's
    /// `gavel.log` logs what that host's processes did, and an outbox action appends to the
    /// `gavel-outbox.jsonl` of the host whose dispatcher sent it (docs/scale-out.md).
    public var dataDirectory: String {
        switch self {
        case .sqlite(let path):
            guard let slash = path.lastIndex(of: "/") else { return "" }
            return String(path[...slash])
        case .postgres:
            return ""
        }
    }

    /// A path in the data directory that `GavelConfig` resolves relative config paths against.
    public var configBasePath: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres: return "./gavel.db"
        }
    }
}
