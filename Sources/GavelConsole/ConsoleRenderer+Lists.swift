import Foundation
import GavelCore
import GavelStore

extension ConsoleRenderer {
    static func severityText(_ s: Severity?) -> (String, CellStyle) {
        guard let s else { return ("-", .dim) }
        let text =
            switch s {
            case .critical: "CRIT"
            case .high: "HIGH"
            case .medium: "MED"
            case .low: "LOW"
            case .info: "INFO"
            }
        return (text, .severity(s))
    }

    /// The list rows of the current view: titles, then `height` rows from the scroll position.
    static func listRows(_ m: ConsoleModel, total: Int, height: Int, width: @escaping (Unicode.Scalar) -> Int) -> [FrameRow] {
        let columns: [Column]
        var cells: [[(String, CellStyle)]] = []
        var top = 0
        var selectedIndex: Int? = nil
        let focusList = m.focus == .list
        switch m.view {
        case .pending, .history:
            let list = m.remediationList(m.view)!
            let pending = m.view == .pending
            // TARGET (what is acted on) grows first, then RULE; ACTION last: its long name
            // (delete-security-group) stays recognizable when cut at 80 columns.
            let middle: Column = pending ? .fixed("SEV", 4) : .content("STATE", min: 7, max: 11)
            let last: Column = pending ? .content("SIG", min: 3, max: 5, right: true) : .content("BY", min: 5, max: 24, priority: 3)
            columns = [
                .fixed("", 1), middle, .content("ID", min: 3, max: 8, right: true), .content("ACTION", min: 13, max: 24, priority: 3),
                .content("TARGET", min: 15, max: 45, priority: 1), .rest("RULE", min: 12, priority: 2), last,
                .content("AGE", min: 3, max: 4, right: true),
            ]
            top = list.selection.scrollTop
            selectedIndex = list.selection.index(in: list.rows.map(\.id))
            cells = list.rows.map { r in
                let tag: (String, CellStyle) = m.tagged[r.id] != nil ? ("*", .tagged) : (" ", .normal)
                let hidden = DisplayText.hasHiddenCharacters(r.target + r.ruleDisplayName)
                var middle: (String, CellStyle) = pending ? severityText(r.severity) : (r.state.rawValue, stateStyle(r.state))
                if !pending, r.state == .approved, let next = r.nextAttemptAt, next > Timestamp(m.now) {
                    middle = ("in \(DurationText.timeLeft(next.milliseconds(since: Timestamp(m.now))))", .prompt)
                }
                let last: (String, CellStyle) = pending ? (String(r.signalCount), .normal) : (r.decidedBy ?? "", .dim)
                return [
                    tag, middle, ("#\(r.id)", .dim), (r.action, .normal), (r.target, hidden ? .suspicious : .normal),
                    (r.ruleDisplayName, hidden ? .suspicious : .normal), last, (TimeText.age(r.createdAt, now: m.now), .dim),
                ]
            }
        case .inForce:
            let list = m.inForce
            columns = [
                .fixed("", 1), .content("STATE", min: 7, max: 14), .content("ID", min: 3, max: 8, right: true),
                .content("ACTION", min: 13, max: 24, priority: 3), .content("TARGET", min: 15, max: 45, priority: 1),
                .rest("RULE", min: 12, priority: 2), .content("TIME LEFT", short: "LEFT", min: 9, max: 12, right: true),
                .content("SINCE", min: 5, max: 5, right: true),
            ]
            top = list.selection.scrollTop
            selectedIndex = list.selection.index(in: list.rows.map(\.id))
            cells = list.rows.map { r in
                let hidden = DisplayText.hasHiddenCharacters(r.target + r.ruleDisplayName)
                let left: (String, CellStyle)
                if let expires = r.expiresAt {
                    let ms = expires.milliseconds(since: Timestamp(m.now))
                    left = (DurationText.timeLeft(ms), ms < 60_000 ? .error : .normal)
                } else {
                    left = ("permanent", .dim)
                }
                return [
                    (m.tagged[r.id] != nil ? "*" : " ", .tagged), (r.state.rawValue, stateStyle(r.state)), ("#\(r.id)", .dim), (r.action, .normal),
                    (r.target, hidden ? .suspicious : .normal), (r.ruleDisplayName, hidden ? .suspicious : .normal), left,
                    (r.inForceSince.map { TimeText.age($0, now: m.now) } ?? "-", .dim),
                ]
            }
        case .rules:
            let rules = m.visibleRules
            columns =
                [
                    .content("MODE", min: 4, max: 7), .rest("RULE", min: 16, priority: 1),
                    .content("ACTIONS (+ on, - off)", short: "ACTIONS", min: 14, max: 64, priority: 1),
                    .content("PEND", min: 4, max: 7, right: true), .content("SENT", min: 4, max: 7, right: true),
                    .content("SEEN", min: 4, max: 4, right: true),
                ]
                + (rules.contains(where: \.throttled) ? [.fixed("", 9)] : [])
            top = m.ruleSelection.scrollTop
            selectedIndex = m.ruleSelection.index(in: rules.map(\.key))
            cells = rules.map { r in
                let actions = r.allActions.map {
                    (r.enabledActions.contains($0) ? "+" : "-") + $0 + (r.openCircuits.contains($0) ? " (circuit open)" : "")
                }.joined(separator: " ")
                return [
                    (r.mode.rawValue, r.mode == .auto ? .tagged : .normal), (r.name, .normal), (actions, r.openCircuits.isEmpty ? .normal : .error),
                    (String(r.counts.pending), .normal), (String(r.counts.dispatched), .normal),
                    (r.rule.lastSeenAt.map { TimeText.age($0, now: m.now) } ?? "-", .dim), (r.throttled ? "throttled" : "", .error),
                ]
            }
        case .audit:
            columns = [
                .fixed("AT (UTC)", 14), .content("ACTOR", min: 8, max: 24, priority: 1), .content("VERB", min: 6, max: 12),
                .content("ID", min: 3, max: 8, right: true), .rest("WHAT", min: 16, priority: 2),
            ]
            let rows = m.visibleAudit
            top = m.audit.selection.scrollTop
            selectedIndex = m.audit.selection.index(in: rows.map(\.id))
            cells = rows.map { a in
                [
                    (TimeText.short(a.at), .dim), (a.actor, .normal), (a.action, .normal), (a.remediationID.map { "#\($0)" } ?? "", .dim),
                    (a.consoleText, .normal),
                ]
            }
        case .intakeErrors:
            columns = [
                .fixed("AT (UTC)", 14), .content("PEER", min: 12, max: 47, priority: 1), .fixed("CODE", 4),
                .content("REASON", min: 12, max: 40, priority: 2), .rest("BODY", min: 10, priority: 3),
            ]
            let rows = m.visibleIntakeErrors
            top = m.intakeErrors.selection.scrollTop
            selectedIndex = m.intakeErrors.selection.index(in: rows.map(\.id))
            cells = rows.map { e in
                [
                    (TimeText.short(e.receivedAt), .dim), (e.peer ?? "-", .normal), (String(e.status), .error), (e.reason, .normal),
                    (e.bodyExcerpt, .dim),
                ]
            }
        }
        let ws = widths(columns, cells: cells, total: total, width: width)
        var out = [titleRow(columns, widths: ws, total: total, width: width)]
        if cells.isEmpty {
            out.append(RowBuilder.line("  " + emptyText(m), .dim, cols: total, width: width))
            if m.filter == nil && m.view == .pending && !hasDecided(m), let address = m.summary?.listenAddress, address.hasPrefix("http") {
                out.append(RowBuilder.line("  signals arrive at POST \(address)/webhook — try:", .dim, cols: total, width: width))
                let demo = m.summary?.demoCommand ?? "gavel demo"
                out.append(
                    RowBuilder.line("    \(demo)\(address == "http://127.0.0.1:8787" ? "" : " --to \(address)")", .dim, cols: total, width: width))
            }
        }
        for i in top..<min(cells.count, top + height) {
            out.append(listRow(cells[i], columns, widths: ws, total: total, selected: i == selectedIndex && focusList, width: width))
        }
        while out.count < height + 1 { out.append(RowBuilder.line("", cols: total, width: width)) }
        return Array(out.prefix(height + 1))
    }

    /// Whether anything was ever proposed and left pending (decided, suppressed, expired…).
    static func hasDecided(_ m: ConsoleModel) -> Bool {
        (m.summary?.counts ?? [:]).contains { $0.key != .pending && $0.value > 0 }
    }

    /// What an empty list says: why it is empty, so an empty filter, a cleared queue and a new
    /// database never read the same.
    static func emptyText(_ m: ConsoleModel) -> String {
        if let f = m.filter { return "no rows match /\(f) (Esc clears the filter)" }
        switch m.view {
        case .pending:
            return hasDecided(m)
                ? "queue clear: nothing is pending (2 History shows what was decided)"
                : "nothing here yet: no signal has proposed a remediation"
        case .history:
            if let s = m.history.stateFilter { return "no remediation is \(s.rawValue) (f cycles the state filter)" }
            return "no remediation yet"
        case .inForce: return "nothing in force: dispatched remediations show here until they are reverted"
        case .rules: return "no detection rule has sent a signal yet"
        case .audit: return "the audit log is empty"
        case .intakeErrors: return "no intake errors: every delivery was understood"
        }
    }

    static func stateStyle(_ s: RemediationState) -> CellStyle {
        switch s {
        case .failed: .error
        case .pending: .prompt
        case .rejected, .suppressed, .simulated: .dim
        default: .normal
        }
    }

    /// Lays out list and detail pane into rows 2 … statusRow − 1.
    static func drawBody(_ m: ConsoleModel, _ layout: ConsoleLayout, _ width: @escaping (Unicode.Scalar) -> Int, into rows: inout [FrameRow]) {
        let list = listRows(m, total: layout.listWidth, height: layout.listHeight, width: width)
        let lines = wrappedDetailLines(for: m, columns: layout.detailWidth - 1, width: width)
        let scroll = min(m.detailScroll, max(0, lines.count - layout.detailHeight))
        let visible = Array(lines.dropFirst(scroll).prefix(layout.detailHeight))
        func detailRow(_ i: Int, cols: Int) -> FrameRow {
            guard i < visible.count else { return RowBuilder.line("", cols: cols, width: width) }
            var b = RowBuilder(cols: cols, width: width)
            b.add(" ")
            b.add(visible[i].text, visible[i].style, columns: max(0, cols - 1))
            return b.finish()
        }
        let title = m.focus == .detail ? "detail (j/k scroll, Esc back)" : "detail"
        if layout.isSideBySide {
            for r in 2..<layout.statusRow {
                let left = r - 2 < list.count ? list[r - 2] : RowBuilder.line("", cols: layout.listWidth, width: width)
                let right: FrameRow
                if r == 2 {
                    right = RowBuilder.line(" " + title, m.focus == .detail ? .activeTab : .columnTitle, cols: layout.detailWidth, width: width)
                } else {
                    right = detailRow(r - layout.detailTop, cols: layout.detailWidth)
                }
                rows[r] = FrameRow(left.spans + [StyledSpan("│", .dim)] + right.spans)
            }
        } else {
            for (i, row) in list.enumerated() { rows[2 + i] = row }
            let sep = layout.detailTop - 1
            var b = RowBuilder(cols: layout.cols, width: width)
            b.add("── " + title + " ", m.focus == .detail ? .activeTab : .dim)
            b.add(String(repeating: "─", count: b.remaining), .dim)
            rows[sep] = b.finish()
            for r in layout.detailTop..<layout.statusRow { rows[r] = detailRow(r - layout.detailTop, cols: layout.cols) }
        }
    }
}
