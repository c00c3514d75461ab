import GavelCore

/// One table `gavel migrate` copies: its name, its columns in the order rows are exchanged, and
/// the columns of its key (rows are read in key order, a batch at a time).
///
/// The tables and columns are the store's schema as both engines keep it (schema v7 on both):
/// ids are copied as they are, so a remediation or signal keeps its id, and the audit log's
/// hashes are copied verbatim, so its chain still verifies.
public struct TransferTable: Sendable, Equatable {
    /// The table's name in both engines.
    public let name: String
    /// Its columns, in the order every exchanged row holds its values.
    public let columns: [String]
    /// The columns of its primary key (rows are read in this order, a batch at a time).
    public let key: [String]

    /// - Parameter key: the primary key's columns (default `id`).
    public init(_ name: String, _ columns: [String], key: [String] = ["id"]) {
        self.name = name
        self.columns = columns
        self.key = key
    }
}

/// One value of an exchanged row.
public enum TransferValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// An integer (ids, `*_ms` times, counts).
    case integer(Int64)
    /// A floating-point number (no gavel column holds one; kept for completeness).
    case real(Double)
    /// Text, as stored (UTF-8).
    case text(String)
    /// A raw body (`raw_body`, `body`).
    case bytes([UInt8])
}

/// Reads every row of a store, table by table (`gavel migrate --from`). A session of its own,
/// on the calling thread; every table is read in one snapshot.
public protocol StoreExporting: AnyObject {
    /// Calls `body` with the rows of `table` (values in `table.columns` order) in batches of at
    /// most `batchSize`, in key order.
    func exportRows(_ table: TransferTable, batchSize: Int, _ body: ([[TransferValue]]) throws -> Void) throws
    /// Ends the read snapshot.
    func finishExport()
}

/// Writes every row into an empty store (`gavel migrate --to`), all in one transaction: an
/// import that fails or is interrupted leaves the store empty.
public protocol StoreImporting: AnyObject {
    /// Starts the import.
    /// - Throws: `StoreError.refused` when the store is not empty (nothing is changed).
    func beginImport() throws
    /// Writes rows of `table` (values in `table.columns` order).
    func importRows(_ table: TransferTable, _ rows: [[TransferValue]]) throws
    /// Rebuilds what the engine derives (counts, id sequences) and commits.
    func finishImport() throws
}

extension StoreEngine {
    /// A reader of every row, for `gavel migrate --from`.
    /// - Throws: `StoreError.refused` when this engine cannot be migrated from.
    public func exporter() throws(StoreError) -> any StoreExporting {
        guard let engine = self as? any StoreTransferring else { throw StoreError.refused("\(displayName): cannot be migrated from") }
        return try engine.makeExporter()
    }

    /// A writer into an empty store, for `gavel migrate --to`.
    /// - Throws: `StoreError.refused` when this engine cannot be migrated to.
    public func importer() throws(StoreError) -> any StoreImporting {
        guard let engine = self as? any StoreTransferring else { throw StoreError.refused("\(displayName): cannot be migrated to") }
        return try engine.makeImporter()
    }
}

/// An engine that takes part in `gavel migrate` (each engine implements the sides it supports;
/// the other throws `StoreError.refused`).
public protocol StoreTransferring: StoreEngine {
    /// A reader of every row of this store.
    /// - Throws: `StoreError.location` for a missing store, `refused` when this engine is not a source.
    func makeExporter() throws(StoreError) -> any StoreExporting
    /// A writer into this store, which must be empty.
    /// - Throws: `StoreError.location` for an unreachable store, `refused` when this engine is not a target.
    func makeImporter() throws(StoreError) -> any StoreImporting
}

