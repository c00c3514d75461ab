import Foundation
import GavelCore
import GavelRuntime
import GavelStore

/// The decision verbs: `approve`, `reject`, `retry`, `withdraw`, `auto`. They only record the
/// decision; a running `serve` or console dispatches it within a second.
enum Deciding {
    /// Records one decision on every id, all or none (the console's batch policy too).
    /// - Parameter decision: nil for `reject` (its reason comes from `--reason`).
    static func decide(_ i: Invocation, _ decision: Decision?) throws -> Int32 {
        let verb = i.verb.name
        let ids = try i.positional.map { s throws(UsageFailure) in try i.remediationID(s) }
        let chosen: Decision
        if let decision {
            chosen = decision
        } else {
            guard let reason = i.value("reason")?.trimmingASCIIWhitespace(), !reason.isEmpty else {
                throw UsageFailure("gavel reject: --reason TEXT is required (say why, for the audit log)")
            }
            chosen = .reject(reason, falsePositive: i.flag("false-positive"))
        }
        let actor = try i.analyst()
        let store = try i.openStore()
        let configuration = try i.configuration(store, adopt: true)
        if chosen == .approve, try !confirmApproval(ids, i, store: store, config: configuration.config, analyst: actor) {
            return 2
        }
        let after: [Remediation]
        do {
            after = try store.decide(ids, chosen, by: actor, config: configuration.config, at: .now)
        } catch {
            if case .location = error { throw error }
            if error.isTransient { throw error }
            let nothing = ids.count > 1 ? "nothing was changed (decisions on several IDs apply all or none): " : ""
            printError(safe("gavel \(verb): \(nothing)\(error)"))
            return 1
        }
        let done =
            ["approve": "approved", "reject": "rejected", "retry": "queued for retry", "withdraw": "withdrawn (back to pending)"][verb] ?? verb
        let waiting = chosen == .approve ? after.filter { $0.state == .pending } : []
        let finished = ids.filter { id in !waiting.contains { $0.id == id } }
        var marked = ""
        if case .reject(_, true) = chosen { marked = " as a false positive" }
        if !finished.isEmpty { print("\(done)\(marked): \(finished.map(String.init).joined(separator: ", ")) (by \(actor))") }
        for r in waiting {
            let needed = configuration.config.requiredApprovals(action: r.action, ruleID: r.ruleKey, ruleName: r.ruleName)
            let who = r.approvals.map { "\($0.analyst), \($0.at.rfc3339)" }.joined(separator: "; ")
            print(safe("remediation \(r.id): \(r.approvals.count) of \(needed) approvals (\(who)); another analyst must approve it"))
        }
        return 0
    }

    /// The CLI confirms what the console confirms for a single remediation: approving one whose
    /// action is marked `confirm` asks `y/N` on a terminal (showing the canonical target and the
    /// request) and, without one, needs `--yes`. Approving several ids of actions without
    /// `confirm` needs nothing.
    /// - Returns: false when the approval must not be recorded (answered no, or no terminal and no `--yes`).
    static func confirmApproval(_ ids: [Int64], _ i: Invocation, store: any Store, config: GavelConfig, analyst: String) throws -> Bool {
        if i.flag("yes") { return true }
        var asked: [Remediation] = []
        for id in ids {
            if let r = try store.remediation(id: id), config.actions[r.action]?.confirm == true, r.state == .pending { asked.append(r) }
        }
        guard !asked.isEmpty else { return true }
        guard isatty(0) == 1 else {
            printError(
                safe(
                    "gavel approve: \(asked.map { "#\($0.id) \($0.action) \($0.target)" }.joined(separator: ", ")) asks for confirmation "
                        + "(its action is marked confirm): run it on a terminal, or add --yes. Nothing was recorded."))
            return false
        }
        for r in asked {
            print(safe("approve \(r.action) on \(r.target) (\(r.targetKind.rawValue)), rule \(r.ruleDisplayName)?"))
            if let action = config.actions[r.action],
                let request = try? r.request(action: action, signal: try store.latestSignal(ofRemediation: r.id), decidedBy: analyst)
            {
                print("it sends (secrets masked):")
                for line in request.masked().displayText.split(separator: "\n", omittingEmptySubsequences: false) { print("  " + safe(String(line))) }
            }
            print("approve #\(r.id)? [y/N] ", terminator: "")
            guard let answer = readLine(), ["y", "yes"].contains(answer.trimmingASCIIWhitespace().lowercased()) else {
                printError("gavel approve: not confirmed; nothing was recorded")
                return false
            }
        }
        return true
    }

    /// `gavel note ID TEXT [--by NAME]`: a note on a remediation, shown with its author.
    static func note(_ i: Invocation) throws -> Int32 {
        let id = try i.remediationID(i.positional[0])
        let text = i.positional.dropFirst().joined(separator: " ").trimmingASCIIWhitespace()
        guard !text.isEmpty, text.count <= 2000 else { throw UsageFailure("gavel note: TEXT must be 1–2000 characters") }
        let author = try i.analyst()
        let note = try i.openStore().addNote(to: id, text: text, by: author, at: .now)
        print(safe("note added to remediation \(id) by \(note.author) at \(note.at.rfc3339)"))
        return 0
    }

