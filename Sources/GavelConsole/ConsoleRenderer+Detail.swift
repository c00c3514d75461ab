import Foundation
import GavelCore
import GavelStore

/// One line of the detail pane before fitting to its width.
public struct DetailLine: Sendable, Equatable {
    public var text: String
    public var style: CellStyle
    public init(_ text: String, _ style: CellStyle = .normal) {
        self.text = text
        self.style = style
    }
}

extension ConsoleRenderer {
    /// The detail pane's lines for the current selection (unbounded; the pane scrolls).
    /// Multi-line values (messages, the request, bodies) are sanitized keeping LF, then split.
    public static func detailLines(for m: ConsoleModel) -> [DetailLine] {
        switch m.view {
        case .pending, .history, .inForce:
            guard let row = m.selectedRemediation else { return [DetailLine("no remediation selected", .dim)] }
            let detail = m.detail?.row.id == row.id ? m.detail : nil
            return remediationLines(detail?.row ?? row, detail: detail, now: m.now, confirm: m.needsConfirmation(row))
        case .rules:
            guard let r = m.selectedRule else { return [DetailLine("no rule selected", .dim)] }
            var out = [DetailLine(r.name, .heading)]
            // The key is the rule id when Datadog sent one: show it once.
            if let id = r.rule.ruleID { out.append(DetailLine("rule id: \(id)")) }
            if r.rule.ruleID != r.key { out.append(DetailLine("key: \(r.key)")) }
            out.append(DetailLine("mode: \(r.mode.rawValue)"))
            out.append(DetailLine("actions ([x] enabled):", .heading))
            let toggles = m.readOnly ? [] : m.keymap.bindings(in: .rules)
            for a in r.allActions {
                let key = toggles.first { $0.command == .toggleAction(a) }.map { "  (\($0.label) toggles)" } ?? ""
                out.append(DetailLine("  [\(r.enabledActions.contains(a) ? "x" : " ")] \(a)" + key))
            }
            out.append(
                DetailLine(
                    "pending \(r.counts.pending) · dispatched \(r.counts.dispatched)" + (r.throttled ? " · THROTTLED (auto budget spent)" : "")))
            out.append(DetailLine("last seen: " + (r.rule.lastSeenAt.map { TimeText.stamp($0) } ?? "never")))
            return out
        case .audit:
            guard let i = m.audit.selection.index(in: m.visibleAudit.map(\.id)) else { return [DetailLine("no entry selected", .dim)] }
            let a = m.visibleAudit[i]
            var out = [DetailLine("\(a.action) by \(a.actor)", .heading), DetailLine("at: \(TimeText.stamp(a.at))")]
            if let id = a.remediationID { out.append(DetailLine("remediation: #\(id)")) }
            return out + block(a.consoleText)
        case .intakeErrors:
            guard let i = m.intakeErrors.selection.index(in: m.visibleIntakeErrors.map(\.id)) else {
                return [DetailLine("no intake error selected", .dim)]
            }
            let e = m.visibleIntakeErrors[i]
            return [
                DetailLine("\(e.status) \(e.reason)", .heading), DetailLine("from \(e.peer ?? "-") at \(TimeText.stamp(e.receivedAt))"),
                DetailLine("body (start, escaped):", .heading),
            ] + block(e.bodyExcerpt, indent: "  ")
        }
    }

    /// At most this many screen rows per detail line; a longer one ends in `…`.
    static let maxWrappedRows = 40

    /// The detail pane's lines wrapped to `columns` display columns: what the pane draws and
    /// what its `j`/`k` scroll counts.
    /// - Parameters:
    ///   - columns: the pane's text width (its width less the one-column left margin).
    ///   - width: display width of a scalar, as for ``render(_:size:width:)``.
    public static func wrappedDetailLines(
        for m: ConsoleModel, columns: Int, width: (Unicode.Scalar) -> Int = DisplayText.defaultWidth
    ) -> [DetailLine] {
        detailLines(for: m).flatMap { wrap($0, columns: columns, width: width) }
    }

