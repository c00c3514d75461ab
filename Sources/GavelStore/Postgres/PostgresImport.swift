import GavelCore
import GavelStore

extension PostgresEngine: StoreTransferring {
    /// `gavel migrate` goes from SQLite to PostgreSQL only.
    public func makeExporter() throws(StoreError) -> any StoreExporting {
        throw StoreError.refused("\(displayName): gavel migrate copies from an SQLite database only")
    }

    /// Writes into the database at this URI, creating gavel's schema when it has none.
    public func makeImporter() throws(StoreError) -> any StoreImporting {
        guard let store = try open(.create) as? PostgresStore else { throw StoreError.failed("not a PostgreSQL session") }
        return PostgresImport(store: store)
    }
}

/// Rows into an empty PostgreSQL store, in one transaction: multi-row `INSERT`s of bound
/// parameters (raw bodies as binary `bytea`), ids as given; then the identity sequences are
/// moved past the copied ids and the count deltas the remediation trigger appended are folded.
final class PostgresImport: StoreImporting {
    let store: PostgresStore
    var db: PGConnection { store.db }
    private var began = false

    init(store: PostgresStore) { self.store = store }

    func beginImport() throws {
        try pgCall {
            try db.execute("BEGIN")
            began = true
            // Nobody else may write while the copy runs (and the emptiness check holds until COMMIT).
            let tables = ["signals", "remediations", "audit", "rules", "configurations", "intake_errors", "settings", "allowlist_entries"]
            try db.execute("LOCK TABLE \(tables.joined(separator: ", ")) IN SHARE ROW EXCLUSIVE MODE")
            var filled: [String] = []
            for table in tables {
                if try !db.query("SELECT 1 FROM \(table) LIMIT 1").isEmpty { filled.append(table) }
            }
            guard filled.isEmpty else {
                try? db.execute("ROLLBACK")
                began = false
                throw StoreError.refused(
                    "\(db.displayName) is not empty (it has \(filled.joined(separator: ", "))): gavel migrate copies into an empty database only")
            }
        }
    }

    func importRows(_ table: TransferTable, _ rows: [[TransferValue]]) throws {
        try pgCall {
            let perStatement = max(1, min(500, 30_000 / max(1, table.columns.count)))
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + perStatement)]
                var values: [PGValue] = []
                values.reserveCapacity(chunk.count * table.columns.count)
                var tuples: [String] = []
                for row in chunk {
                    let first = values.count + 1
                    values += row.map(Self.value)
                    tuples.append("(" + PostgresStore.placeholders(from: first, count: row.count) + ")")
                }
                try db.run(
                    "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES " + tuples.joined(separator: ", "), values)
                start += chunk.count
            }
        }
    }

    func finishImport() throws {
        try pgCall {
            for table in [
                "signals", "posts", "deliveries", "intake_errors", "audit", "remediations", "triage_updates", "attempts", "notes",
                "allowlist_entries",
            ] {
                try db.query(
                    "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), coalesce((SELECT max(id) FROM \(table)), 0) + 1, false)")
            }
            try db.run(
                """
                WITH moved AS (DELETE FROM remediation_count_deltas RETURNING rule_key, state, n)
                INSERT INTO remediation_counts (rule_key, state, n) SELECT rule_key, state, sum(n) FROM moved GROUP BY rule_key, state
                ON CONFLICT (rule_key, state) DO UPDATE SET n = remediation_counts.n + excluded.n
                """)
            try store.announce("migrate")
            try db.execute("COMMIT")
            began = false
        }
    }

    deinit {
        if began { try? db.execute("ROLLBACK") }
    }

    static func value(_ v: TransferValue) -> PGValue {
        switch v {
        case .null: .null
        case .integer(let i): .integer(i)
        case .real(let d): .text(String(d))
        case .text(let s): .text(s)
        case .bytes(let b): .bytes(b)
        }
    }
}
