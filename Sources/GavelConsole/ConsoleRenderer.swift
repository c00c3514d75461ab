import Foundation
import GavelCore
import GavelStore

/// Turns a ``ConsoleModel`` into a ``Frame``: pure, so screens are tested as text.
///
/// Layout (tig, vim): a header starting with `gavel`, the view tabs, the list, the detail pane of
/// the selected row (below the list, or right of it from 150 columns: ``ConsoleLayout``), a
/// status/flash line and a footer of key hints generated from the ``Keymap`` that turns into the
/// `/` or reason prompt.
/// Every string is sanitized (``DisplayText/sanitize(_:singleLine:)``) and fitted by display
/// columns here, so attacker-controlled text can neither move the cursor nor break the layout.
public enum ConsoleRenderer {
    /// Renders `model` for a screen of `size`.
    /// - Parameters:
    ///   - size: rows and columns of the screen; below 24×80 the frame only says so.
    ///   - width: display width of a scalar (`wcwidth` in the terminal, ``DisplayText/defaultWidth(_:)`` in tests).
    /// - Returns: exactly `size.rows` rows of exactly `size.cols` columns.
    public static func render(
        _ model: ConsoleModel, size: (rows: Int, cols: Int),
        width: @escaping (Unicode.Scalar) -> Int = DisplayText.defaultWidth
    ) -> Frame {
        let layout = ConsoleLayout(rows: max(0, size.rows), cols: max(0, size.cols))
        guard !layout.isTooSmall else { return tooSmall(layout, width: width) }
        var m = model
        if m.layout != layout { m.apply(.resized(rows: layout.rows, cols: layout.cols)) }
        var rows = [FrameRow](repeating: FrameRow([]), count: layout.rows)
        rows[0] = header(m, layout, width)
        rows[1] = tabs(m, layout, width)
        switch m.mode {
        case .help:
            let help = m.keymap.helpLines(in: m.view, readOnly: m.readOnly)
            let headings = Set(m.keymap.helpHeadings(in: m.view))
            let scroll = min(m.helpScroll, max(0, help.count - (layout.statusRow - 2)))
            for r in 2..<layout.statusRow {
                let i = r - 2 + scroll
                let line = i < help.count ? help[i] : ""
                rows[r] = RowBuilder.line(
                    line.isEmpty ? "" : "  " + line, headings.contains(line) ? .heading : .normal, cols: layout.cols, width: width)
            }
        default:
            drawBody(m, layout, width, into: &rows)
            if case .confirm(let c) = m.mode { drawConfirmation(c, layout, width, into: &rows) }
        }
        let (statusText, statusStyle) = status(m)
        let statusLines = fitStatus(statusText, cols: layout.cols, width: width)
        for (i, line) in statusLines.enumerated() {
            rows[layout.statusRow - statusLines.count + 1 + i] = RowBuilder.line(line, statusStyle, cols: layout.cols, width: width)
        }
        rows[layout.footerRow] = footer(m, layout, width)
        return Frame(rows: rows, cols: layout.cols)
    }

    static func tooSmall(_ layout: ConsoleLayout, width: @escaping (Unicode.Scalar) -> Int) -> Frame {
        let message = "terminal too small (need \(ConsoleLayout.minimumCols)×\(ConsoleLayout.minimumRows))"
        let rows = (0..<layout.rows).map { r in
            RowBuilder.line(r == layout.rows / 2 ? message : "", r == layout.rows / 2 ? .error : .normal, cols: layout.cols, width: width)
        }
        return Frame(rows: rows, cols: layout.cols)
    }