    /// One detail line as screen rows of at most `columns` display columns.
    ///
    /// The text is sanitized first (escapes are measured as drawn), then broken after the last
    /// space that leaves the row at least a third full — in a line of JSON (a request body, an
    /// outbox line) also between two tokens (``jsonBreaks(_:)``), so a string or number is never
    /// split when a token boundary fits — else between two graphemes (never inside one: a
    /// double-width character moves whole to the next row). Continuation rows hang two columns
    /// deeper than the line's own indentation. Every row keeps the line's style.
    static func wrap(_ line: DetailLine, columns limit: Int, width: (Unicode.Scalar) -> Int) -> [DetailLine] {
        let text = DisplayText.sanitize(cutForWrapping(line.text, columns: limit))
        guard limit > 0, DisplayText.columns(text, width: width) > limit else { return [DetailLine(text, line.style)] }
        let tokenBreaks = jsonBreaks(text)
        let indent = text.prefix { $0 == " " }.count
        let hanging = String(repeating: " ", count: min(indent + 2, limit / 2))
        var rest = Substring(text)
        var rows: [DetailLine] = []
        while !rest.isEmpty {
            let lead = rows.isEmpty ? "" : hanging
            let room = limit - lead.count
            if rows.count == maxWrappedRows - 1 {
                rows.append(DetailLine(lead + DisplayText.truncate(String(rest), toColumns: room, width: width, ellipsis: true), line.style))
                break
            }
            var used = 0
            var end = rest.startIndex
            var lastSpace: Substring.Index? = nil
            var lastToken: Substring.Index? = nil
            while end < rest.endIndex {
                let w = DisplayText.columns(String(rest[end]), width: width)
                if used + w > room && end > rest.startIndex { break }
                if used >= room / 3 {
                    if rest[end] == " " { lastSpace = end }
                    if tokenBreaks.contains(end) { lastToken = end }
                }
                used += w
                end = rest.index(after: end)
            }
            // Between two JSON tokens first, then at a space (inside a long string), then anywhere.
            if end < rest.endIndex, !tokenBreaks.contains(end), rest[end] != " " || !tokenBreaks.isEmpty, let at = lastToken ?? lastSpace {
                end = at
            }
            var row = rest[..<end]
            while row.last == " " { row = row.dropLast() }
            rows.append(DetailLine(lead + row, line.style))
            rest = rest[end...].drop { $0 == " " }
        }
        return rows
    }

    /// `text` cut to what `wrap` can show at `columns` columns (`maxWrappedRows` rows), plus `…`
    /// when it was cut: every character takes at least one column (escapes take more), so the
    /// rows drawn are the same, and the work per frame is bounded by the pane rather than by the
    /// value (issue 16: a 240 KB attribute line was sanitized and measured whole at every frame).
    static func cutForWrapping(_ text: String, columns: Int) -> String {
        let most = max(columns, 1) * maxWrappedRows
        guard text.utf8.count > most else { return text }
        let kept = text.prefix(most)
        return kept.endIndex == text.endIndex ? text : kept + "…"
    }

