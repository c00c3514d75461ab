import Foundation
import GavelCore

/// One line of the detail pane before fitting to its width.
public struct DetailLine: Sendable, Equatable {
    public var text: String
    public var style: CellStyle
    public init(_ text: String, _ style: CellStyle = .normal) { self.text = text; self.style = style }
}

extension ConsoleRenderer {
    /// The detail pane's lines for the current selection (unbounded; the pane scrolls).
    /// Multi-line values (messages, the request, bodies) are sanitized keeping LF, then split.
    public static func detailLines(for m: ConsoleModel) -> [DetailLine] {
        switch m.view {
        case .pending, .history:
            guard let row = m.selectedRemediation else { return [DetailLine("no remediation selected", .dim)] }
            let detail = m.detail?.row.id == row.id ? m.detail : nil
            return remediationLines(detail?.row ?? row, detail: detail, now: m.now)
        case .rules:
            guard let r = m.selectedRule else { return [DetailLine("no rule selected", .dim)] }
            var out = [DetailLine(r.rule, .heading), DetailLine("key: \(r.key)"), DetailLine("mode: \(r.mode.rawValue)")]
            if let id = r.ruleID { out.append(DetailLine("rule id: \(id)")) }
            out.append(DetailLine("actions:", .heading))
            for a in r.allActions { out.append(DetailLine("  [\(r.enabledActions.contains(a) ? "x" : " ")] \(a)")) }
            out.append(DetailLine("pending \(r.pending) · dispatched \(r.dispatched)" + (r.throttled ? " · THROTTLED (auto budget spent)" : "")))
            out.append(DetailLine("last seen: " + (r.lastSeen.map(TimeText.stamp) ?? "never")))
            return out
        case .audit:
            guard let i = m.audit.selection.index(in: m.visibleAudit.map(\.id)) else { return [DetailLine("no entry selected", .dim)] }
            let a = m.visibleAudit[i]
            var out = [DetailLine("\(a.verb) by \(a.actor)", .heading), DetailLine("at: \(TimeText.stamp(a.at))")]
            if let id = a.remediationID { out.append(DetailLine("remediation: #\(id)")) }
            return out + block(a.text)
        case .intakeErrors:
            guard let i = m.intakeErrors.selection.index(in: m.visibleIntakeErrors.map(\.id)) else { return [DetailLine("no intake error selected", .dim)] }
            let e = m.visibleIntakeErrors[i]
            return [DetailLine("\(e.status) \(e.reason)", .heading), DetailLine("from \(e.peer) at \(TimeText.stamp(e.at))"),
                    DetailLine("body (start, escaped):", .heading)] + block(e.bodyExcerpt, indent: "  ")
        }
    }

    /// A multi-line value as lines: sanitized keeping LF only, then split.
    static func block(_ text: String, indent: String = "", style: CellStyle = .normal) -> [DetailLine] {
        DisplayText.sanitize(text, singleLine: false)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { DetailLine(indent + String($0), style) }
    }

    static func remediationLines(_ row: RemediationRow, detail: RemediationDetail?, now: Date) -> [DetailLine] {
        var out: [DetailLine] = []
        out.append(DetailLine("#\(row.id) \(row.action) \(row.target)  [\(row.state.rawValue)]", .heading))
        if DisplayText.hasHiddenCharacters(row.target + row.rule + row.ips.joined() + row.users.joined()) {
            out.append(DetailLine("! hidden or control characters in this remediation are shown escaped", .suspicious))
        }
        out.append(DetailLine("target: \(row.target) (\(row.targetKind.rawValue))"))
        out.append(DetailLine("rule: \(row.rule)" + (row.ruleKey != row.rule ? "  (\(row.ruleKey))" : "")))
        out.append(DetailLine("severity: \(row.severity?.rawValue ?? "none") · signals: \(row.signals) · created \(TimeText.stamp(row.createdAt)) (\(TimeText.age(row.createdAt, now: now)) ago)"))
        if !row.ips.isEmpty { out.append(DetailLine("ips: " + row.ips.joined(separator: ", "))) }
        if !row.users.isEmpty { out.append(DetailLine("users: " + row.users.joined(separator: ", "))) }
        if let by = row.decidedBy { out.append(DetailLine("decided by: \(by)" + (row.reason.map { " — reason: \($0)" } ?? ""))) }
        if let a = row.suppressedBy { out.append(DetailLine("suppressed: target on the allowlist (\(a))", .dim)) }
        if let e = row.lastError { out.append(DetailLine("last error: \(e)", .error)) }
        if row.confirm { out.append(DetailLine("this action asks for confirmation", .prompt)) }
        guard let detail else {
            out.append(DetailLine("loading detail…", .dim))
            return out
        }
        if let request = detail.requestText {
            out.append(DetailLine("request (secrets masked):", .heading))
            out += block(request, indent: "  ")
        }
        out.append(DetailLine("signals (\(detail.signals.count)):", .heading))
        for s in detail.signals {
            let sev = s.severity.map { "[\($0.rawValue)] " } ?? ""
            out.append(DetailLine("  " + sev + (s.title ?? s.signalID), s.severity.map { .severity($0) } ?? .normal))
            if let msg = s.message { out += block(msg, indent: "    ").prefix(6) }
            var facts: [String] = []
            if !s.ips.isEmpty { facts.append("ips: " + s.ips.joined(separator: ", ")) }
            if !s.users.isEmpty { facts.append("users: " + s.users.joined(separator: ", ")) }
            if s.eventName != nil || s.eventOutcome != nil { facts.append("event: \(s.eventName ?? "-") / \(s.eventOutcome ?? "-")") }
            if !s.securityGroups.isEmpty { facts.append("security groups: " + s.securityGroups.joined(separator: ", ")) }
            if let actor = s.actor { facts.append("actor: \(actor)") }
            facts.append("signal id: \(s.signalID) · received \(TimeText.stamp(s.receivedAt))")
            if let link = s.link { facts.append("link: \(link)") }
            out += facts.map { DetailLine("    " + $0) }
            out += s.attributeLines.map { DetailLine("    " + $0, .dim) }
        }
        if !detail.targetHistory.isEmpty {
            out.append(DetailLine("target history:", .heading))
            out += detail.targetHistory.map { DetailLine("  " + $0) }
        }
        if !detail.attempts.isEmpty {
            out.append(DetailLine("attempts:", .heading))
            for a in detail.attempts {
                var t = "  #\(a.number) \(TimeText.stamp(a.at))"
                if let s = a.status { t += " status \(s)" }
                if let ms = a.durationMilliseconds { t += " \(ms) ms" }
                if let e = a.error { t += " — \(e)" }
                out.append(DetailLine(t, a.error == nil ? .normal : .error))
            }
        }
        return out
    }
}
