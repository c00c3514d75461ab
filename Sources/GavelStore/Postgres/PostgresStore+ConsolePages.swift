import GavelCore
import GavelStore

extension PostgresStore {
    /// One keyset page (see ``ConsolePages/page(_:)``), the same query shape as the SQLite
    /// engine's: the lexicographic condition on the sort keys ANDed with a bound on the first key,
    /// so PostgreSQL seeks to the cursor in `remediations_severity` / `remediations_created`; with
    /// `includesCursor`, the cursor's row is read by id and merged in at its place in the order.
    public func page(_ q: ConsolePageQuery) throws(StoreError) -> [Remediation] {
        try pgCall {
            try db.readTransaction {
                var clauses: [String] = []
                var values: [PGValue] = []
                if !q.states.isEmpty {
                    clauses.append("r.state IN (" + Self.placeholders(from: values.count + 1, count: q.states.count) + ")")
                    values += q.states.map { .text($0.rawValue) }
                }
                if let f = q.filter, !f.isEmpty {
                    values.append(.text(TextFilter.folded(f)))
                    clauses.append(Self.textFilterClause(values.count))
                }
                let limit = max(1, min(q.limit, 1000))
                let forward = q.direction == .forward
                let keys: [(column: String, ascending: Bool)]
                switch q.order {
                case .severityThenOldest: keys = [("r.severity_rank", false), ("r.created_ms", true), ("r.id", true)]
                case .newestFirst: keys = [("r.created_ms", false), ("r.id", false)]
                case .soonestExpiry: keys = [("coalesce(r.expires_ms, 9223372036854775807)", true), ("r.id", true)]
                }
                var pageClauses = clauses
                var pageValues = values
                func bind(_ v: PGValue) -> String {
                    pageValues.append(v)
                    return "$\(pageValues.count)"
                }
                if let c = q.cursor {
                    let cursorValues: [PGValue]
                    switch q.order {
                    case .severityThenOldest: cursorValues = [.int(c.severityRank), .integer(c.createdAt.milliseconds), .integer(c.id)]
                    case .newestFirst: cursorValues = [.integer(c.createdAt.milliseconds), .integer(c.id)]
                    case .soonestExpiry: cursorValues = [.integer(c.expiryKey), .integer(c.id)]
                    }
                    pageClauses.append("\(keys[0].column) \(keys[0].ascending == forward ? ">=" : "<=") \(bind(cursorValues[0]))")
                    var ors: [String] = []
                    for i in 0..<keys.count {
                        var ands: [String] = []
                        for j in 0..<i { ands.append("\(keys[j].column) = \(bind(cursorValues[j]))") }
                        ands.append("\(keys[i].column) \(keys[i].ascending == forward ? ">" : "<") \(bind(cursorValues[i]))")
                        ors.append("(" + ands.joined(separator: " AND ") + ")")
                    }
                    pageClauses.append("(" + ors.joined(separator: " OR ") + ")")
                }
                let orderBy = keys.map { "\($0.column) \($0.ascending == forward ? "ASC" : "DESC")" }.joined(separator: ", ")
                let limitParameter = bind(.int(limit))
                var rows = try db.query(
                    """
                    SELECT \(Self.remediationColumns(.row)) FROM remediations r \(pageClauses.isEmpty ? "" : "WHERE " + pageClauses.joined(separator: " AND "))
                    ORDER BY \(orderBy) LIMIT \(limitParameter)
                    """, pageValues
                ).map(Self.remediation(from:))
                if !forward { rows.reverse() }
                if q.includesCursor, let c = q.cursor, !rows.contains(where: { $0.id == c.id }) {
                    let sql =
                        "SELECT \(Self.remediationColumns(.row)) FROM remediations r WHERE "
                        + (clauses + ["r.id = $\(values.count + 1)"]).joined(separator: " AND ")
                    if let found = try db.query(sql, values + [.integer(c.id)]).first {
                        let cursorRow = Self.remediation(from: found)
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