    /// Where a line of JSON may break between tokens: before the index following `,` `:` `{` `[`
    /// and before `}` `]`, outside strings (escapes followed). Empty for a line that does not
    /// start (after its indentation) with `{` or `[`.
    static func jsonBreaks(_ text: String) -> Set<String.Index> {
        guard let first = text.first(where: { $0 != " " }), first == "{" || first == "[" else { return [] }
        var breaks = Set<String.Index>()
        var inString = false
        var escaped = false
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if inString {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inString = false
                }
            } else if c == "\"" {
                inString = true
            } else if c == "," || c == ":" || c == "{" || c == "[" {
                breaks.insert(next)
            } else if c == "}" || c == "]" {
                breaks.insert(i)
            }
            i = next
        }
        breaks.remove(text.startIndex)
        return breaks
    }

    /// A multi-line value as lines: sanitized keeping LF only, then split; at most `maxLines`
    /// lines (the rest is not looked at).
    static func block(_ text: String, indent: String = "", style: CellStyle = .normal, maxLines: Int = 2000) -> [DetailLine] {
        // Line feeds are counted as scalars (as `sanitize` keeps them), not as Characters (CR LF is one).
        let utf8 = text.utf8
        var end = utf8.startIndex
        var lines = 0
        while lines < maxLines, let newline = utf8[end...].firstIndex(of: UInt8(ascii: "\n")) {
            end = utf8.index(after: newline)
            lines += 1
        }
        let shown = lines < maxLines ? text : String(decoding: utf8[..<utf8.index(before: end)], as: UTF8.self)
        return DisplayText.sanitize(shown, singleLine: false)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { DetailLine(indent + String($0), style) }
    }

    static func remediationLines(_ row: Remediation, detail: RemediationDetail?, now: Date, confirm: Bool) -> [DetailLine] {
        var out: [DetailLine] = []
        out.append(DetailLine("#\(row.id) \(row.action) \(row.target)  [\(row.state.rawValue)]", .heading))
        if DisplayText.hasHiddenCharacters(row.target + row.ruleDisplayName + row.ips.joined() + row.users.joined()) {
            out.append(DetailLine("! hidden or control characters in this remediation are shown escaped", .suspicious))
        }
        out.append(DetailLine("target: \(row.target) (\(row.targetKind.rawValue))"))
        out.append(DetailLine("rule: \(row.ruleDisplayName)" + (row.ruleKey != row.ruleDisplayName ? "  (\(row.ruleKey))" : "")))
        out.append(
            DetailLine(
                "severity: \(row.severity?.rawValue ?? "none") · signals: \(row.signalCount) · created \(TimeText.stamp(row.createdAt)) (\(TimeText.age(row.createdAt, now: now)) ago)"
            ))
        if !row.ips.isEmpty { out.append(DetailLine("ips: " + row.ips.joined(separator: ", "))) }
        if !row.users.isEmpty { out.append(DetailLine("users: " + row.users.joined(separator: ", "))) }
        if let by = row.decidedBy {
            out.append(
                DetailLine(
                    "decided by: \(by)" + (row.falsePositive ? " (a false positive)" : "") + (row.reason.map { " — reason: \($0)" } ?? "")))
        }
        if let detail, detail.requiredApprovals > 1 || !row.approvals.isEmpty, row.state == .pending || row.approvals.count > 1 {
            let who = row.approvals.map { "\($0.analyst), \(TimeText.clock($0.at.date))" }.joined(separator: "; ")
            let waiting = row.state == .pending && row.approvals.count < detail.requiredApprovals
            let text =
                row.approvals.isEmpty && waiting
                ? "needs \(detail.requiredApprovals) approvals by different analysts (none yet)"
                : "\(row.approvals.count) of \(detail.requiredApprovals) approvals" + (who.isEmpty ? "" : " (\(who))")
                    + (waiting ? " — needs a different analyst" : "")
            out.append(DetailLine(text, .prompt))
        }
        // Notes come before the request and signals: what other analysts said is read first.
        if let detail, !detail.notes.isEmpty {
            out.append(DetailLine("notes:", .heading))
            for n in detail.notes {
                out += block("\(TimeText.stamp(n.at)) \(n.author): \(n.text)", indent: "  ")
            }
        }
        if let a = row.suppressedBy { out.append(DetailLine("suppressed: target on the allowlist (\(a))", .dim)) }
        if let e = row.lastError { out.append(DetailLine("last error: \(e)", .error)) }
        if row.state == .approved, let next = row.nextAttemptAt, next > Timestamp(now) {
            out.append(DetailLine("sends in \(DurationText.timeLeft(next.milliseconds(since: Timestamp(now)))) (w withdraws it)", .prompt))
        }
        if let since = row.inForceSince, row.state.isInForce {
            let until: String
            if let expires = row.expiresAt {
                until = "expires \(TimeText.stamp(expires)) (\(DurationText.timeLeft(expires.milliseconds(since: Timestamp(now)))) left)"
            } else {
                until = "permanent"
            }
            out.append(DetailLine("in force since \(TimeText.stamp(since)) · \(until)", .heading))
        }
        if let by = row.revertedBy, row.state == .reverting || row.state == .reverted || row.state == .revertFailed {
            out.append(DetailLine("revert by \(by)" + (row.revertReason.map { " — \($0)" } ?? "")))
        } else if row.state == .revertPending, let why = row.revertReason {
            out.append(DetailLine("revert proposed: \(why) (a approves, r keeps it in force)", .prompt))
        }
        if confirm { out.append(DetailLine("this action asks for confirmation", .prompt)) }
        guard let detail else {
            out.append(DetailLine("loading detail…", .dim))
            return out
        }
        if let request = detail.requestText {
            out.append(DetailLine("request (secrets masked):", .heading))
            out += block(request, indent: "  ")
        }
        if row.state.isInForce || row.state == .reverted {
            if let revert = detail.revertRequestText {
                out.append(DetailLine("revert request (secrets masked):", .heading))
                out += block(revert, indent: "  ")
            } else if let why = detail.revertRefusal {
                out.append(DetailLine(why, .dim))
            }
        }
        out.append(DetailLine("signals (\(detail.signals.count)):", .heading))
        for s in detail.signals {
            let sig = s.signal
            let sev = sig.severity.map { "[\($0.rawValue)] " } ?? ""
            out.append(DetailLine("  " + sev + (sig.title ?? sig.signalID), sig.severity.map { .severity($0) } ?? .normal))
            if sig.isResolved || sig.flags.contains(.unrecognised) || sig.flags.contains(.sampleFinding) {
                let notes =
                    (sig.isResolved ? ["resolved by its sender: proposes nothing"] : [])
                    + (sig.flags.contains(.unrecognised) ? ["unrecognised: no rule and no entity could be read"] : [])
                    + (sig.flags.contains(.sampleFinding) ? ["a GuardDuty sample finding"] : [])
                out.append(DetailLine("    " + notes.joined(separator: " · "), sig.flags.contains(.unrecognised) ? .suspicious : .dim))
            }
            if let msg = sig.message { out += block(msg, indent: "    ", maxLines: 6) }
            var facts: [String] = []
            if !sig.ips.isEmpty { facts.append("ips: " + sig.ips.map(\.description).joined(separator: ", ")) }
            if !sig.users.isEmpty { facts.append("users: " + sig.users.joined(separator: ", ")) }
            if sig.eventName != nil || sig.eventOutcome != nil { facts.append("event: \(sig.eventName ?? "-") / \(sig.eventOutcome ?? "-")") }
            if !sig.securityGroups.isEmpty { facts.append("security groups: " + sig.securityGroups.joined(separator: ", ")) }
            if let actor = sig.actor { facts.append("actor: \(actor)") }
            if !sig.ipRanges.isEmpty { facts.append("ranges: " + sig.ipRanges.map(\.description).joined(separator: ", ")) }
            let context = sig.contextIPs.map(\.description) + sig.contextHosts + sig.contextResources + sig.contextSecurityGroups
            if !context.isEmpty { facts.append("context (never acted on): " + context.joined(separator: ", ")) }
            if let seconds = sig.suggestedDurationSeconds { facts.append("suggested duration: \(DurationText.text(Int64(seconds) * 1000))") }
            if let count = sig.eventCount { facts.append("events: \(count)") }
            facts.append("signal id: \(sig.signalID) · from \(s.stored.source) · received \(TimeText.stamp(s.stored.receivedAt))")
            if let link = sig.link { facts.append("link: \(link)") }
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
                var t = "  \(a.kind == .dispatch ? "" : a.kind.rawValue + " ")#\(a.number) \(TimeText.stamp(a.startedAt))"
                if let subject = a.subject { t += " \(subject)" }
                if let ms = a.durationMs { t += " (\(ms) ms)" }
                t += " " + Attempt.resultText(status: a.status, error: a.error)
                out.append(DetailLine(t, a.error == nil ? .normal : .error))
                out += a.stderrLines().map { DetailLine("      stderr: " + $0, .dim) }
            }
        }
        return out
    }
}
