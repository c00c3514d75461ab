import GavelCore

/// The one text-filter rule of gavel (the console's `/`, `RemediationFilter.text`): a pattern
/// matches a text when, both lowercased with Unicode's default case mapping (Swift's
/// `String.lowercased()`, locale-independent), the pattern's UTF-8 bytes occur in the text's.
///
/// So `éve` finds `ÉVE@example.com` and `İ` is not turned into `i` by a locale; no wildcards, no
/// normalization (a decomposed `é` is `e` + U+0301 and is found by `e`). Engines keep the
/// lowercased form beside each searchable value and compare bytes, so SQLite and PostgreSQL
/// agree with `matches` exactly.
public enum TextFilter {
    /// The form a text is stored and compared in.
    public static func folded(_ text: String) -> String { text.lowercased() }

    /// True when `pattern` is nil or empty, or occurs in `text` by the rule above.
    public static func matches(_ text: String, pattern: String?) -> Bool {
        guard let pattern, !pattern.isEmpty else { return true }
        return contains(Array(folded(text).utf8), Array(folded(pattern).utf8))
    }

    /// True when `pattern` is nil or empty, or occurs in one of `texts`.
    public static func matches(_ texts: [String], pattern: String?) -> Bool {
        guard let pattern, !pattern.isEmpty else { return true }
        let needle = Array(folded(pattern).utf8)
        return texts.contains { contains(Array(folded($0).utf8), needle) }
    }

    /// The searchable texts of a remediation: its rule name and key, target, action, IPs and users.
    public static func fields(of r: Remediation) -> [String] {
        [r.ruleName ?? "", r.ruleKey, r.target, r.action] + r.ips + r.users
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// The position of a row in a list order; keyset pagination continues from it.
///
/// Holds only the sort-key values of a row, so it stays valid after the row itself changed state
/// or disappeared (the next page starts where it was).
public struct ConsoleCursor: Sendable, Equatable {
    /// `Severity.rank`, or -1 for no severity.
    public var severityRank: Int
    /// The row's `createdAt`.
    public var createdAt: Timestamp
    /// The row's id (the tie-breaker).
    public var id: Int64
    /// The row's `expiresAt` (the In force view's order); nil: permanent, sorted last.
    public var expiresAt: Timestamp?

    public init(severityRank: Int, createdAt: Timestamp, id: Int64, expiresAt: Timestamp? = nil) {
        self.severityRank = severityRank
        self.createdAt = createdAt
        self.id = id
        self.expiresAt = expiresAt
    }

    /// The cursor of a remediation.
    public init(_ r: Remediation) {
        self.init(severityRank: r.severity?.rank ?? -1, createdAt: r.createdAt, id: r.id, expiresAt: r.expiresAt)
    }

    /// The expiry as a sort key: permanent sorts after every real expiry.
    public var expiryKey: Int64 { expiresAt?.milliseconds ?? Int64.max }
}

/// One page request for a remediation list (the console's Pending and History views).
///
/// The order is total (the id breaks ties), so `cursor` + `direction` give SQL of the form
/// `WHERE (key) > (cursor) ORDER BY key LIMIT limit` (or `<` and descending, then reversed).
/// `select(from:)` is the reference semantics every engine's `ConsolePages.page` must match
/// (the store contract suite compares them).
public struct ConsolePageQuery: Sendable, Equatable {
    /// How a list is sorted.
    public enum Order: Sendable, Equatable {
        /// The Pending view: highest severity first (no severity last), then oldest
        /// `createdAt`, then lowest id.
        case severityThenOldest
        /// The History view: newest `createdAt` first, then highest id.
        case newestFirst
        /// The In force view: soonest `expiresAt` first (permanent last), then lowest id.
        case soonestExpiry
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
    /// Text that must occur (`TextFilter`) in the rule (name or key), the target, the action, one
    /// of the IPs or one of the users; nil or empty for no filter.
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

    /// True when `r` passes the state set and the filter.
    public func matches(_ r: Remediation) -> Bool {
        if !states.isEmpty && !states.contains(r.state) { return false }
        return TextFilter.matches(TextFilter.fields(of: r), pattern: filter)
    }

    /// True when `a` comes before `b` in this query's order.
    public func sortsBefore(_ a: ConsoleCursor, _ b: ConsoleCursor) -> Bool {
        switch order {
        case .severityThenOldest:
            if a.severityRank != b.severityRank { return a.severityRank > b.severityRank }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.id < b.id
        case .newestFirst:
            if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
            return a.id > b.id
        case .soonestExpiry:
            if a.expiryKey != b.expiryKey { return a.expiryKey < b.expiryKey }
            return a.id < b.id
        }
    }

    /// Applies this query to remediations held in memory: the reference implementation of keyset paging.
    public func select(from all: [Remediation]) -> [Remediation] {
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
