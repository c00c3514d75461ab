import GavelCore
import GavelStore

/// A question waiting for `y` (or `n`/Esc). Drawn as a box over the body.
public struct Confirmation: Sendable, Equatable {
    /// One line, e.g. `Delete security group?`.
    public var title: String
    /// What exactly will happen: canonical targets, actions, counts.
    public var lines: [String]
    public var onYes: ConfirmedAction

    public init(title: String, lines: [String], onYes: ConfirmedAction) {
        self.title = title
        self.lines = lines
        self.onYes = onYes
    }
}

/// What `y` does.
public enum ConfirmedAction: Sendable, Equatable {
    case effects([ConsoleEffect], flash: String, clearsTags: Bool)
    /// Go on to the reject-reason prompt for these ids (a false-positive rejection's when `falsePositive`).
    case askReason(ids: [Int64], title: String, clearsTags: Bool, falsePositive: Bool = false)
}

/// A one-line prompt for a decision: the reject reason, the revert reason, the extension's duration.
public struct ReasonPrompt: Sendable, Equatable {
    /// What the text is for.
    public enum Purpose: String, Sendable, Equatable {
        case reject, rejectFalsePositive, revert, extend, note

        /// What Enter does, for the prompt's hint: `rejects`, `goes on to the revert request`, …
        public var enterVerb: String {
            switch self {
            case .reject: "rejects"
            case .rejectFalsePositive: "rejects as a false positive"
            case .revert: "shows the revert request"
            case .extend: "extends"
            case .note: "saves the note"
            }
        }
    }
    public var purpose: Purpose = .reject
    public var ids: [Int64]
    /// What is being rejected, shown on the status line.
    public var title: String
    public var editor: LineEditor
    var clearsTags: Bool
}

extension ConsoleModel {
    mutating func perform(_ action: ConfirmedAction) -> [ConsoleEffect] {
        switch action {
        case .effects(let effects, let text, let clearsTags):
            if clearsTags { tagged = [:] }
            flash = Flash(text)
            return effects
        case .askReason(let ids, let title, let clearsTags, let falsePositive):
            mode = .reason(
                ReasonPrompt(
                    purpose: falsePositive ? .rejectFalsePositive : .reject, ids: ids, title: title,
                    editor: LineEditor(prompt: falsePositive ? "false positive, reason: " : "reason: "), clearsTags: clearsTags))
            return []
        }
    }

    /// What a submitted prompt does.
    mutating func submitted(_ prompt: ReasonPrompt, text: String) -> [ConsoleEffect] {
        switch prompt.purpose {
        case .reject, .rejectFalsePositive:
            if prompt.clearsTags { tagged = [:] }
            let falsePositive = prompt.purpose == .rejectFalsePositive
            flash = Flash("rejecting \(countText(prompt.ids.count))\(falsePositive ? " as a false positive" : "")…")
            return [.reject(prompt.ids, reason: text, by: analyst, falsePositive: falsePositive)]
        case .revert:
            let lines =
                ["reason: \(text)"] + (detail?.revertRequestText.map { ["The revert sends:"] + $0.split(separator: "\n").map(String.init) } ?? [])
            mode = .confirm(
                Confirmation(
                    title: "Revert #\(prompt.ids.first ?? 0) now?", lines: lines,
                    onYes: .effects(
                        [.revert(prompt.ids, reason: text, by: analyst)], flash: "reverting #\(prompt.ids.first ?? 0)…", clearsTags: false)))
            return []
        case .extend:
            let ms: Int64?
            do {
                ms = try DurationText.milliseconds(text)
            } catch {
                flash = Flash(error.message, isError: true)
                return []
            }
            flash = Flash("extending #\(prompt.ids.first ?? 0) by \(DurationText.text(ms))…")
            return [.extend(prompt.ids, ms: ms, by: analyst)]
        case .note:
            guard let id = prompt.ids.first else { return [] }
            flash = Flash("adding a note to #\(id)…")
            return [.note(id, text: text, by: analyst)]
        }
    }

    mutating func note() -> [ConsoleEffect] {
        guard let row = selectedRemediation else { return [] }
        mode = .reason(
            ReasonPrompt(
                purpose: .note, ids: [row.id], title: "note on " + Self.describe(row), editor: LineEditor(prompt: "note: ", maxLength: 500),
                clearsTags: false))
        return []
    }

