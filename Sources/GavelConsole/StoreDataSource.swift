import Foundation
import GavelCore
import GavelStore

/// The console's view of the store, through the store protocols only (no SQL): every list is a
/// keyset page, every call one short read; and the performer of the console's decisions.
///
/// Owned by the UI thread (it holds a store session, which is not `Sendable`).
public final class StoreDataSource: ConsoleDataSource {
    let store: any Store
    /// The configuration in force (read at each call: a configuration applied meanwhile shows).
    let config: () -> GavelConfig
    let listenAddress: String?
    let analyst: String
    /// `ConsoleSummary.demoCommand`.
    let demoCommand: String
    /// Extra banner text from the process (dispatcher or receiver trouble); nil when healthy.
    let problems: () -> String?
    /// Actions whose circuit is open in this process's dispatcher, with when it may close (nil
    /// while a probe decides).
    let circuits: () -> [String: Timestamp?]
    /// Attribute outlines by signal row id: a stored signal never changes, so its attributes are
    /// parsed once, not at every refresh (a hostile 40,000-element array would otherwise be
    /// parsed every second).
    private var outlines: [Int64: [String]] = [:]
    /// How many times attributes were parsed (each signal once while it stays cached): what the
    /// regression test for issue 16's 71-second scripted session counts.
    private(set) var attributeParses = 0

    /// Most lines of a signal's attribute outline, and most characters of one line (the rest is
    /// cut with a note of how much): the pane shows a few hundred lines, not 100,000 elements.
    static let outlineLimits = (lines: 400, characters: 2000)

    /// - Parameters:
    ///   - analyst: the name decisions from this console carry (shown in the request preview).
    ///   - problems: extra banner text (dispatcher trouble, configuration differences).
    ///   - circuits: the actions whose circuit is open in this process's dispatcher (header, Rules view).
    ///   - demoCommand: how to run `gavel demo` from the analyst's shell (``ConsoleSummary/demoCommand``).
    public init(
        store: any Store, config: @escaping () -> GavelConfig, listenAddress: String?, analyst: String = "(you)",
        problems: @escaping () -> String? = { nil }, circuits: @escaping () -> [String: Timestamp?] = { [:] }, demoCommand: String = "gavel demo"
    ) {
        self.circuits = circuits
        self.analyst = analyst
        self.demoCommand = demoCommand
        self.store = store
        self.config = config
        self.listenAddress = listenAddress
        self.problems = problems
    }

    public func page(_ query: ConsolePageQuery) throws -> [Remediation] {
        try store.page(query)
    }

    public func detail(remediationID id: Int64) throws -> RemediationDetail? {
        guard let row = try store.remediation(id: id) else { return nil }
        let signals = try store.signals(ofRemediation: id, limit: 10).map { SignalCard(stored: $0, attributeLines: outline(of: $0)) }
        let revert = try revertText(row)
        var detail = RemediationDetail(
            row: row, signals: signals, targetHistory: try history(of: row), requestText: try requestText(row),
            attempts: try store.attempts(ofRemediation: id), revertRequestText: revert.text, revertRefusal: revert.refusal)
        detail.notes = try store.notes(ofRemediation: id)
        detail.requiredApprovals = config().requiredApprovals(action: row.action, ruleID: row.ruleKey, ruleName: row.ruleName)
        return detail
    }

    /// What reverting a remediation in force sends (bound when its revert was decided, else
    /// rendered now as a revert by this analyst would bind it), or why it cannot be reverted.
    private func revertText(_ row: Remediation) throws -> (text: String?, refusal: String?) {
        if let bound = row.revertRequest { return (bound.masked().displayText, nil) }
        guard row.state.isInForce, let action = config().actions[row.action] else { return (nil, nil) }
        do {
            let request = try row.revertRequest(action: action, signal: try store.latestSignal(ofRemediation: row.id), decidedBy: analyst)
            return (request.masked().displayText, nil)
        } catch let refusal as DispatchRefusal {
            return (nil, refusal.message)
        }
    }

