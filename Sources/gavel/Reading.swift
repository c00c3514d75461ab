import Foundation
import GavelCore
import GavelRuntime
import GavelStore

/// The read verbs: `signals`, `list`, `show`, `rules`, `audit`.
enum Reading {
    static func signals(_ i: Invocation) throws -> Int32 {
        let limit = try i.arguments.count("limit", verb: "signals", default: 1000)
        let signals = try i.openStore().signals(limit: limit, before: nil)
        if i.flag("json") {
            print(JSONValue.array(signals.map(\.listJSON)).compactText)
            return 0
        }
        for s in signals {
            let sig = s.signal
            let targets = sig.ips.map(\.description) + sig.users + sig.securityGroups + sig.ipRanges.map(\.description)
            let context = sig.contextIPs.map(\.description) + sig.contextHosts + sig.contextResources + sig.contextSecurityGroups
            let what = targets.joined(separator: " ") + (context.isEmpty ? "" : " (context: " + context.joined(separator: " ") + ")")
            let flags = sig.flags.isEmpty ? "" : "[" + sig.flags.map(\.rawValue).joined(separator: ",") + "]"
            let deliveries = s.deliveries > 1 ? "×\(s.deliveries)" : ""
            let status = sig.isResolved ? "resolved" : ""
            print(
                row(
                    [
                        s.receivedAt.rfc3339, s.source, sig.severity?.rawValue ?? "-", sig.signalID, sig.ruleName ?? "-", status, what, deliveries,
                        flags,
                    ]
                    .filter { !$0.isEmpty }))
        }
        return 0
    }

    static func list(_ i: Invocation) throws -> Int32 {
        var filter = RemediationFilter()
        if let s = i.value("state") {
            filter.states = try s.split(separator: ",").map { name throws(UsageFailure) -> RemediationState in
                guard let state = RemediationState(rawValue: String(name)) else {
                    throw UsageFailure(
                        "gavel list: --state must be one of \(RemediationState.allCases.map(\.rawValue).joined(separator: ", ")); got '\(name)'")
                }
                return state
            }
        }
        filter.rule = i.value("rule")
        let limit = try i.arguments.count("limit", verb: "list", default: 1000)
        let rows = try i.openStore().remediations(filter, limit: limit, before: nil)
        if i.flag("json") {
            print(JSONValue.array(rows.map(\.listJSON)).compactText)
            return 0
        }
        for r in rows {
            let who = r.decidedBy.map { " by \($0)" } ?? ""
            print(
                row([
                    String(r.id), r.state.rawValue + who, r.severity?.rawValue ?? "-", "\(r.action) \(r.target)", r.ruleDisplayName,
                    "\(r.signalCount) signal(s)",
                ])
            )
        }
        return 0
    }