/// `gavel migrate`: every row of one store into another, engine-neutral (SQL stays in each engine).
public enum StoreTransfer {
    /// The tables in copy order (a row's references are copied before it).
    public static let tables: [TransferTable] = [
        TransferTable(
            "signals",
            [
                "id", "signal_id", "source", "rule_key", "rule_name", "rule_id", "rule_type", "severity", "title", "message", "link", "event_id",
                "date_ms", "tags", "queries", "group_by", "event_name", "event_outcome", "actor", "attributes", "flags", "content_type", "raw_body",
                "body_sha256", "received_ms", "updated_ms", "deliveries", "status", "suggested_duration_s", "event_count", "first_seen", "last_seen",
            ]),
        TransferTable("entities", ["signal", "kind", "value", "position", "delivery", "folded"], key: ["signal", "kind", "value"]),
        TransferTable("posts", ["id", "received_ms", "peer", "content_type", "body", "body_sha256", "alerts"]),
        TransferTable(
            "deliveries", ["id", "signal", "received_ms", "peer", "content_type", "body_sha256", "body", "duplicate", "new_entities", "post"]),
        TransferTable("intake_errors", ["id", "received_ms", "peer", "status", "reason", "content_type", "body", "body_size"]),
        TransferTable(
            "rules", ["rule_key", "rule_id", "rule_name", "mode", "mode_explicit", "disabled_actions", "throttled_ms", "last_seen_ms"],
            key: ["rule_key"]),
        TransferTable("rule_aliases", ["kind", "value", "rule_key"], key: ["kind", "value"]),
        TransferTable(
            "remediations",
            [
                "id", "action", "target_kind", "target", "rule_key", "rule_name", "severity_rank", "state", "idempotency_key", "signals",
                "created_ms", "updated_ms", "last_seen_ms", "decided_by", "decided_ms", "reason", "attempts", "last_status", "last_error",
                "next_attempt_ms", "claimed_by", "lease_until_ms", "request", "bound_request", "config_version", "search_text",
                "dispatched_ms", "expires_ms", "duration_ms", "suggested_duration_ms", "dispatch_response", "revert_request", "reverted_by",
                "reverted_ms", "revert_reason", "false_positive", "batch_key",
            ]),
        TransferTable("remediation_signals", ["remediation", "signal"], key: ["remediation", "signal"]),
        TransferTable(
            "remediation_entities", ["remediation", "kind", "value", "first_signal", "first_position", "folded"],
            key: ["remediation", "kind", "value"]),
        TransferTable(
            "triage_updates",
            [
                "id", "remediation", "signal", "signal_id", "event", "change", "body", "state", "attempts", "next_attempt_ms", "claimed_by",
                "lease_until_ms", "last_status", "last_error", "created_ms", "updated_ms",
            ]),
        TransferTable(
            "attempts",
            ["id", "remediation", "started_ms", "duration_ms", "status", "outcome", "error", "response", "kind", "triage", "stderr", "batch_key"]),
        TransferTable("approvals", ["remediation", "analyst", "at_ms"], key: ["remediation", "analyst"]),
        TransferTable("notes", ["id", "remediation", "author", "at_ms", "text"]),
        TransferTable("allowlist_entries", ["id", "kind", "value", "reason", "added_by", "added_ms"]),
        TransferTable("settings", ["key", "value"], key: ["key"]),
        TransferTable("configurations", ["version", "text", "sha256", "source", "applied_by", "applied_ms"], key: ["version"]),
        TransferTable("audit", ["id", "at_ms", "actor", "action", "subject", "before", "after", "detail", "prev_hash", "hash"]),
    ]

    /// Copies every row of `source` into `target`, which must be empty, in one transaction of
    /// the target.
    /// - Parameter progress: called after each table with its name and row count.
    /// - Returns: each table's name and how many rows were copied, in copy order.
    /// - Throws: `StoreError` (`refused` for a target that is not empty; `location` for either
    ///   store missing or unreachable).
    public static func copy(
        from source: any StoreEngine, to target: any StoreEngine, batchSize: Int = 500, progress: (String, Int) -> Void = { _, _ in }
    ) throws(StoreError) -> [(table: String, rows: Int)] {
        let exporter = try source.exporter()
        let importer = try target.importer()
        defer { exporter.finishExport() }
        do {
            try importer.beginImport()
            var counts: [(table: String, rows: Int)] = []
            for table in tables {
                var n = 0
                try exporter.exportRows(table, batchSize: batchSize) { rows in
                    try importer.importRows(table, rows)
                    n += rows.count
                }
                counts.append((table.name, n))
                progress(table.name, n)
            }
            try importer.finishImport()
            return counts
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.failed("\(error)")
        }
    }
}
