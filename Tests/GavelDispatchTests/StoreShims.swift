import Foundation

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// Shorthands over the SQLite engine for the dispatcher's tests: decisions and reads go through
/// the store protocols; `run`/`query` (on `Database`) tamper with rows the way an older version
/// or a hand edit could.
extension Database {
    var store: SQLiteStore { SQLiteStore(db: self) }

    func claimNext(worker: String, config: GavelConfig = .builtInDefaults(databasePath: "gavel.db")) throws -> DispatchClaim? {
        try store.claimDue(worker: worker, limit: 1, leaseMs: 60_000, config: config, at: .now).first
    }

    func idempotencyKey(id: Int64) throws -> String { try store.remediation(id: id)?.idempotencyKey ?? "" }
    func attempts(remediation id: Int64) throws -> [Attempt] { try store.attempts(ofRemediation: id) }
    func setRuleMode(key: String, to mode: RuleMode, by actor: String) throws { _ = try store.setMode(rule: key, to: mode, by: actor, at: .now) }
    func setAutomaticDispatch(enabled: Bool, by actor: String) throws { try store.setAutomaticDispatch(enabled: enabled, by: actor, at: .now) }
    func auditLog(limit: Int) throws -> [AuditEntry] { try store.auditEntries(limit: limit, before: nil, subject: nil) }
}