    mutating func withdraw() -> [ConsoleEffect] {
        guard let row = selectedRemediation else { return [] }
        guard row.state == .approved else {
            flash = Flash("only approvals not yet sent can be withdrawn (#\(row.id) is \(row.state.rawValue))", isError: true)
            return []
        }
        flash = Flash("withdrawing #\(row.id)…")
        return [.withdraw([row.id], by: analyst)]
    }

    mutating func revert() -> [ConsoleEffect] {
        guard let row = selectedRemediation else { return [] }
        guard row.state == .dispatched || row.state == .revertFailed || row.state == .revertPending else {
            flash = Flash("only remediations in force can be reverted (#\(row.id) is \(row.state.rawValue))", isError: true)
            return []
        }
        if let why = detail?.row.id == row.id ? detail?.revertRefusal : nil {
            flash = Flash("#\(row.id) cannot be reverted: \(why)", isError: true)
            return []
        }
        mode = .reason(
            ReasonPrompt(
                purpose: .revert, ids: [row.id], title: "revert " + Self.describe(row), editor: LineEditor(prompt: "why revert: "), clearsTags: false)
        )
        return []
    }

    mutating func extend() -> [ConsoleEffect] {
        guard let row = selectedRemediation else { return [] }
        guard row.state == .dispatched else {
            flash = Flash("only remediations in force can be extended (#\(row.id) is \(row.state.rawValue))", isError: true)
            return []
        }
        guard row.expiresAt != nil else {
            flash = Flash("#\(row.id) is permanent: there is no expiry to move", isError: true)
            return []
        }
        mode = .reason(
            ReasonPrompt(
                purpose: .extend, ids: [row.id], title: "extend " + Self.describe(row),
                editor: LineEditor(prompt: "extend by (30m, 4h, 7d, permanent): "),
                clearsTags: false))
        return []
    }

    /// The tagged rows in list order (severity, then age, then id) for summaries.
    var taggedRows: [Remediation] { tagged.values.sorted { $0.id < $1.id } }

    /// `37 bans, 1 allowlisted skipped`: what a batch does and what it skips.
    static func batchSummary(_ rows: [Remediation], acting: (Remediation) -> Bool, skipNoun: String) -> (ids: [Int64], text: String) {
        var counts: [(String, Int)] = []
        var ids: [Int64] = []
        var allowlisted = 0
        var other = 0
        for row in rows {
            if acting(row) {
                ids.append(row.id)
                if let i = counts.firstIndex(where: { $0.0 == row.action }) { counts[i].1 += 1 } else { counts.append((row.action, 1)) }
            } else if row.state == .suppressed || row.suppressedBy != nil {
                allowlisted += 1
            } else {
                other += 1
            }
        }
        var parts = counts.map { actionNoun($0.0, count: $0.1) }
        if allowlisted > 0 { parts.append("\(allowlisted) allowlisted skipped") }
        if other > 0 { parts.append("\(other) \(skipNoun) skipped") }
        return (ids, parts.isEmpty ? "nothing tagged" : parts.joined(separator: ", "))
    }

    /// `1 ban`, `2 user disables`, `1 security-group deletion`, `3 notify-slack`.
    static func actionNoun(_ action: String, count n: Int) -> String {
        let s = n == 1 ? "" : "s"
        switch action {
        case ActionName.banIP: return "\(n) ban\(s)"
        case ActionName.disableUser: return "\(n) user disable\(s)"
        case ActionName.deleteSecurityGroup: return "\(n) security-group deletion\(s)"
        default: return "\(n) \(action)"
        }
    }

    /// Whether approving `row` asks for a `y` (its action is marked `confirm` in the configuration in force).
    func needsConfirmation(_ row: Remediation) -> Bool {
        summary?.actionsNeedingConfirmation.contains(row.action) ?? true
    }

    /// The remediations a batch acts on, one per line (`  #12 ban-ip 203.0.113.42`), at most
    /// `limit` of them and then `  … and N more`, so the confirmation box fits a 24-row screen.
    func targetLines(_ rows: [Remediation], limit: Int = 6) -> [String] {
        let shown = rows.count > limit ? limit - 1 : rows.count
        var lines = rows.prefix(shown).map { "  #\($0.id) \($0.action) \($0.target)" }
        if rows.count > shown { lines.append("  … and \(rows.count - shown) more") }
        return lines
    }

