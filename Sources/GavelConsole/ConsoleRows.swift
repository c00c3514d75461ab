import Foundation
import GavelCore

/// One remediation as a console list shows it (one row of the Pending or History view).
///
/// Plain values copied out of the store; every `String` may hold attacker-controlled text and is
/// sanitized by the renderer, never here.
public struct RemediationRow: Sendable, Equatable, Identifiable {
    /// The remediation's id (`gavel list` `id`).
    public var id: Int64
    /// The lifecycle state (DESIGN.md "Remediation states").
    public var state: RemediationState
    /// The action name as configured: `ban-ip`, `disable-user`, `delete-security-group`, …
    public var action: String
    /// The canonical target (an IP in canonical form, a user id, a security-group id).
    public var target: String
    /// What the target is (IP, user, security group).
    public var targetKind: TargetKind
    /// The detection rule's display name (its name, else its id).
    public var rule: String
    /// The key the rule is stored under (its id when sent, else its name): what
    /// `ConsoleEffect.setRuleMode(rule:_:)` names.
    public var ruleKey: String
    /// The highest severity among the gathered signals; nil when none carried one.
    public var severity: Severity?
    /// When the remediation was proposed (the first signal for its action and target).
    public var createdAt: Date
    /// How many signals were gathered into this remediation.
    public var signals: Int
    /// Canonical IPs and user ids named by the gathered signals (context, not only the target).
    public var ips: [String]
    public var users: [String]
    /// The analyst name or `auto:RULE`; nil while undecided.
    public var decidedBy: String?
    /// The rejection reason, if rejected.
    public var reason: String?
    /// The last dispatch error, if any.
    public var lastError: String?
    /// True when the action is marked `confirm` (e.g. `delete-security-group`): approving it asks
    /// for a `y` showing the canonical target and action.
    public var confirm: Bool
    /// The allowlist entry (e.g. a CIDR) that suppressed this remediation, if suppressed.
    public var suppressedBy: String?

    public init(
        id: Int64, state: RemediationState, action: String, target: String, targetKind: TargetKind,
        rule: String, ruleKey: String? = nil, severity: Severity?, createdAt: Date, signals: Int = 1,
        ips: [String] = [], users: [String] = [], decidedBy: String? = nil, reason: String? = nil,
        lastError: String? = nil, confirm: Bool = false, suppressedBy: String? = nil
    ) {
        self.id = id
        self.state = state
        self.action = action
        self.target = target
        self.targetKind = targetKind
        self.rule = rule
        self.ruleKey = ruleKey ?? rule
        self.severity = severity
        self.createdAt = createdAt
        self.signals = signals
        self.ips = ips
        self.users = users
        self.decidedBy = decidedBy
        self.reason = reason
        self.lastError = lastError
        self.confirm = confirm
        self.suppressedBy = suppressedBy
    }
}

/// A signal gathered into a remediation, as the detail pane shows it.
public struct SignalCard: Sendable, Equatable {
    /// The store's row id.
    public var id: Int64
    /// Datadog's `SECURITY_SIGNAL_ID` (or the derived id).
    public var signalID: String
    /// `SECURITY_SIGNAL_TITLE`.
    public var title: String?
    /// `SECURITY_SIGNAL_MSG` (multi-line).
    public var message: String?
    /// `SECURITY_SIGNAL_SEVERITY`, if sent.
    public var severity: Severity?
    /// Canonical IPs of `network.client.ip`.
    public var ips: [String]
    /// User ids (`usr.id`, else `usr.email`, else `usr.name`).
    public var users: [String]
    /// `evt.name` and `evt.outcome`.
    public var eventName: String?
    public var eventOutcome: String?
    /// Security-group ids named by the signal.
    public var securityGroups: [String]
    /// `userIdentity.arn`.
    public var actor: String?
    /// `LINK`.
    public var link: String?
    /// The attributes as an outline, one `path: value` per line, already size-capped by the store.
    public var attributeLines: [String]
    /// When gavel first received the signal.
    public var receivedAt: Date

    public init(
        id: Int64, signalID: String, title: String? = nil, message: String? = nil, severity: Severity? = nil,
        ips: [String] = [], users: [String] = [], eventName: String? = nil, eventOutcome: String? = nil,
        securityGroups: [String] = [], actor: String? = nil, link: String? = nil,
        attributeLines: [String] = [], receivedAt: Date
    ) {
        self.id = id
        self.signalID = signalID
        self.title = title
        self.message = message
        self.severity = severity
        self.ips = ips
        self.users = users
        self.eventName = eventName
        self.eventOutcome = eventOutcome
        self.securityGroups = securityGroups
        self.actor = actor
        self.link = link
        self.attributeLines = attributeLines
        self.receivedAt = receivedAt
    }
}

/// One dispatch attempt of a remediation.
public struct AttemptRow: Sendable, Equatable {
    /// 1 for the first attempt.
    public var number: Int
    /// When the attempt started.
    public var at: Date
    /// HTTP status or exit status; nil when the attempt never got one (connect error, timeout).
    public var status: Int?
    /// What went wrong, if it failed.
    public var error: String?
    /// How long the attempt took.
    public var durationMilliseconds: Int?