    /// `gavel auto (RULE | --all) (on|off|dry-run)`.
    static func auto(_ i: Invocation) throws -> Int32 {
        let all = i.flag("all")
        guard i.positional.count == (all ? 1 : 2) else { throw UsageFailure("gavel auto: usage: \(i.verb.compactUsage)") }
        let word = i.positional[i.positional.count - 1]
        let actor = try i.analyst()
        if all {
            guard word == "on" || word == "off" else { throw UsageFailure("gavel auto --all: say on or off (the kill switch), got '\(word)'") }
            try i.openStore().setAutomaticDispatch(enabled: word == "on", by: actor, at: .now)
            print(word == "off" ? "automatic dispatch stopped for all rules" : "automatic dispatch allowed again (rules in auto resume)")
            return 0
        }
        let mode: RuleMode
        switch word {
        case "on", "auto": mode = .auto
        case "off", "manual": mode = .manual
        case "dry-run": mode = .dryRun
        default: throw UsageFailure("gavel auto: mode must be on, off or dry-run, got '\(word)'")
        }
        let store = try i.openStore()
        let rule = i.positional[0]
        if try store.rule(named: rule) == nil && !i.flag("new") {
            let config = try i.configuration(store).config
            if config.ruleConfig(ruleID: rule, ruleName: rule) == nil {
                let known = try store.rules().prefix(10).map(\.displayName).joined(separator: "; ")
                printError(
                    safe(
                        "gavel auto: no detection rule '\(rule)' has sent a signal or is configured" + (known.isEmpty ? "" : " (known: \(known))")
                            + "; to set the mode of a rule before its first signal, add --new"))
                return 1
            }
        }
        let before = try store.setMode(rule: rule, to: mode, by: actor, at: .now)
        print(safe("rule \(rule): \(before?.rawValue ?? "new") → \(mode.rawValue)"))
        return 0
    }
}

/// `gavel config show` / `gavel config apply FILE`: the configuration in force.
enum Configuring {
    static func config(_ i: Invocation) throws -> Int32 {
        let store = try i.openStore()
        switch (i.positional[0], i.positional.count) {
        case ("show", 1):
            let configuration = try i.configuration(store)
            let inForce = try store.configurationInForce()
            if i.flag("json") {
                print(
                    JSONValue.object([
                        JSONMember("version", inForce.map { .number(String($0.version)) } ?? .null),
                        JSONMember("applied_by", inForce.map { .string($0.appliedBy) } ?? .null),
                        JSONMember("applied_at", inForce.map { .string($0.appliedAt.rfc3339) } ?? .null),
                        JSONMember("source", inForce?.source.map { .string($0) } ?? .null),
                        JSONMember("sha256", inForce.map { .string($0.sha256) } ?? .null),
                        JSONMember("using", .string(configuration.description)),
                        JSONMember("held", configuration.heldBecause.map { .string($0) } ?? .null),
                    ]).compactText)
                return 0
            }
            print(safe("using: " + configuration.description))
            if let held = configuration.heldBecause { print(safe("held: " + held)) }
            if let inForce {
                print("--- configuration version \(inForce.version) (sha256 \(inForce.sha256)) ---")
                for line in inForce.text.split(separator: "\n", omittingEmptySubsequences: false) { print(safe(String(line))) }
            }
            return 0
        case ("apply", 2):
            let path = i.positional[1]
            let text: String
            do {
                text = try GavelConfig.readText(path: path)
                _ = try i.setup.loader(receiving: false)(text, path)
            } catch {
                throw ConfigFailure("\(error)")
            }
            let current = try store.configurationInForce()
            if current?.text == text {
                print("configuration version \(current!.version) in force already has exactly this text; nothing applied")
                return 0
            }
            let applied = try store.applyConfiguration(
                text: text, source: Setup.absolute(path), by: try i.analyst(), expectedVersion: current?.version, at: .now)
            // The allowlist looks back: what is in force on a target the new configuration allowlists gets a revert proposed.
            let newConfig = try i.setup.loader(receiving: false)(text, path)
            let proposed = try store.proposeReverts(
                allowlist: newConfig.allowlist.adding(try store.allowlistEntries()), config: newConfig, by: try i.analyst(), at: .now)
            if !proposed.isEmpty { print("revert proposed for \(proposed.count) remediation(s) in force on newly allowlisted targets") }
            print(
                safe(
                    "applied \(path) as configuration version \(applied.version)" + (current.map { " (was version \($0.version))" } ?? "")
                        + "; running gavel processes take it within a few seconds"))
            return 0
        default:
            throw UsageFailure("gavel config: usage: \(i.verb.compactUsage)")
        }
    }
}