    /// `gavel show ID`: the remediation, the exact request approving it sends (or that was bound
    /// at its approval), secrets masked, its attempts and its audit trail.
    static func show(_ i: Invocation) throws -> Int32 {
        let id = try i.remediationID(i.positional[0])
        let store = try i.openStore()
        guard let r = try store.remediation(id: id) else {
            printError("gavel show: remediation \(id) does not exist")
            return 1
        }
        let config = try i.configuration(store).config
        let request = try requestText(r, store: store, config: config, analyst: try i.analyst())
        let notes = try store.notes(ofRemediation: r.id)
        let attempts = try store.attempts(ofRemediation: id)
        let triage = try store.triageUpdates(ofRemediation: id)
        let audit = try store.auditEntries(limit: 0, before: nil, subject: "remediation \(id)").reversed()
        if i.flag("json") {
            guard case .object(var members) = r.listJSON else { return 1 }
            members.append(JSONMember("request", request.map { .string($0.text) } ?? .null))
            members.append(JSONMember("request_bound", .bool(request?.bound ?? false)))
            if r.state.isInForce || r.state == .reverted {
                members.append(JSONMember("revert_request", .string(revertText(r, store: store, config: config, analyst: try i.analyst()).text)))
            }
            members.append(JSONMember("attempts", .array(attempts.map(\.json))))
            members.append(JSONMember("datadog_triage", .array(triage.map(\.json))))
            members.append(
                JSONMember(
                    "notes",
                    .array(
                        notes.map {
                            .object([
                                JSONMember("author", .string($0.author)), JSONMember("at", .string($0.at.rfc3339)),
                                JSONMember("text", .string($0.text)),
                            ])
                        })))
            members.append(JSONMember("audit", .array(audit.map(\.json))))
            print(JSONValue.object(members).compactText)
            return 0
        }
        var lines = [
            "remediation \(r.id): \(r.action) \(r.target) (\(r.targetKind.rawValue))",
            // The state and when it last changed; who decided is its own line (an approval is not
            // what made a remediation `reverted` or `failed`).
            "state:     \(r.state.rawValue) since \(r.updatedAt.rfc3339)",
            "rule:      \(r.ruleDisplayName)", "severity:  \(r.severity?.rawValue ?? "-")",
            "signals:   \(r.signalCount) — \(r.signalIDs.joined(separator: ", "))",
            "ips:       \(r.ips.isEmpty ? "-" : r.ips.joined(separator: ", "))",
            "users:     \(r.users.isEmpty ? "-" : r.users.joined(separator: ", "))",
        ]
        if let by = r.decidedBy {
            let verb = r.state == .rejected ? "rejected" : (r.state == .suppressed ? "suppressed" : "approved")
            lines.append("decided:   \(verb) by \(by)" + (r.decidedAt.map { " at \($0.rfc3339)" } ?? ""))
        }
        if let reason = r.reason { lines.append("reason:    \(reason)" + (r.falsePositive ? " (marked a false positive)" : "")) }
        if let e = r.lastError { lines.append("error:     \(e)") }
        if r.state == .approved, let next = r.nextAttemptAt {
            lines.append("sends at:  \(next.rfc3339) (gavel withdraw \(r.id) takes it back before)")
        }
        if let since = r.inForceSince {
            if r.state.isInForce {
                lines.append("in force:  since \(since.rfc3339), " + (r.expiresAt.map { "expires \($0.rfc3339)" } ?? "permanent"))
            } else {
                lines.append("in force:  \(since.rfc3339) → \(r.updatedAt.rfc3339) (\(r.state.rawValue))")
            }
        }
        if let by = r.revertedBy {
            lines.append("revert:    by \(by)" + (r.revertedAt.map { " at \($0.rfc3339)" } ?? "") + (r.revertReason.map { " — \($0)" } ?? ""))
        }
        let needed = config.requiredApprovals(action: r.action, ruleID: r.ruleKey, ruleName: r.ruleName)
        if needed > 1 || r.approvals.count > 1 {
            lines.append(
                "approvals: \(r.approvals.count) of \(needed)"
                    + (r.approvals.isEmpty ? "" : " (" + r.approvals.map { "\($0.analyst), \($0.at.rfc3339)" }.joined(separator: "; ") + ")"))
        }
        for n in try store.notes(ofRemediation: r.id) { lines.append("note:      \(n.at.rfc3339) \(n.author): \(n.text)") }
        for line in lines { print(safe(line)) }
        if let request {
            print(request.heading)
            // Multi-line: each line made safe on its own (a payload cannot start a fake line).
            for line in request.text.split(separator: "\n", omittingEmptySubsequences: false) { print("  " + safe(String(line))) }
        }
        if r.state.isInForce || r.state == .reverted {
            let revert = revertText(r, store: store, config: config, analyst: try i.analyst())
            print(revert.heading)
            for line in revert.text.split(separator: "\n", omittingEmptySubsequences: false) { print("  " + safe(String(line))) }
        }
        for t in triage { print(safe(t.line)) }
        for a in attempts { for line in a.lines { print(safe(line)) } }
        for a in audit { print(safe(a.line)) }
        return 0
    }

