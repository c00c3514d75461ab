import Foundation
import GavelCore

/// What the console reads. `GavelStore` implements it; tests use an in-memory fake.
///
/// Calls come from the UI thread only, synchronously, a few times per second at most; each should
/// be one short read transaction. Lists are paged with keyset pagination (``ConsolePageQuery``):
/// the console never asks for everything.
public protocol ConsoleDataSource {
    /// Up to `query.limit` remediations in the query's order, starting next to `query.cursor`.
    /// - Returns: rows in **display order**, also for `.backward` (reverse a
    ///   `ORDER BY … DESC LIMIT n` result before returning it).
    /// - Throws: the store's error; the console shows it in its error banner.
    func page(_ query: ConsolePageQuery) throws -> [RemediationRow]
    /// The detail of one remediation, or nil when it no longer exists.
    func detail(remediationID: Int64) throws -> RemediationDetail?
    /// Every known detection rule, sorted by display name.
    func rules() throws -> [RuleRow]
    /// Up to `limit` audit entries with `id < before` (all when `before` is nil), newest first.
    func audit(limit: Int, before: Int64?) throws -> [AuditRow]
    /// Up to `limit` intake errors with `id < before` (all when `before` is nil), newest first.
    func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorRow]
    /// The counts and banner for the header line.
    func summary() throws -> ConsoleSummary
}

/// The position of a row in a list order; keyset pagination continues from it.
///
/// Holds only the sort-key values of a row, so it stays valid after the row itself changed state
/// or disappeared (the next page starts where it was).
public struct ConsoleCursor: Sendable, Equatable {
    /// `Severity.rank`, or -1 for no severity.
    public var severityRank: Int
    /// The row's `createdAt`.
    public var createdAt: Date
    /// The row's id (the tie-breaker).
    public var id: Int64

    public init(severityRank: Int, createdAt: Date, id: Int64) {
        self.severityRank = severityRank
        self.createdAt = createdAt
        self.id = id
    }

    /// The cursor of a row.
    public init(_ row: RemediationRow) {
        self.init(severityRank: row.severity?.rank ?? -1, createdAt: row.createdAt, id: row.id)
    }
}

/// One page request for a remediation list.
///
/// The order is total (the id breaks ties), so `cursor` + `direction` give SQL of the form
/// `WHERE (key) > (cursor) ORDER BY key LIMIT limit` (or `<` and descending, then reversed).
public struct ConsolePageQuery: Sendable, Equatable {
    /// How a list is sorted.
    public enum Order: Sendable, Equatable {
        /// The Pending view: highest severity first (no severity last), then oldest
        /// `createdAt`, then lowest id.
        case severityThenOldest
        /// The History view: newest `createdAt` first, then highest id.
        case newestFirst
    }

    /// Which way to read from the cursor.
    public enum Direction: Sendable, Equatable {
        /// Rows after the cursor in display order (from the top when the cursor is nil).
        case forward
        /// Rows before the cursor (from the bottom when the cursor is nil); still returned in display order.
        case backward
    }

    /// States to include; empty means every state.
    public var states: [RemediationState]
    /// The list order (Pending or History).
    public var order: Order
    /// Case-insensitive substring that must occur in the rule (name or key), the target, one of
    /// the IPs or one of the users; nil or empty for no filter.
    public var filter: String?
    /// Where to start; nil for the top (`.forward`) or the bottom (`.backward`).
    public var cursor: ConsoleCursor?
    /// Whether the row at `cursor` itself is included (used to reload around the selection).
    public var includesCursor: Bool
    /// Which way to read from the cursor.
    public var direction: Direction
    /// At most this many rows (1…1000).
    public var limit: Int

    public init(
        states: [RemediationState], order: Order, filter: String? = nil, cursor: ConsoleCursor? = nil,
        includesCursor: Bool = false, direction: Direction = .forward, limit: Int
    ) {
        self.states = states
        self.order = order
        self.filter = filter
        self.cursor = cursor
        self.includesCursor = includesCursor
        self.direction = direction
        self.limit = limit
    }

    /// True when `row` passes the state set and the filter. This is the reference semantics
    /// the store's SQL must match.
    public func matches(_ row: RemediationRow) -> Bool {
        if !states.isEmpty && !states.contains(row.state) { return false }
        return ConsoleFilter.matches(row, pattern: filter)
    }

    /// True when `a` comes before `b` in this query's order (the reference order).
    public func sortsBefore(_ a: ConsoleCursor, _ b: ConsoleCursor) -> Bool {
        switch order {
        case .severityThenOldest:
            if a.severityRank != b.severityRank { return a.severityRank > b.severityRank }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.id < b.id
        case .newestFirst:
            if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
            return a.id > b.id
        }
    }

    /// Applies this query to rows held in memory: the reference implementation of keyset paging.
    public func select(from all: [RemediationRow]) -> [RemediationRow] {
        let sorted = all.filter(matches).sorted { sortsBefore(ConsoleCursor($0), ConsoleCursor($1)) }
        let n = max(0, limit)
        guard let cursor else {
            return direction == .forward ? Array(sorted.prefix(n)) : Array(sorted.suffix(n))
        }
        switch direction {
        case .forward:
            let after = sorted.filter { r in
                let c = ConsoleCursor(r)
                return sortsBefore(cursor, c) || (includesCursor && c.id == cursor.id)
            }
            return Array(after.prefix(n))
        case .backward:
            let before = sorted.filter { r in
                let c = ConsoleCursor(r)
                return sortsBefore(c, cursor) || (includesCursor && c.id == cursor.id)
            }
            return Array(before.suffix(n))
        }
    }
}

/// The `/` filter's matching rule, shared by the lists and `n`/`N`.
public enum ConsoleFilter {
    /// True when `pattern` is nil/empty or occurs (case-insensitively) in the rule name or key,
    /// the target, an IP or a user of `row`.
    public static func matches(_ row: RemediationRow, pattern: String?) -> Bool {
        guard let p = pattern, !p.isEmpty else { return true }
        let fields = [row.rule, row.ruleKey, row.target, row.action] + row.ips + row.users
        return fields.contains { $0.range(of: p, options: .caseInsensitive) != nil }
    }

    /// True when `pattern` is nil/empty or occurs in any of `fields`.
    public static func matches(_ fields: [String], pattern: String?) -> Bool {
        guard let p = pattern, !p.isEmpty else { return true }
        return fields.contains { $0.range(of: p, options: .caseInsensitive) != nil }
    }
}