    /// `gavel  LISTEN  [READ-ONLY]  [banner]  pending N · failed N …  auto: N rules      HH:MM:SSZ`:
    /// what matters most first. A narrow screen first shortens the counts (`pend 9 · sent 1 ·
    /// auto 0`, then without separators), then drops the listen address's `http://`, then uses
    /// one letter per state (`P9 D1 S1 auto 0`, see ``stateLetter(_:)``); only then is anything
    /// cut, and never the warnings or the clock.
    static func header(_ m: ConsoleModel, _ layout: ConsoleLayout, _ width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: layout.cols, width: width)
        let clock = TimeText.clock(m.now)
        func cols(_ text: String) -> Int { DisplayText.columns(DisplayText.sanitize(text), width: width) }
        /// The analyst always shows; the listen address loses its scheme, then goes, when narrow.
        /// Read-only decides nothing, so it shows `READ-ONLY` instead of the analyst.
        func lead(scheme: Bool, address: Bool = true) -> String {
            var lead = m.readOnly ? "gavel  " : "gavel  \(m.analyst)  "
            if address, var listen = m.summary?.listenAddress {
                if !scheme, let r = listen.range(of: "://") { listen = String(listen[r.upperBound...]) }
                lead += listen + "  "
            }
            return m.readOnly ? lead + "READ-ONLY  " : lead
        }
        let banner = m.errorBanner ?? m.summary?.banner
        let budget = layout.cols - clock.count - 2 - (banner.map { cols($0) + 2 } ?? 0)
        var choice = (lead: lead(scheme: true), counts: "")
        if let s = m.summary {
            let forms = countForms(s)
            // Legible counts matter more than the address: words (with the address, then without
            // its scheme, then without it) before one letter per state.
            let words = forms.dropLast()
            let tries =
                words.dropLast().map { (lead(scheme: true), $0) } + words.suffix(2).map { (lead(scheme: false), $0) }
                + words.suffix(2).map { (lead(scheme: false, address: false), $0) }
                + forms.suffix(1).map { (lead(scheme: false), $0) } + forms.suffix(1).map { (lead(scheme: false, address: false), $0) }
            choice = tries.first { cols($0.0) + cols($0.1) <= budget } ?? tries.last!
        }
        var room: Int { max(0, b.remaining - clock.count - 2) }
        b.add(choice.lead, .header, columns: min(cols(choice.lead), room))
        if let banner {
            b.add(banner, .error, columns: min(cols(banner), room))
            b.add("  ", .header, columns: min(2, room))
        }
        b.add(choice.counts, .header, columns: min(cols(choice.counts), room))
        b.add("", .header, columns: max(0, b.remaining - clock.count - 1))
        b.add(clock + " ", .header)
        return b.finish(.header)
    }

    /// The counts per state (pending always, others when non-zero) and the rules in auto, from
    /// the longest form to the shortest: `pending 9 · rejected 1  auto: 0 rules`,
    /// `pend 9 · rej 1 · auto 0`, `pend 9 rej 1 auto 0`, then what needs attention in words
    /// with the rest summed (`pend 9 · fail 1 · in force 3 · 4 other · auto 0`), and last one
    /// letter per state (`P9 R1 auto 0`).
    static func countForms(_ s: ConsoleSummary) -> [String] {
        let states = RemediationState.allCases.filter { !$0.isInForce && ((s.counts[$0] ?? 0) > 0 || $0 == .pending) }
        func n(_ state: RemediationState) -> Int { s.counts[state] ?? 0 }
        let inForce = RemediationState.allCases.filter(\.isInForce).reduce(0) { $0 + n($1) }
        let inForceWords = inForce > 0 ? ["in force \(inForce)"] : []
        let full =
            (states.map { "\($0.rawValue) \(n($0))" } + inForceWords).joined(separator: " · ")
            + "  " + (s.rulesInAuto == 1 ? "auto: 1 rule" : "auto: \(s.rulesInAuto) rules")
        let short = states.map { "\(shortName($0)) \(n($0))" } + inForceWords + ["auto \(s.rulesInAuto)"]
        let letters = states.map { "\(stateLetter($0))\(n($0))" } + (inForce > 0 ? ["I\(inForce)"] : []) + ["auto \(s.rulesInAuto)"]
        let attention: Set<RemediationState> = [.pending, .failed, .revertFailed]
        let other = states.filter { !attention.contains($0) }.reduce(0) { $0 + n($1) }
        let mixed =
            states.filter { attention.contains($0) }.map { "\(shortName($0)) \(n($0))" } + inForceWords
            + (other > 0 ? ["\(other) other"] : []) + ["auto \(s.rulesInAuto)"]
        return [
            full, short.joined(separator: " · "), short.joined(separator: " "), mixed.joined(separator: " · "), letters.joined(separator: " "),
        ]
    }

    /// A state's letter in the narrowest header: the initial, except `G` for dispatching (the
    /// request is going out), `M` for simulated (a dry-run's mock dispatch), `V` for reverted;
    /// everything in force counts under `I`.
    static func stateLetter(_ state: RemediationState) -> String {
        switch state {
        case .dispatching: "G"
        case .simulated: "M"
        case .reverted: "V"
        case .expired: "X"
        default: String(state.rawValue.prefix(1)).uppercased()
        }
    }

    /// A state's name in the narrow header (`sent` as in the Rules view's SENT column).
    static func shortName(_ state: RemediationState) -> String {
        switch state {
        case .pending: "pend"
        case .approved: "appr"
        case .dispatching: "sending"
        case .dispatched: "sent"
        case .failed: "fail"
        case .rejected: "rej"
        case .suppressed: "supp"
        case .simulated: "sim"
        case .revertPending: "rev?"
        case .reverting: "reverting"
        case .reverted: "reverted"
        case .revertFailed: "rev-fail"
        case .expired: "exp"
        }
    }

    static func tabs(_ m: ConsoleModel, _ layout: ConsoleLayout, _ width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: layout.cols, width: width)
        for v in ConsoleView.allCases {
            b.add(" \(v.rawValue) \(v.title) ", v == m.view ? .activeTab : .tab)
            b.add(" ")
        }
        if let f = m.filter { b.add(" /" + f + " ", .prompt) }
        if m.view == .history, let s = m.history.stateFilter { b.add(" state: \(s.rawValue) ", .prompt) }
        if !m.tagged.isEmpty { b.add(" \(m.tagged.count) tagged ", .tagged) }
        return b.finish()
    }

    /// The status line's text and style: a prompt's title, a flash (a decision's outcome, a
    /// conflict), else the position in the list.
    static func status(_ m: ConsoleModel) -> (String, CellStyle) {
        switch m.mode {
        case .reason(let p):
            if let f = m.flash { return (f.text, f.isError ? .error : .flash) }
            return (p.title + " — Enter \(p.purpose.enterVerb), Esc cancels", .prompt)
        case .confirm(let c):
            return (c.title + " (y/n)", .prompt)
        default:
            if let f = m.flash { return (f.text, f.isError ? .error : .flash) }
            return (position(m), .dim)
        }
    }

    /// The status text as one row, or two when it does not fit (a reject prompt naming a long
    /// rule, a conflict message at 80 columns): broken at the last space that fits, the second
    /// row cut with `…` only if it is still too long. The first of two rows covers the last row
    /// above the status line while it shows.
    static func fitStatus(_ text: String, cols: Int, width: @escaping (Unicode.Scalar) -> Int) -> [String] {
        let clean = DisplayText.sanitize(text)
        guard DisplayText.columns(clean, width: width) > cols, cols > 10 else { return [clean] }
        let wrapped = wrap(DetailLine(clean), columns: cols, width: width).map(\.text)
        guard wrapped.count > 2 else { return wrapped }
        let rest = wrapped.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return [wrapped[0], DisplayText.truncate("  " + rest, toColumns: cols, width: width, ellipsis: true)]
    }

    /// `3/120` or `3/120+` (more rows beyond the loaded window).
    static func position(_ m: ConsoleModel) -> String {
        let total = m.currentIDs.count
        guard total > 0 else { return "" }
        let i = (m.currentIndex ?? 0) + 1
        if let list = m.remediationList(m.view) {
            let more = list.atEnd && list.atStart ? "" : "+"
            return "\(m.view.title): row \(i) of \(total)\(more) loaded"
        }
        return "\(m.view.title): row \(i) of \(total)"
    }

    static func footer(_ m: ConsoleModel, _ layout: ConsoleLayout, _ width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: layout.cols, width: width)
        switch m.mode {
        case .filter(let e):
            b.add(e.prompt + e.text, .prompt)
            b.add(" ", .selected)
        case .reason(let p):
            b.add(p.editor.prompt + p.editor.text, .prompt)
            b.add(" ", .selected)
        case .confirm:
            hints([("y", "confirm"), ("n/Esc", "cancel")], into: &b)
        case .help:
            hints([("j/k", "scroll"), ("Esc/?", "close help")], into: &b)
        case .normal:
            let all = m.keymap.footerHints(in: m.view, readOnly: m.readOnly)
            let own = (m.keymap.perView[m.view] ?? []).filter { b in b.hint != nil && b.disabledReason(readOnly: m.readOnly) == nil }
            hints(fittedHints(all, own: own.count, cols: layout.cols, width), into: &b)
        }
        return b.finish()
    }

    /// The footer hints that fit in `cols` columns. `all` is the view's own `own` hints, then the
    /// global ones, the last three of which (filter, help, quit) always show. When the view's own
    /// hints do not all fit, the keys of those that do not are shown together as one `w c f more`
    /// hint, so no key of the view drops out of the footer unseen (`?` explains them); the other
    /// global hints (Enter, Tab) show only when there is room.
    static func fittedHints(_ all: [(label: String, hint: String)], own: Int, cols: Int, _ width: (Unicode.Scalar) -> Int)
        -> [(label: String, hint: String)]
    {
        func columns(_ hs: [(label: String, hint: String)]) -> Int { hs.reduce(0) { $0 + hintColumns($1, width) } }
        guard columns(all) > cols else { return all }
        let mustKeep = Array(all.suffix(3))
        let viewHints = Array(all.prefix(min(own, all.count - 3)))
        if columns(viewHints + mustKeep) <= cols {
            var chosen = viewHints
            for h in all[viewHints.count..<(all.count - 3)] where columns(chosen + [h] + mustKeep) <= cols { chosen.append(h) }
            return chosen + mustKeep
        }
        for kept in stride(from: viewHints.count - 1, through: 0, by: -1) {
            let rest = viewHints[kept...].map(\.label).joined(separator: " ")
            let candidate = Array(viewHints[..<kept]) + [(rest, "more")] + mustKeep
            if columns(candidate) <= cols || kept == 0 { return candidate }
        }
        return mustKeep
    }

    static func hintColumns(_ h: (label: String, hint: String), _ width: (Unicode.Scalar) -> Int) -> Int {
        DisplayText.columns(h.label, width: width) + 1 + DisplayText.columns(h.hint, width: width) + 2
    }

    static func hints(_ hs: [(label: String, hint: String)], into b: inout RowBuilder) {
        for h in hs {
            b.add(h.label, .hintKey)
            b.add(" " + h.hint + "  ", .hint)
        }
    }

    static func drawConfirmation(_ c: Confirmation, _ layout: ConsoleLayout, _ width: @escaping (Unicode.Scalar) -> Int, into rows: inout [FrameRow])
    {
        let inner = min(layout.cols - 6, 72)
        let body = [c.title, ""] + c.lines + ["", "y confirms · n or Esc cancels"]
        let boxRows = body.count + 2
        let top = max(2, (layout.rows - boxRows) / 2)
        let left = (layout.cols - inner - 4) / 2
        for (i, r) in (top..<min(layout.statusRow, top + boxRows)).enumerated() {
            var b = RowBuilder(cols: layout.cols, width: width)
            b.add("", columns: left)
            if i == 0 || i == boxRows - 1 {
                b.add((i == 0 ? "┌" : "└") + String(repeating: "─", count: inner + 2) + (i == 0 ? "┐" : "┘"), .prompt)
            } else {
                b.add("│ ", .prompt)
                b.add(body[i - 1], i == 1 ? .prompt : .normal, columns: inner)
                b.add(" │", .prompt)
            }
            rows[r] = b.finish()
        }
    }
}