    /// The request to show for `r`: bound at approval (or recorded for a dry-run), else what
    /// approving it now by `analyst` sends — rendered by the same function the approval binds with.
    static func requestText(_ r: Remediation, store: any Store, config: GavelConfig, analyst: String) throws -> (
        text: String, heading: String, bound: Bool
    )? {
        if let recorded = r.recordedRequestText {
            let heading = r.state == .simulated ? "request (dry-run, secrets masked):" : "request (bound at approval, secrets masked):"
            return (recorded, heading, true)
        }
        guard r.state == .pending, let action = config.actions[r.action] else { return nil }
        do {
            let request = try r.request(action: action, signal: try store.latestSignal(ofRemediation: r.id), decidedBy: analyst)
            return (request.masked().displayText, "request (approving sends, secrets masked):", false)
        } catch {
            return ("refused: \(error)", "request (approving sends nothing):", false)
        }
    }

    /// The revert request of a remediation in force: bound when its revert was decided, else what
    /// reverting it now sends, or why it cannot be reverted.
    static func revertText(_ r: Remediation, store: any Store, config: GavelConfig, analyst: String) -> (text: String, heading: String) {
        if let bound = r.revertRequest { return (bound.masked().displayText, "revert request (bound, secrets masked):") }
        guard let action = config.actions[r.action] else { return ("action \(r.action) is not configured", "revert:") }
        do {
            let request = try r.revertRequest(action: action, signal: try store.latestSignal(ofRemediation: r.id), decidedBy: analyst)
            return (request.masked().displayText, "revert request (expiry or gavel revert sends, secrets masked):")
        } catch let refusal as DispatchRefusal {
            return (refusal.message, "revert:")
        } catch {
            return ("\(error)", "revert:")
        }
    }

    static func rules(_ i: Invocation) throws -> Int32 {
        let store = try i.openStore()
        let config = try i.configuration(store).config
        let counts = try store.ruleCounts()
        let rules = try store.rules()
        func actions(_ rule: Rule) throws -> [String] {
            rule.enabledActions(config: config, namesSecurityGroups: try store.ruleNamesSecurityGroups(key: rule.key))
        }
        if i.flag("json") {
            print(JSONValue.array(try rules.map { $0.json(counts: counts[$0.key] ?? RuleCounts(), actions: try actions($0)) }).compactText)
            return 0
        }
        if try store.automaticDispatchDisabled() { print("automatic dispatch is OFF for all rules (gavel auto --all on to resume)") }
        for rule in rules {
            let c = counts[rule.key] ?? RuleCounts()
            print(
                row([
                    rule.mode.rawValue + (rule.throttledAt != nil ? " (throttled)" : ""), rule.displayName, "pending \(c.pending)",
                    "dispatched \(c.dispatched)", "actions " + (try actions(rule)).joined(separator: ","),
                ]))
        }
        return 0
    }

    static func audit(_ i: Invocation) throws -> Int32 {
        if i.flag("verify") || i.flag("export") {
            let store = try i.openStore()
            var entries: [AuditEntry] = []
            var after: Int64 = 0
            while true {
                let page = try store.auditChain(after: after, limit: 5000)
                if i.flag("export") {
                    for e in page {
                        print(
                            JSONValue.object([
                                JSONMember("id", .number(String(e.id))), JSONMember("previous_hash", .string(e.previousHash ?? "")),
                                JSONMember("hash", .string(e.hash ?? "")), JSONMember("content", .string(e.chainContent)),
                            ]).compactText)
                    }
                }
                entries += page
                guard let last = page.last else { break }
                after = last.id
            }
            guard i.flag("verify") else { return 0 }
            switch AuditChain.verify(entries) {
            case .intact(let count, let head):
                print("audit log intact: \(count) entries, head \(head ?? AuditChain.genesis)")
                return 0
            case .broken(let id, let reason):
                printError(safe("gavel audit: the hash chain breaks at entry \(id): \(reason)"))
                return 1
            }
        }
        let limit = try i.arguments.count("limit", verb: "audit", default: 1000)
        let rows = try i.openStore().auditEntries(limit: limit, before: nil, subject: nil)
        if i.flag("json") {
            print(JSONValue.array(rows.map(\.json)).compactText)
        } else {
            for a in rows { print(safe(a.line)) }
        }
        return 0
    }
}
