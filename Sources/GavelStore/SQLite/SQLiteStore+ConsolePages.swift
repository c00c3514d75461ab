import Foundation
import GavelCore
import GavelStore

extension SQLiteStore {
    /// One keyset page (see ``ConsoleDataSource/page(_:)``).
    ///
    /// The rows strictly after (before) the cursor are one index range: the lexicographic
    /// condition on the sort keys is ANDed with a bound on the first key (`severity_rank <= s`,
    /// `created_ms <= c`) that lets SQLite seek to the cursor in `remediations_severity` /
    /// `remediations_created` instead of reading every row before it. With `includesCursor`, the
    /// cursor's row is read by id and merged in at its place in the order: its keys may have
    /// changed since (a pending remediation's severity only rises), and it then belongs in this
    /// page wherever it now sorts, as the reference ``ConsolePageQuery/select(from:)`` has it.
    public func page(_ q: ConsolePageQuery) throws(StoreError) -> [Remediation] {
        try storeCall {
            try db.readTransaction {
                var clauses: [String] = []
                var values: [SQLValue] = []
                if !q.states.isEmpty {
                    clauses.append("r.state IN (" + q.states.map { _ in "?" }.joined(separator: ",") + ")")
                    values += q.states.map { .text($0.rawValue) }
                }
                if let f = q.filter, !f.isEmpty {
                    clauses.append(Self.textFilterClause)
                    values += Array(repeating: .text(TextFilter.folded(f)), count: 2)
                }
                let limit = max(1, min(q.limit, 1000))
                let forward = q.direction == .forward
                // Sort keys in display order; `ascending` per key for the display direction.
                let keys: [(column: String, ascending: Bool)]
                switch q.order {
                case .severityThenOldest: keys = [("r.severity_rank", false), ("r.created_ms", true), ("r.id", true)]
                case .newestFirst: keys = [("r.created_ms", false), ("r.id", false)]
                case .soonestExpiry: keys = [("coalesce(r.expires_ms, 9223372036854775807)", true), ("r.id", true)]
                }
                var pageClauses = clauses
                var pageValues = values
                if let c = q.cursor {
                    let cursorValues: [SQLValue]
                    switch q.order {
                    case .severityThenOldest: cursorValues = [.integer(Int64(c.severityRank)), .integer(c.createdAt.milliseconds), .integer(c.id)]
                    case .newestFirst: cursorValues = [.integer(c.createdAt.milliseconds), .integer(c.id)]
                    case .soonestExpiry: cursorValues = [.integer(c.expiryKey), .integer(c.id)]
                    }
                    // The first key's bound, then: after the cursor (forward) or before it (backward),
                    // lexicographically on the keys.
                    pageClauses.append("\(keys[0].column) \(keys[0].ascending == forward ? ">=" : "<=") ?")
                    pageValues.append(cursorValues[0])
                    var ors: [String] = []
                    for i in 0..<keys.count {
                        var ands: [String] = []
                        for j in 0..<i {
                            ands.append("\(keys[j].column) = ?")
                            pageValues.append(cursorValues[j])
                        }
                        ands.append("\(keys[i].column) \(keys[i].ascending == forward ? ">" : "<") ?")
                        pageValues.append(cursorValues[i])
                        ors.append("(" + ands.joined(separator: " AND ") + ")")
                    }
                    pageClauses.append("(" + ors.joined(separator: " OR ") + ")")
                }
                let orderBy = keys.map { "\($0.column) \($0.ascending == forward ? "ASC" : "DESC")" }.joined(separator: ", ")
                pageValues.append(.integer(Int64(limit)))
                var rows = try db.query(
                    """
                    SELECT \(Self.remediationColumns) FROM remediations r \(pageClauses.isEmpty ? "" : "WHERE " + pageClauses.joined(separator: " AND "))
                    ORDER BY \(orderBy) LIMIT ?
                    """, pageValues
                ).map { try remediation(from: $0, depth: .row) }
                if !forward { rows.reverse() }
                if q.includesCursor, let c = q.cursor, !rows.contains(where: { $0.id == c.id }) {
                    let sql = "SELECT \(Self.remediationColumns) FROM remediations r WHERE " + (clauses + ["r.id = ?"]).joined(separator: " AND ")
                    if let found = try db.query(sql, values + [.integer(c.id)]).first {
                        let cursorRow = try remediation(from: found, depth: .row)
                        let key = ConsoleCursor(cursorRow)
                        let at = rows.firstIndex { q.sortsBefore(key, ConsoleCursor($0)) } ?? rows.count
                        rows.insert(cursorRow, at: at)
                        if rows.count > limit {
                            if forward { rows.removeLast() } else { rows.removeFirst() }
                        }
                    }
                }
                return rows
            }
        }
    }
}