    /// `delete-security-group sg-0a1b… (rule: Misconfigured SG)`, for confirmations.
    static func describe(_ row: Remediation) -> String {
        "#\(row.id) \(row.action) \(row.target) (rule: \(row.ruleDisplayName))"
    }

    // MARK: Decisions on remediations

    mutating func approve() -> [ConsoleEffect] {
        if !tagged.isEmpty {
            let rows = taggedRows
            let batch = Self.batchSummary(rows, acting: { $0.state == .pending }, skipNoun: "not pending")
            guard !batch.ids.isEmpty else {
                flash = Flash("nothing to approve: \(batch.text)", isError: true)
                return []
            }
            var lines = ["\(batch.text):"] + targetLines(rows.filter { $0.state == .pending })
            lines += rows.filter { needsConfirmation($0) && $0.state == .pending }.prefix(3).map { "confirm: " + Self.describe($0) }
            mode = .confirm(
                Confirmation(
                    title: "Approve \(countText(batch.ids.count)) of \(rows.count) tagged?", lines: lines,
                    onYes: .effects([.approve(batch.ids, by: analyst)], flash: "approving \(batch.text)…", clearsTags: true)))
            return []
        }
        guard let row = selectedRemediation else { return [] }
        if row.state == .revertPending {
            flash = Flash("approving the revert of #\(row.id)…")
            return [.approve([row.id], by: analyst)]
        }
        guard row.state == .pending else {
            flash = Flash("#\(row.id) is \(row.state.rawValue), not pending", isError: true)
            return []
        }
        if needsConfirmation(row) {
            mode = .confirm(
                Confirmation(
                    title: "Approve \(row.action) \(row.target)?",
                    lines: [
                        "action: \(row.action)", "target: \(row.target) (\(row.targetKind.rawValue))", "rule: \(row.ruleDisplayName)",
                        "This action is marked confirm: it cannot be undone from gavel.",
                    ],
                    onYes: .effects([.approve([row.id], by: analyst)], flash: "approving #\(row.id)…", clearsTags: false)))
            return []
        }
        flash = Flash("approving #\(row.id) \(row.action) \(row.target)…")
        return [.approve([row.id], by: analyst)]
    }

    /// Asks for a rejection's reason (after a summary for tagged rows); `falsePositive` marks it so.
    mutating func reject(falsePositive: Bool = false) -> [ConsoleEffect] {
        let noun = falsePositive ? "reject as a false positive" : "reject"
        if !tagged.isEmpty {
            let rows = taggedRows
            let batch = Self.batchSummary(rows, acting: { $0.state == .pending }, skipNoun: "not pending")
            guard !batch.ids.isEmpty else {
                flash = Flash("nothing to reject: \(batch.text)", isError: true)
                return []
            }
            mode = .confirm(
                Confirmation(
                    title: "\(falsePositive ? "Reject as a false positive" : "Reject") \(countText(batch.ids.count)) of \(rows.count) tagged?",
                    lines: ["\(batch.text):"] + targetLines(rows.filter { $0.state == .pending }) + ["A reason is asked next."],
                    onYes: .askReason(ids: batch.ids, title: "\(noun) \(batch.text)", clearsTags: true, falsePositive: falsePositive)))
            return []
        }
        guard let row = selectedRemediation else { return [] }
        guard row.state == .pending || (row.state == .revertPending && !falsePositive) else {
            flash = Flash("#\(row.id) is \(row.state.rawValue), not pending", isError: true)
            return []
        }
        mode = .reason(
            ReasonPrompt(
                purpose: falsePositive ? .rejectFalsePositive : .reject, ids: [row.id], title: "\(noun) " + Self.describe(row),
                editor: LineEditor(prompt: falsePositive ? "false positive, reason: " : "reason: "), clearsTags: false))
        return []
    }

