import GavelCore
import GavelStore

/// The console's views, reachable with `Tab` or the digits `1`–`5`.
public enum ConsoleView: Int, Sendable, CaseIterable, Hashable {
    /// Remediations waiting for a decision: highest severity first, then oldest.
    case pending = 1
    /// Every remediation, newest first, filterable by state.
    case history = 2
    /// Detection rules: mode (manual / auto / dry-run) and enabled actions.
    case rules = 3
    /// The audit log, newest first.
    case audit = 4
    /// Rejected webhook deliveries, newest first.
    case intakeErrors = 5
    /// Remediations in force, soonest expiry first, with the time left.
    case inForce = 6

    /// The view's title in the tab line and help.
    public var title: String {
        switch self {
        case .pending: "Pending"
        case .history: "History"
        case .rules: "Rules"
        case .audit: "Audit"
        case .intakeErrors: "Intake errors"
        case .inForce: "In force"
        }
    }

    /// True for the remediation lists (Pending, History, In force).
    public var isRemediationList: Bool { self == .pending || self == .history || self == .inForce }
}

/// Everything a key can ask the console to do (tig's "requests"). Keys map to commands through
/// a ``Keymap``; the model handles commands, never raw keys (except inside prompts).
public enum Command: Hashable, Sendable, CustomStringConvertible {
    case moveDown, moveUp, pageDown, pageUp, top, bottom
    /// Move the focus to the detail pane (then `j`/`k` scroll it).
    case focusDetail
    /// Back out: detail → list, clear an active filter.
    case back
    case nextView, previousView
    case view(ConsoleView)
    /// Open the `/` filter prompt.
    case filter
    case nextMatch, prevMatch
    /// Approve the selected remediation, or every tagged one after a summary.
    case approve
    /// Reject (asks for a reason).
    case reject
    /// Reject as a false positive (asks for a reason; with the word back to Datadog, its Datadog
    /// signals are archived as false positive).
    case rejectFalsePositive
    case toggleTag
    /// Switch the selected row's rule to auto (asks to confirm, listing its enabled actions) or back to manual.
    case toggleAuto
    /// Switch the selected row's rule to dry-run, or back to manual.
    case dryRun
    /// Re-approve a failed remediation for another dispatch.
    case retry
    /// Take back an approval not yet sent (back to pending).
    case withdraw
    /// Revert a remediation in force now (asks for a reason, then confirms showing the revert request).
    case revert
    /// Move a remediation's expiry (asks for a duration).
    case extend
    /// Leave a note on the selected remediation (asks for the text).
    case note
    /// Rules view: set the selected rule's mode.
    case setMode(RuleMode)
    /// Rules view: enable or disable one action (e.g. `ban-ip`) of the selected rule.
    case toggleAction(String)
    /// History view: cycle the state filter (all → pending → approved → …).
    case cycleStateFilter
    case help
    case quit

    /// Every command the standard keymap can produce.
    public static let allCases: [Command] =
        [
            .moveDown, .moveUp, .pageDown, .pageUp, .top, .bottom, .focusDetail, .back, .nextView,
            .previousView,
        ] + ConsoleView.allCases.map { Command.view($0) } + [
            .filter, .nextMatch, .prevMatch, .approve, .reject, .rejectFalsePositive, .toggleTag, .toggleAuto, .dryRun, .retry, .withdraw, .revert,
            .extend, .note,
            .setMode(.manual), .toggleAction(ActionName.banIP), .toggleAction(ActionName.disableUser),
            .toggleAction(ActionName.deleteSecurityGroup), .cycleStateFilter, .help, .quit,
        ]

    /// True for commands that record a decision or change a rule: refused in `--read-only` mode.
    public var changesState: Bool {
        switch self {
        case .approve, .reject, .rejectFalsePositive, .toggleAuto, .dryRun, .retry, .setMode, .toggleAction, .withdraw, .revert, .extend, .note: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .view(let v): "view(\(v.rawValue))"
        case .setMode(let m): "setMode(\(m.rawValue))"
        case .toggleAction(let a): "toggleAction(\(a))"
        case .moveDown: "moveDown"
        case .moveUp: "moveUp"
        case .pageDown: "pageDown"
        case .pageUp: "pageUp"
        case .top: "top"
        case .bottom: "bottom"
        case .focusDetail: "focusDetail"
        case .back: "back"
        case .nextView: "nextView"
        case .previousView: "previousView"
        case .filter: "filter"
        case .nextMatch: "nextMatch"
        case .prevMatch: "prevMatch"
        case .approve: "approve"
        case .reject: "reject"
        case .rejectFalsePositive: "rejectFalsePositive"
        case .toggleTag: "toggleTag"
        case .toggleAuto: "toggleAuto"
        case .dryRun: "dryRun"
        case .retry: "retry"
        case .withdraw: "withdraw"
        case .revert: "revert"
        case .extend: "extend"
        case .note: "note"
        case .cycleStateFilter: "cycleStateFilter"
        case .help: "help"
        case .quit: "quit"
        }
    }
}

/// The action names gavel proposes by default (DESIGN.md, "Which remediations a signal proposes").
public enum ActionName {
    public static let banIP = "ban-ip"
    public static let disableUser = "disable-user"
    public static let deleteSecurityGroup = "delete-security-group"
}
