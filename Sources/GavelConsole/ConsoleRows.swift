import Foundation
import GavelCore
import GavelStore

// The console shows the domain values themselves: a list row is a `Remediation`, an Audit row an
// `AuditEntry`, an attempt an `Attempt`, an Intake errors row an `IntakeErrorEntry`. The types
// here only gather what one screen shows together. Every `String` may hold attacker-controlled
// text and is sanitized by the renderer, never here.

/// A signal gathered into a remediation, as the detail pane shows it.
public struct SignalCard: Sendable, Equatable {
    /// The signal as stored.
    public var stored: StoredSignal
    /// The attributes as an outline, one `path: value` per line, size-capped (parsed once per
    /// signal by the data source, not at every refresh).
    public var attributeLines: [String]

    public init(stored: StoredSignal, attributeLines: [String] = []) {
        self.stored = stored
        self.attributeLines = attributeLines
    }

    /// The normalized signal.
    public var signal: Signal { stored.signal }
}

/// Everything the detail pane shows for one remediation.
public struct RemediationDetail: Sendable, Equatable {
    /// The remediation itself (fresher than the list row).
    public var row: Remediation
    /// Newest first; the store may cap how many it returns.
    public var signals: [SignalCard]
    /// Earlier remediations on the same target, one line each, newest first.
    public var targetHistory: [String]
    /// The exact request dispatch sends (bound at approval) or would send if approved now,
    /// rendered and with secrets masked; multi-line.
    public var requestText: String?
    /// Dispatch attempts, oldest first.
    public var attempts: [Attempt]
    /// For a remediation in force: the exact request its revert sends (bound, or rendered now),
    /// secrets masked; nil when it cannot be reverted (see `revertRefusal`).
    public var revertRequestText: String?
    /// Why it cannot be reverted (`no revert configured`, irreversible), nil when it can.
    public var revertRefusal: String?
    /// Analysts' notes, oldest first.
    public var notes: [Note] = []
    /// How many different analysts must approve it (the two-person rule), under the configuration in force.
    public var requiredApprovals = 1

    public init(
        row: Remediation, signals: [SignalCard] = [], targetHistory: [String] = [], requestText: String? = nil, attempts: [Attempt] = [],
        revertRequestText: String? = nil, revertRefusal: String? = nil
    ) {
        self.row = row
        self.signals = signals
        self.targetHistory = targetHistory
        self.requestText = requestText
        self.attempts = attempts
        self.revertRequestText = revertRequestText
        self.revertRefusal = revertRefusal
    }
}

/// One detection rule in the Rules view (`gavel rules --json` fields): the rule with its counts
/// and the actions it proposes under the configuration in force.
public struct RuleRow: Sendable, Equatable, Identifiable {
    /// The rule as stored.
    public var rule: Rule
    /// Its pending and dispatched remediations.
    public var counts: RuleCounts
    /// The actions auto mode applies and new signals propose (narrowed by the analyst).
    public var enabledActions: [String]
    /// Every action the rule can propose (config or defaults).
    public var allActions: [String]
    /// Those of its actions whose circuit is open in this process's dispatcher: their remediations
    /// wait (issue 15).
    public var openCircuits: Set<String>

    public init(rule: Rule, counts: RuleCounts = RuleCounts(), enabledActions: [String], allActions: [String], openCircuits: Set<String> = []) {
        self.rule = rule
        self.counts = counts
        self.enabledActions = enabledActions
        self.allActions = allActions
        self.openCircuits = openCircuits
    }

    /// The key the rule is stored under (what effects name).
    public var key: String { rule.key }
    public var id: String { rule.key }
    /// The rule's display name.
    public var name: String { rule.displayName }
    public var mode: RuleMode { rule.mode }
    /// True when the auto budget is exhausted and auto decisions wait for an analyst.
    public var throttled: Bool { rule.throttledAt != nil }
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
    /// Actions marked `confirm` in the configuration in force: approving one asks for a `y`
    /// showing the canonical target and action.
    public var actionsNeedingConfirmation: Set<String>
    /// How to run `gavel demo` from the analyst's shell, for the empty Pending view's hint:
    /// `gavel demo` when gavel was started from `PATH`, else the path it was started by
    /// (`.build/debug/gavel demo` after `make run`).
    public var demoCommand: String

    public init(
        counts: [RemediationState: Int] = [:], rulesInAuto: Int = 0, listenAddress: String? = nil, banner: String? = nil,
        actionsNeedingConfirmation: Set<String> = [], demoCommand: String = "gavel demo"
    ) {
        self.demoCommand = demoCommand
        self.counts = counts
        self.rulesInAuto = rulesInAuto
        self.listenAddress = listenAddress
        self.banner = banner
        self.actionsNeedingConfirmation = actionsNeedingConfirmation
    }
}

extension AuditEntry {
    /// The Audit view's one-line text: `subject: before → after — detail`.
    public var consoleText: String {
        var text = subject
        if before != nil || after != nil { text += ": " + [before, "→", after].compactMap { $0 }.joined(separator: " ") }
        if let d = detail, !d.isEmpty { text += " — \(d)" }
        return text
    }
}

extension IntakeErrorEntry {
    /// The start of the body, decoded leniently as UTF-8 (multi-line, hostile: sanitize to show).
    public var bodyExcerpt: String { String(decoding: body.prefix(512), as: UTF8.self) }
}