    mutating func retry() -> [ConsoleEffect] {
        if !tagged.isEmpty {
            let rows = taggedRows
            let batch = Self.batchSummary(rows, acting: { $0.state == .failed }, skipNoun: "not failed")
            guard !batch.ids.isEmpty else {
                flash = Flash("nothing to retry: \(batch.text)", isError: true)
                return []
            }
            mode = .confirm(
                Confirmation(
                    title: "Retry \(countText(batch.ids.count)) of \(rows.count) tagged?",
                    lines: ["\(batch.text):"] + targetLines(rows.filter { $0.state == .failed }),
                    onYes: .effects([.retry(batch.ids, by: analyst)], flash: "retrying \(batch.text)…", clearsTags: true)))
            return []
        }
        guard let row = selectedRemediation else { return [] }
        guard row.state == .failed || row.state == .revertFailed else {
            flash = Flash("only failed remediations can be retried (#\(row.id) is \(row.state.rawValue))", isError: true)
            return []
        }
        if needsConfirmation(row) {
            mode = .confirm(
                Confirmation(
                    title: "Retry \(row.action) \(row.target)?",
                    lines: ["action: \(row.action)", "target: \(row.target) (\(row.targetKind.rawValue))", "last error: \(row.lastError ?? "-")"],
                    onYes: .effects([.retry([row.id], by: analyst)], flash: "retrying #\(row.id)…", clearsTags: false)))
            return []
        }
        flash = Flash("retrying #\(row.id)…")
        return [.retry([row.id], by: analyst)]
    }

    // MARK: Rules

    /// The rule the current row belongs to: the selected rule, or the selected remediation's rule.
    var targetRule: (key: String, name: String, row: RuleRow?)? {
        if view == .rules {
            guard let r = selectedRule else { return nil }
            return (r.key, r.name, r)
        }
        guard let row = selectedRemediation else { return nil }
        return (row.ruleKey, row.ruleDisplayName, rules.first { $0.key == row.ruleKey })
    }

    mutating func toggleAuto() -> [ConsoleEffect] {
        guard let rule = targetRule else { return [] }
        if rule.row?.mode == .auto { return setMode(.manual) }
        return setMode(.auto)
    }

    mutating func toggleDryRun() -> [ConsoleEffect] {
        guard let rule = targetRule else { return [] }
        return setMode(rule.row?.mode == .dryRun ? .manual : .dryRun)
    }

    mutating func setMode(_ m: RuleMode) -> [ConsoleEffect] {
        guard let rule = targetRule else { return [] }
        if rule.row?.mode == m {
            flash = Flash("rule \(rule.name) is already \(m.rawValue)")
            return []
        }
        let effect = ConsoleEffect.setRuleMode(rule: rule.key, m)
        guard m == .auto else {
            flash = Flash("rule \(rule.name) → \(m.rawValue)")
            return [effect]
        }
        let actions = rule.row.map { $0.enabledActions.isEmpty ? "none" : $0.enabledActions.joined(separator: ", ") } ?? "unknown (rules not loaded)"
        mode = .confirm(
            Confirmation(
                title: "Switch rule \(rule.name) to auto?",
                lines: [
                    "Its enabled actions are approved and dispatched without review:", "  \(actions)",
                ] + pendingNote(rule.row).split(separator: "\n").map(String.init) + ["A switches it back to manual."],
                onYes: .effects([effect], flash: "rule \(rule.name) → auto", clearsTags: false)))
        return []
    }

    /// What switching to auto does to what is already pending: nothing — auto applies to new
    /// proposals only (the intake plan decides at intake), so say how many wait for an analyst.
    func pendingNote(_ row: RuleRow?) -> String {
        guard let row else { return "Remediations already pending stay pending: auto applies to new signals only." }
        switch row.counts.pending {
        case 0: return "Nothing of this rule is pending; auto applies to its new signals."
        case 1: return "Its 1 pending remediation stays pending for an analyst;\nauto applies to new signals only."
        case let n: return "Its \(n) pending remediations stay pending for an analyst;\nauto applies to new signals only."
        }
    }

    mutating func toggleAction(_ action: String) -> [ConsoleEffect] {
        guard view == .rules, let rule = selectedRule else { return [] }
        guard rule.allActions.contains(action) else {
            flash = Flash("rule \(rule.name) does not propose \(action)", isError: true)
            return []
        }
        let enable = !rule.enabledActions.contains(action)
        let effect = ConsoleEffect.setRuleAction(rule: rule.key, action: action, enabled: enable)
        let text = "rule \(rule.name): \(action) \(enable ? "enabled" : "disabled")"
        if enable && rule.mode == .auto {
            mode = .confirm(
                Confirmation(
                    title: "Enable \(action) for rule \(rule.name)?",
                    lines: ["The rule is in auto: \(action) will be dispatched without review."],
                    onYes: .effects([effect], flash: text, clearsTags: false)))
            return []
        }
        flash = Flash(text)
        return [effect]
    }
}
