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
            chosen = .reject(reason)
        }
        let actor = try i.analyst()
        let store = try i.openStore()
        let configuration = try i.configuration(store, adopt: true)
        do {
            try store.decide(ids, chosen, by: actor, config: configuration.config, at: .now)
        } catch {
            if case .location = error { throw error }
            if error.isTransient { throw error }
            let nothing = ids.count > 1 ? "nothing was changed (decisions on several IDs apply all or none): " : ""
            printError(safe("gavel \(verb): \(nothing)\(error)"))
            return 1
        }
        let done =
            ["approve": "approved", "reject": "rejected", "retry": "queued for retry", "withdraw": "withdrawn (back to pending)"][verb] ?? verb
        print("\(done): \(ids.map(String.init).joined(separator: ", ")) (by \(actor))")
        return 0
    }

    /// `gavel auto (RULE | --all) (on|off|dry-run)`.
    static func auto(_ i: Invocation) throws -> Int32 {
        let all = i.flag("all")
        guard i.positional.count == (all ? 1 : 2) else { throw UsageFailure("gavel auto: usage: \(i.verb.usage)") }
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
            throw UsageFailure("gavel config: usage: \(i.verb.usage)")
        }
    }
}
