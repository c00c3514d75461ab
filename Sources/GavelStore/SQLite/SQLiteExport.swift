import GavelCore
import GavelStore

extension SQLiteEngine: StoreTransferring {
    /// Reads the database (it must exist and be gavel's; it is migrated to this build's schema
    /// first, like any session) in one read snapshot.
    public func makeExporter() throws(StoreError) -> any StoreExporting {
        guard let store = try open(.existing) as? SQLiteStore else { throw StoreError.failed("not an SQLite session") }
        return SQLiteExport(db: store.db)
    }

    /// `gavel migrate` goes from SQLite to PostgreSQL only.
    public func makeImporter() throws(StoreError) -> any StoreImporting {
        throw StoreError.refused("\(path): gavel migrate copies into a PostgreSQL database only")
    }
}

/// Every row of an SQLite store, table by table, in key order, in one read transaction.
final class SQLiteExport: StoreExporting {
    let db: Database
    private var began = false

    init(db: Database) { self.db = db }

    func exportRows(_ table: TransferTable, batchSize: Int, _ body: ([[TransferValue]]) throws -> Void) throws {
        try storeCall {
            if !began {
                try db.execute("BEGIN")
                began = true
            }
            let columns = table.columns.joined(separator: ", ")
            let keyList = table.key.joined(separator: ", ")
            let keyIndexes = table.key.map { k in table.columns.firstIndex(of: k)! }
            var after: [SQLValue]?
            while true {
                var sql = "SELECT \(columns) FROM \(table.name)"
                var values: [SQLValue] = []
                if let after {
                    sql += " WHERE (\(keyList)) > (" + after.map { _ in "?" }.joined(separator: ", ") + ")"
                    values = after
                }
                sql += " ORDER BY \(keyList) LIMIT ?"
                values.append(.integer(Int64(batchSize)))
                let rows = try db.query(sql, values)
                if rows.isEmpty { break }
                try body(rows.map { row in row.values.map(Self.transfer) })
                after = keyIndexes.map { rows[rows.count - 1][$0] }
                if rows.count < batchSize { break }
            }
        }
    }

    func finishExport() {
        if began { try? db.execute("COMMIT") }
        began = false
    }

    static func transfer(_ v: SQLValue) -> TransferValue {
        switch v {
        case .null: .null
        case .integer(let i): .integer(i)
        case .real(let d): .real(d)
        case .text(let s): .text(s)
        case .blob(let b): .bytes(b)
        }
    }
}