    private func outline(of s: StoredSignal) -> [String] {
        if let lines = outlines[s.id] { return lines }
        var lines: [String] = []
        if let text = s.attributesText {
            attributeParses += 1
            if let attributes = try? JSONValue.parse(text) {
                lines = attributes.outlineLines().prefix(Self.outlineLimits.lines).map(Self.cut)
            }
        }
        if outlines.count >= 256 { outlines.removeAll(keepingCapacity: true) }
        outlines[s.id] = lines
        return lines
    }

    /// `line` cut to `outlineLimits.characters`, saying how many characters were left out.
    static func cut(_ line: String) -> String {
        let most = outlineLimits.characters
        guard line.utf8.count > most else { return line }
        let kept = line.prefix(most)
        let rest = line[kept.endIndex...].count
        return rest == 0 ? line : kept + " … (\(rest) more characters)"
    }

    /// gavel's own history of the target: other remediations of it, and how many signals named it.
    private func history(of row: Remediation) throws -> [String] {
        var lines: [String] = []
        let n = try store.signalCount(naming: row.target, kind: row.targetKind.rawValue)
        if n > 0 { lines.append("\(n) signal(s) named \(row.target)") }
        for other in try store.remediations(ofTarget: row.target, excluding: row.id, limit: 10) { lines.append(Self.historyLine(other)) }
        return lines
    }

    /// One line of a target's history: `#3 ban-ip rejected by bob (known scanner) 2026-…Z`, but
    /// `#4 ban-ip failed (approved by alice) 2026-…Z` — the analyst approved, the endpoint failed.
    static func historyLine(_ other: Remediation) -> String {
        let who = other.decidedBy.map { other.state == .rejected ? " by \($0)" : " (approved by \($0))" } ?? ""
        let why = other.reason.map { " (\($0))" } ?? ""
        return "#\(other.id) \(other.action) \(other.state.rawValue)\(who)\(why) \(other.updatedAt.rfc3339)"
    }

    /// The exact request approving this remediation sends (secrets masked): the one bound at its
    /// approval, else rendered now the way the approval will bind it.
    private func requestText(_ row: Remediation) throws -> String? {
        if let recorded = row.recordedRequestText { return recorded }
        guard row.state != .suppressed, let action = config().actions[row.action] else { return nil }
        do {
            return try row.request(action: action, signal: try store.latestSignal(ofRemediation: row.id), decidedBy: row.decidedBy ?? analyst)
                .masked().displayText
        } catch {
            return "refused: \(error)"
        }
    }

    public func rules() throws -> [RuleRow] {
        let counts = try store.ruleCounts()
        let config = self.config()
        let open = Set(circuits().keys)
        return try store.rules().map { r in
            let groups = try store.ruleNamesSecurityGroups(key: r.key)
            return RuleRow(
                rule: r, counts: counts[r.key] ?? RuleCounts(), enabledActions: r.enabledActions(config: config, namesSecurityGroups: groups),
                allActions: r.configuredActions(config: config, namesSecurityGroups: groups), openCircuits: open)
        }.sorted { $0.name.localizedStandardCompare($1.name) == .orderedAscending }
    }

    public func audit(limit: Int, before: Int64?) throws -> [AuditEntry] {
        try store.auditEntries(limit: limit, before: before, subject: nil)
    }