    public init(number: Int, at: Date, status: Int? = nil, error: String? = nil, durationMilliseconds: Int? = nil) {
        self.number = number
        self.at = at
        self.status = status
        self.error = error
        self.durationMilliseconds = durationMilliseconds
    }
}

/// Everything the detail pane shows for one remediation.
public struct RemediationDetail: Sendable, Equatable {
    /// The remediation itself (fresher than the list row).
    public var row: RemediationRow
    /// Newest first; the store may cap how many it returns.
    public var signals: [SignalCard]
    /// Earlier remediations on the same (action, target), one line each, newest first.
    public var targetHistory: [String]
    /// The exact request dispatch would send, rendered and with secrets masked; multi-line.
    public var requestText: String?
    /// Dispatch attempts, oldest first.
    public var attempts: [AttemptRow]

    public init(
        row: RemediationRow, signals: [SignalCard] = [], targetHistory: [String] = [],
        requestText: String? = nil, attempts: [AttemptRow] = []
    ) {
        self.row = row
        self.signals = signals
        self.targetHistory = targetHistory
        self.requestText = requestText
        self.attempts = attempts
    }
}

/// One detection rule in the Rules view (`gavel rules --json` fields).
public struct RuleRow: Sendable, Equatable, Identifiable {
    /// The rule's display name.
    public var rule: String
    /// Datadog's rule id, if known.
    public var ruleID: String?
    /// The key the rule is stored under (id, else name); what effects name.
    public var key: String
    /// manual, auto or dry-run.
    public var mode: RuleMode
    /// The actions auto mode applies and new signals propose (narrowed by the analyst).
    public var enabledActions: [String]
    /// Every action the rule can propose (config or defaults).
    public var allActions: [String]
    /// True when the auto budget is exhausted and auto decisions wait for an analyst.
    public var throttled: Bool
    /// Remediations of this rule waiting for a decision.
    public var pending: Int
    /// Remediations of this rule dispatched so far.
    public var dispatched: Int
    /// When the rule last sent a signal.
    public var lastSeen: Date?

    public var id: String { key }

    public init(
        rule: String, ruleID: String? = nil, key: String? = nil, mode: RuleMode = .manual,
        enabledActions: [String], allActions: [String], throttled: Bool = false,
        pending: Int = 0, dispatched: Int = 0, lastSeen: Date? = nil
    ) {
        self.rule = rule
        self.ruleID = ruleID
        self.key = key ?? ruleID ?? rule
        self.mode = mode
        self.enabledActions = enabledActions
        self.allActions = allActions
        self.throttled = throttled
        self.pending = pending
        self.dispatched = dispatched
        self.lastSeen = lastSeen
    }
}

/// One audit-log entry (Audit view), newest first.
public struct AuditRow: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var at: Date
    /// Who: an analyst name, `auto:RULE`, `dispatcher`, `receiver`.
    public var actor: String
    /// What, as a verb: `approve`, `reject`, `retry`, `dispatch`, `set-mode`, `set-action`, …
    public var verb: String
    /// The remediation concerned, if any.
    public var remediationID: Int64?
    /// A one-line description (reason, target, outcome).
    public var text: String

    public init(id: Int64, at: Date, actor: String, verb: String, remediationID: Int64? = nil, text: String) {
        self.id = id
        self.at = at
        self.actor = actor
        self.verb = verb
        self.remediationID = remediationID
        self.text = text
    }
}

/// A rejected webhook delivery kept for inspection (Intake errors view), newest first.
public struct IntakeErrorRow: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var at: Date
    /// The sender's address as `HOST:PORT`.
    public var peer: String
    /// The HTTP status answered (400, 413, …).
    public var status: Int
    public var reason: String
    /// The start of the raw body, decoded leniently as UTF-8 (multi-line, hostile).
    public var bodyExcerpt: String

    public init(id: Int64, at: Date, peer: String, status: Int, reason: String, bodyExcerpt: String) {
        self.id = id
        self.at = at
        self.peer = peer
        self.status = status
        self.reason = reason
        self.bodyExcerpt = bodyExcerpt
    }
}

/// What the header line shows.
public struct ConsoleSummary: Sendable, Equatable {
    /// Remediation counts per state; missing states count 0.
    public var counts: [RemediationState: Int]
    /// How many rules are in auto mode.
    public var rulesInAuto: Int
    /// `HOST:PORT` the receiver listens on; nil with `--no-receiver`.
    public var listenAddress: String?
    /// A short warning to show in the header (store unavailable, dispatcher stalled), if any.
    public var banner: String?

    public init(counts: [RemediationState: Int] = [:], rulesInAuto: Int = 0, listenAddress: String? = nil, banner: String? = nil) {
        self.counts = counts
        self.rulesInAuto = rulesInAuto
        self.listenAddress = listenAddress
        self.banner = banner
    }
}
