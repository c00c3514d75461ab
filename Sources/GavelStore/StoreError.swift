import GavelCore

/// What went wrong in a store, in terms its callers act on.
///
/// Every engine maps its own errors (SQLite result codes, PostgreSQL SQLSTATEs, a lost
/// connection) to these cases, so the receiver, the dispatcher, the console and the CLI decide
/// the same way whatever the engine:
/// - `unavailable` is transient (a lock held too long, disk full, read-only, I/O, connection
///   lost): the receiver answers 503 with `Retry-After` and the sender retries;
/// - `failed` is deterministic (a constraint, a corrupt row, a bug): retrying the same request
///   gives the same result, so the receiver answers 500 and keeps the body as an intake error;
/// - `notFound`, `conflict`, `refused` are answers about the request itself (exit 1 in the CLI);
/// - `location` is a bad `--db` (exit 2 in the CLI, naming `--db`).
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A fault in the environment that may pass by itself.
    case unavailable(String)
    /// A fault that retrying the same operation will not cure.
    case failed(String)
    /// The remediation, rule or row does not exist.
    case notFound(String)
    /// A decision lost a compare-and-set: someone decided first, or the state moved on.
    case conflict(DecisionConflict)
    /// The operation is not allowed on what it names (a suppressed or simulated remediation, …).
    case refused(String)
    /// The database location is unusable: missing, a directory, not a gavel database, a bad URI.
    case location(String)

    /// True for `unavailable`: the same operation may succeed later.
    public var isTransient: Bool {
        if case .unavailable = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unavailable(let m): "store unavailable: \(m)"
        case .failed(let m): "store error: \(m)"
        case .notFound(let m), .refused(let m), .location(let m): m
        case .conflict(let c): c.description
        }
    }
}

/// A decision that could not be made because the remediation is not in a state that allows it:
/// who decided it, how and when (hardening: an analyst must see why their keypress did nothing).
public struct DecisionConflict: Sendable, Equatable, CustomStringConvertible {
    /// The remediation.
    public var id: Int64
    /// Its state now.
    public var state: RemediationState
    /// Who decided it (an analyst or `auto:RULE`), when someone did.
    public var decidedBy: String?
    /// When.
    public var decidedAt: Timestamp?
    /// The rejection reason or the suppressing allowlist entry.
    public var reason: String?
    /// What was asked (`approve`, `reject`, `retry`, …).
    public var wanted: String

    public init(id: Int64, state: RemediationState, decidedBy: String?, decidedAt: Timestamp?, reason: String?, wanted: String) {
        self.id = id
        self.state = state
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.reason = reason
        self.wanted = wanted
    }

    /// `remediation 12 was already rejected by alice at 2026-…Z (reason: …); cannot approve it`.
    public var description: String {
        switch state {
        case .suppressed:
            return "remediation \(id) is suppressed (\(reason ?? "allowlisted")) and is never dispatched"
        case .simulated:
            return "remediation \(id) is a dry-run simulation and is never dispatched"
        case .pending where wanted == "retry":
            return "remediation \(id) is pending; only failed remediations can be retried"
        default:
            let who = decidedBy.map { " by \($0)" } ?? ""
            let when = decidedAt.map { " at \($0.rfc3339)" } ?? ""
            let why = (state == .rejected ? reason.map { " (reason: \($0))" } : nil) ?? ""
            return "remediation \(id) was already \(state.rawValue)\(who)\(when)\(why); cannot \(wanted) it"
        }
    }
}