    public func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorEntry] {
        try store.intakeErrors(limit: limit, before: before)
    }

    public func summary() throws -> ConsoleSummary {
        var banners: [String] = []
        if try store.automaticDispatchDisabled() { banners.append("AUTO OFF (kill switch)") }
        let rules = try store.rules()
        let throttled = rules.filter { $0.mode == .auto && $0.throttledAt != nil }.count
        if throttled > 0 { banners.append("\(throttled) rule(s) throttled") }
        let open = circuits()
        if !open.isEmpty {
            let now = Timestamp.now
            let parts = open.keys.sorted().map { name -> String in
                guard let until = open[name] ?? nil else { return "\(name) (probing)" }
                return "\(name) (\(DurationText.timeLeft(max(1000, until.milliseconds(since: now)))))"
            }
            banners.append("circuit open: " + parts.joined(separator: ", "))
        }
        if let p = problems() { banners.append(p) }
        return ConsoleSummary(
            counts: try store.stateCounts(), rulesInAuto: rules.filter { $0.mode == .auto }.count, listenAddress: listenAddress,
            banner: banners.isEmpty ? nil : banners.joined(separator: " · "),
            actionsNeedingConfirmation: Set(config().actions.values.filter(\.confirm).map(\.name)), demoCommand: demoCommand)
    }

    /// Records one of the console's decisions in the store — the same calls, batch policy (all
    /// or none, one transaction) and busy policy as the CLI's — and says how it went.
    /// - Parameter wake: called after a decision was recorded (the dispatcher looks at once).
    public func perform(_ effect: ConsoleEffect, wake: () -> Void = {}, log: (String) -> Void = { _ in }) -> DecisionOutcome? {
        func decide(_ ids: [Int64], _ decision: Decision, by: String, done: String) -> DecisionOutcome {
            do {
                let after = try store.decide(ids, decision, by: by, config: config(), at: .now)
                log("\(by) \(done) \(ids.map { "#\($0)" }.joined(separator: " "))")
                wake()
                // A first approval of several leaves the remediation pending: say how many are still needed.
                if decision == .approve, ids.count == 1, let r = after.first, r.state == .pending {
                    let needed = config().requiredApprovals(action: r.action, ruleID: r.ruleKey, ruleName: r.ruleName)
                    return DecisionOutcome(message: "#\(r.id): \(r.approvals.count) of \(needed) approvals — another analyst must approve it")
                }
                return DecisionOutcome(message: "\(done) " + ids.map { "#\($0)" }.joined(separator: ", "))
            } catch {
                log("\(by) could not \(decision.verb) \(ids.map { "#\($0)" }.joined(separator: " ")): \(error)")
                let nothing = ids.count > 1 ? "nothing was changed: " : ""
                return DecisionOutcome(message: nothing + "\(error)", isError: true)
            }
        }
        switch effect {
        case .approve(let ids, let by): return decide(ids, .approve, by: by, done: "approved")
        case .reject(let ids, let reason, let by, let falsePositive):
            return decide(
                ids, .reject(reason, falsePositive: falsePositive), by: by, done: falsePositive ? "rejected as a false positive" : "rejected")
        case .retry(let ids, let by): return decide(ids, .retry, by: by, done: "queued for retry")
        case .withdraw(let ids, let by): return decide(ids, .withdraw, by: by, done: "withdrawn")
        case .note(let id, let text, let by):
            do {
                try store.addNote(to: id, text: text, by: by, at: .now)
                return DecisionOutcome(message: "note added to #\(id)")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .revert(let ids, let reason, let by):
            do {
                try store.revert(ids, reason: reason, by: by, config: config(), at: .now)
                log("\(by) reverted \(ids.map { "#\($0)" }.joined(separator: " ")): \(reason)")
                wake()
                return DecisionOutcome(message: "reverting " + ids.map { "#\($0)" }.joined(separator: ", "))
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .extend(let ids, let ms, let by):
            do {
                try store.extend(ids, by: ms, actor: by, at: .now)
                log("\(by) extended \(ids.map { "#\($0)" }.joined(separator: " ")) by \(DurationText.text(ms))")
                return DecisionOutcome(message: "extended " + ids.map { "#\($0)" }.joined(separator: ", ") + " by \(DurationText.text(ms))")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .setRuleMode(let rule, let mode):
            do {
                try store.setMode(rule: rule, to: mode, by: analyst, at: .now)
                log("\(analyst) set rule \(rule) to \(mode.rawValue)")
                return DecisionOutcome(message: "rule \(rule): \(mode.rawValue)")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .setRuleAction(let rule, let action, let enabled):
            do {
                try store.setAction(rule: rule, action: action, enabled: enabled, by: analyst, at: .now)
                return DecisionOutcome(message: "rule \(rule): \(action) \(enabled ? "enabled" : "disabled")")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .reload, .quit:
            return nil
        }
    }
}
