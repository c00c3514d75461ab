import Foundation
import GavelCore

extension ConsoleRenderer {
    /// A list column: title, fixed width (nil = shares the rest), right alignment.
    struct Column {
        var title: String
        var width: Int?
        var alignRight = false
        init(_ title: String, _ width: Int?, right: Bool = false) { self.title = title; self.width = width; alignRight = right }
    }

    /// Column widths for `total` columns: fixed ones as given, flexible ones share the rest.
    static func widths(_ columns: [Column], total: Int) -> [Int] {
        let fixed = columns.compactMap(\.width).reduce(0, +) + max(0, columns.count - 1)
        let flexCount = columns.filter { $0.width == nil }.count
        let flex = flexCount == 0 ? 0 : max(4, (total - fixed) / flexCount)
        var ws = columns.map { $0.width ?? flex }
        if flexCount > 0, let last = ws.indices.last(where: { columns[$0].width == nil }) {
            ws[last] += max(0, total - fixed - flex * flexCount)
        }
        return ws
    }

    /// One list row from cells, with a one-column gap between cells.
    static func listRow(_ cells: [(String, CellStyle)], _ columns: [Column], widths ws: [Int], total: Int,
                        selected: Bool, width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: total, width: width)
        for (i, cell) in cells.enumerated() where i < ws.count {
            if i > 0 { b.add(" ", selected ? .selected : .normal) }
            b.add(cell.0, selected ? .selected : cell.1, columns: ws[i], alignRight: columns[i].alignRight)
        }
        return b.finish(selected ? .selected : .normal)
    }

    static func severityText(_ s: Severity?) -> (String, CellStyle) {
        guard let s else { return ("-", .dim) }
        let text = switch s {
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
        var top = 0, selectedIndex: Int? = nil
        let focusList = m.focus == .list
        switch m.view {
        case .pending, .history:
            let list = m.remediationList(m.view)!
            let pending = m.view == .pending
            columns = pending
                ? [Column("", 1), Column("SEV", 4), Column("ID", 6, right: true), Column("ACTION", 13), Column("TARGET", nil),
                   Column("RULE", nil), Column("SIG", 3, right: true), Column("AGE", 4, right: true)]
                : [Column("", 1), Column("STATE", 11), Column("ID", 6, right: true), Column("ACTION", 13), Column("TARGET", nil),
                   Column("RULE", nil), Column("BY", 12), Column("AGE", 4, right: true)]
            top = list.selection.scrollTop
            selectedIndex = list.selection.index(in: list.rows.map(\.id))
            cells = list.rows.map { r in
                let tag: (String, CellStyle) = m.tagged[r.id] != nil ? ("*", .tagged) : (" ", .normal)
                let hidden = DisplayText.hasHiddenCharacters(r.target + r.rule)
                let middle: (String, CellStyle) = pending ? severityText(r.severity) : (r.state.rawValue, stateStyle(r.state))
                let last: (String, CellStyle) = pending ? (String(r.signals), .normal) : (r.decidedBy ?? "", .dim)
                return [tag, middle, ("#\(r.id)", .dim), (r.action, .normal), (r.target, hidden ? .suspicious : .normal),
                        (r.rule, hidden ? .suspicious : .normal), last, (TimeText.age(r.createdAt, now: m.now), .dim)]
            }
        case .rules:
            columns = [Column("MODE", 7), Column("RULE", nil), Column("ACTIONS (+ on, - off)", nil), Column("PEND", 5, right: true),
                       Column("SENT", 5, right: true), Column("SEEN", 4, right: true), Column("", 9)]
            let rules = m.visibleRules
            top = m.ruleSelection.scrollTop
            selectedIndex = m.ruleSelection.index(in: rules.map(\.key))
            cells = rules.map { r in
                let actions = r.allActions.map { (r.enabledActions.contains($0) ? "+" : "-") + $0 }.joined(separator: " ")
                return [(r.mode.rawValue, r.mode == .auto ? .tagged : .normal), (r.rule, .normal), (actions, .normal),
                        (String(r.pending), .normal), (String(r.dispatched), .normal),
                        (r.lastSeen.map { TimeText.age($0, now: m.now) } ?? "-", .dim), (r.throttled ? "throttled" : "", .error)]
            }
        case .audit:
            columns = [Column("AT (UTC)", 14), Column("ACTOR", 14), Column("VERB", 10), Column("ID", 6, right: true), Column("WHAT", nil)]
            let rows = m.visibleAudit
            top = m.audit.selection.scrollTop
            selectedIndex = m.audit.selection.index(in: rows.map(\.id))
            cells = rows.map { a in
                [(TimeText.short(a.at), .dim), (a.actor, .normal), (a.verb, .normal), (a.remediationID.map { "#\($0)" } ?? "", .dim), (a.text, .normal)]
            }
        case .intakeErrors:
            columns = [Column("AT (UTC)", 14), Column("PEER", 21), Column("CODE", 4), Column("REASON", nil), Column("BODY", nil)]
            let rows = m.visibleIntakeErrors
            top = m.intakeErrors.selection.scrollTop
            selectedIndex = m.intakeErrors.selection.index(in: rows.map(\.id))
            cells = rows.map { e in
                [(TimeText.short(e.at), .dim), (e.peer, .normal), (String(e.status), .error), (e.reason, .normal), (e.bodyExcerpt, .dim)]
            }
        }
        let ws = widths(columns, total: total)
        var out = [listRow(columns.map { ($0.title, CellStyle.columnTitle) }, columns, widths: ws, total: total, selected: false, width: width)]
        if cells.isEmpty {
            let empty = m.filter != nil ? "no rows match /\(m.filter!) (Esc clears)" : "nothing here yet"
            out.append(RowBuilder.line("  " + empty, .dim, cols: total, width: width))
            if m.filter == nil && m.view == .pending, let address = m.summary?.listenAddress, address.hasPrefix("http") {
                out.append(RowBuilder.line("  signals arrive at POST \(address)/webhook — try: gavel demo --to \(address)", .dim, cols: total, width: width))
            }
        }
        for i in top..<min(cells.count, top + height) {
            out.append(listRow(cells[i], columns, widths: ws, total: total, selected: i == selectedIndex && focusList, width: width))
        }
        while out.count < height + 1 { out.append(RowBuilder.line("", cols: total, width: width)) }
        return Array(out.prefix(height + 1))
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
        let lines = detailLines(for: m)
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
