import Foundation

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

/// A database file in a fresh temporary folder, removed by `cleanup()`.
struct TemporaryDatabase {
    let folder: String
    var path: String { folder + "/gavel.db" }

    init() {
        folder = NSTemporaryDirectory() + "gavel-store-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func open() throws -> Database { try Database(path: path) }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }
}

/// A signal as the receiver would hand it over.
func incoming(_ json: String, peer: String = "127.0.0.1:1", at ms: Int64? = nil) throws -> IncomingSignal {
    let body = Array(json.utf8)
    var input = IncomingSignal(
        signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: peer)
    if let ms { input.receivedAt = Timestamp(milliseconds: ms) }
    return input
}

/// The SQLite engine's own tests call its internals on one connection; these shorthands keep them readable.
extension Database {
    var store: SQLiteStore { SQLiteStore(db: self) }

    func record(_ input: IncomingSignal) throws -> SignalRecord { try store.record(input, ruleKey: input.signal.ruleKey) }

    func intake(_ input: IncomingSignal, config: GavelConfig, nowMs: Int64) throws -> IntakeOutcome {
        var input = input
        input.receivedAt = Timestamp(milliseconds: nowMs)
        return try store.intake(input, config: config)
    }

    func decide(_ ids: [Int64], _ decision: Decision, by actor: String, config: GavelConfig = .builtInDefaults(databasePath: "gavel.db"))
        throws
    {
        try store.decide(ids, decision, by: actor, config: config, at: .now)
    }

    func claimNext(worker: String, config: GavelConfig = .builtInDefaults(databasePath: "gavel.db")) throws -> DispatchClaim? {
        try store.claimDue(worker: worker, limit: 1, leaseMs: 60_000, config: config, at: .now).first
    }
}

/// The same shorthands for jobs on the ingest writer, which hands them the writer's `SQLiteStore`.
extension SQLiteStore {
    func record(_ input: IncomingSignal) throws -> SignalRecord { try record(input, ruleKey: input.signal.ruleKey) }
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue] = []) throws -> Int { try db.run(sql, values) }
    func query(_ sql: String, _ values: [SQLValue] = []) throws -> [Row] { try db.query(sql, values) }
}
