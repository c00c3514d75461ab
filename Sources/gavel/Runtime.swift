import Foundation
import GavelCore
import GavelDispatch
import GavelReceiver
import GavelStore

/// The long-running parts that `serve` and `console` share: the ingest writer, the
/// receiver's ingest step (store the signal, propose remediations, auto-approve), and the
/// dispatcher, woken after every commit so auto-remediation goes out at once.
final class Runtime: Sendable {
    let writer: IngestWriter
    let dispatcher: Dispatcher
    let config: GavelConfig
    let databasePath: String

    /// - Throws: `SQLiteError` when the database cannot be opened or migrated.
    /// - Parameter log: where dispatch outcomes go (stderr for `serve`, the log file for the console).
    init(databasePath: String, config: GavelConfig, log: @escaping @Sendable (String) -> Void) throws {
        self.databasePath = databasePath
        self.config = config
        let dispatcher = Dispatcher(databasePath: databasePath, config: config, log: log)
        self.dispatcher = dispatcher
        self.writer = try IngestWriter(path: databasePath, onCommit: { _ in dispatcher.wake() })
    }

    /// Stores one delivery (and its remediations) in the next group commit.
    var ingest: Receiver.Ingest {
        let writer = self.writer
        let config = self.config
        return { incoming in
            try writer.submit { db in
                let result = try db.intake(incoming, config: config)
                return IngestReply(record: result.record, remediations: result.remediations)
            }
        }
    }

    func close() {
        dispatcher.stop()
        writer.close()
    }
}

extension Environment {
    /// Checks the configuration (a bad one is exit 2 for every verb), then opens the database.
    /// The database must already exist (a mistyped `--db` must not show an empty queue).
    func openDatabase() throws -> Database {
        _ = try loadConfig()
        try checkDatabasePath(mustExist: true)
        // A CLI verb waits longer than the default 5 s for the write lock: under a storm the
        // ingest writer commits back to back, and SQLite's busy handler is not fair to waiters.
        return try Database(path: databasePath, busyTimeoutMs: 30_000)
    }

    /// Refuses an empty path or a directory as `--db` (exit 2), and with `mustExist` a missing file.
    func checkDatabasePath(mustExist: Bool) throws {
        guard !databasePath.isEmpty else { throw UsageError(message: "gavel: --db (or $GAVEL_DB) is empty; give a database file path") }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: databasePath, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue {
            throw UsageError(message: "gavel: --db \(databasePath) is a directory; give a database file path")
        }
        if mustExist && !exists {
            throw UsageError(message: "gavel: no database at \(databasePath) (--db or $GAVEL_DB); it is created by 'gavel serve' or the console")
        }
    }

    /// Loads the configuration these options point at (exit 2 with the field on error).
    /// - Parameter receiving: true for the verbs that run the receiver (its secret must be there).
    func loadConfig(receiving: Bool = false) throws -> GavelConfig {
        do {
            return try GavelConfig.load(
                path: configPath, environment: ProcessInfo.processInfo.environment, databasePath: databasePath,
                requireSecret: receiving)
        } catch {
            throw ConfigFailure(message: error.description)
        }
    }
}
