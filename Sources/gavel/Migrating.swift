import Foundation
import GavelCore
import GavelRuntime
import GavelStore

/// `gavel migrate --from PATH --to URI`: moving up from one host's SQLite file to a shared
/// PostgreSQL database without losing history.
enum Migrating {
    /// Copies every row (ids kept) into an empty PostgreSQL database and prints each table's count.
    /// Exit 2 for a bad `--from`/`--to` (naming the flag), 1 when the copy fails (the target is
    /// then left as it was: the copy is one transaction).
    static func migrate(_ i: Invocation) throws -> Int32 {
        guard let fromText = i.value("from"), !fromText.isEmpty else { throw UsageFailure("gavel migrate: --from PATH is required") }
        guard let toText = i.value("to"), !toText.isEmpty else { throw UsageFailure("gavel migrate: --to URI is required") }
        let from = StoreLocation(fromText)
        let to = StoreLocation(toText)
        guard case .sqlite = from else { throw UsageFailure("gavel migrate: --from must be an SQLite database file, got a URI") }
        guard case .postgres = to else { throw UsageFailure("gavel migrate: --to must be a postgres:// or postgresql:// URI") }
        let source = try opened(from, access: .existing, flag: "--from")
        let target = try opened(to, access: .create, flag: "--to")
        printError(safe("copying \(from.displayName) into \(to.displayName)"))
        let started = Date()
        let counts = try StoreTransfer.copy(from: source, to: target)
        let width = counts.map(\.table.count).max() ?? 0
        for (table, rows) in counts {
            print(table.padding(toLength: width + 2, withPad: " ", startingAt: 0) + String(rows))
        }
        printError(String(format: "done in %.1f s; point every gavel at --db %@", Date().timeIntervalSince(started), to.displayName))
        return 0
    }

    /// The engine of `location`, opened once to check it; a `location` error names `flag` (exit 2).
    private static func opened(_ location: StoreLocation, access: StoreAccess, flag: String) throws -> any StoreEngine {
        let engine = try location.engine()
        do {
            _ = try engine.open(access)
        } catch {
            if case .location(let message) = error { throw UsageFailure(safe("gavel migrate: \(flag): \(message)")) }
            throw error
        }
        return engine
    }
}
