import Foundation
import GavelCore
import GavelStore

/// What a key asks the outside world to do. The model returns these as values and never
/// performs them; the executable's performer records decisions in the store and reports back
/// with ``ConsoleEvent/decisionResult(_:)``.
public enum ConsoleEffect: Sendable, Equatable {
    /// Approve these remediations (compare-and-set from `pending`), attributed to `by`.
    case approve([Int64], by: String)
    /// Reject these remediations with a non-empty reason, attributed to `by`; `falsePositive`:
    /// marked a false positive (`Decision.reject`).
    case reject([Int64], reason: String, by: String, falsePositive: Bool = false)
    /// Move these `failed` remediations back to `approved` (or failed reverts back to `reverting`), attributed to `by`.
    case retry([Int64], by: String)
    /// Take back these approvals not yet sent (`approved` → `pending`).
    case withdraw([Int64], by: String)
    /// Revert these remediations in force now, with a reason.
    case revert([Int64], reason: String, by: String)
    /// Move these remediations' expiry later by `ms` (nil: make them permanent).
    case extend([Int64], ms: Int64?, by: String)
    /// Leave a note on a remediation.
    case note(Int64, text: String, by: String)
    /// Set a detection rule's mode; `rule` is ``RuleRow/key`` (or ``Remediation/ruleKey``).
    case setRuleMode(rule: String, RuleMode)
    /// Enable or disable one action of a rule (persisted).
    case setRuleAction(rule: String, action: String, enabled: Bool)
    /// Reload what the screen shows from the data source.
    case reload
    /// Leave the console (endwin, then the executable shuts down).
    case quit
}

/// The outcome of performing a decision effect, as the analyst should read it.
public struct DecisionOutcome: Sendable, Equatable {
    /// One line: `approved #12`, `#12 was already rejected by alice`.
    public var message: String
    /// True when anything failed; the status line then shows it as an error.
    public var isError: Bool

    public init(message: String, isError: Bool = false) {
        self.message = message
        self.isError = isError
    }
}

/// A loaded slice of a remediation list (see ``ConsoleModel/windowRequest(for:)``).
public struct RemediationWindow: Sendable, Equatable {
    /// Rows in display order.
    public var rows: [Remediation]
    /// True when no row exists before `rows.first` (the list's top is loaded).
    public var atStart: Bool
    /// True when no row exists after `rows.last`.
    public var atEnd: Bool
    /// The id to select when the previous selection is gone (the row that took its place).
    public var preferredID: Int64?

    public init(rows: [Remediation], atStart: Bool, atEnd: Bool, preferredID: Int64? = nil) {
        self.rows = rows
        self.atStart = atStart
        self.atEnd = atEnd
        self.preferredID = preferredID
    }
}

/// Something that happened outside the model: data arrived, a decision finished, time passed.
public enum ConsoleEvent: Sendable, Equatable {
    case summary(ConsoleSummary)
    case rules([RuleRow])
    case window(ConsoleView, RemediationWindow)
    /// The detail of the remediation with this id (nil: it no longer exists).
    case detail(id: Int64, RemediationDetail?)
    /// Audit entries newest first; `complete` when the log holds no older ones.
    case audit([AuditEntry], complete: Bool)
    case intakeErrors([IntakeErrorEntry], complete: Bool)
    case decisionResult(DecisionOutcome)
    /// Show an error banner (store unreachable, …) until ``clearError``.
    case error(String)
    case clearError
    case resized(rows: Int, cols: Int)
    /// The clock: ages and the header's time are computed from it.
    case tick(Date)
}
