import GavelCore
import GavelStore

extension ConsoleModel {
    /// Handles one key: prompts and confirmations first, then the keymap of the current view.
    /// - Returns: the effects to perform, in order (empty for most keys).
    public mutating func handle(_ key: Key) -> [ConsoleEffect] {
        if key == .resize { return [] }  // the adapter reports the new size as an event
        if key == .ctrlC {
            isQuitting = true
            return [.quit]
        }
        switch mode {
        case .normal:
            flash = nil
            guard let binding = keymap.binding(for: key, in: view) else { return [] }
            if let why = binding.disabledReason(readOnly: readOnly) {
                flash = Flash("\(why): \(binding.label) (\(binding.help)) is disabled", isError: true)
                return []
            }
            return run(binding.command)
        case .help:
            switch keymap.binding(for: key, in: view)?.command {
            case .moveDown: helpScroll += 1
            case .moveUp: helpScroll = max(0, helpScroll - 1)
            case .pageDown: helpScroll += layout.listHeight
            case .pageUp: helpScroll = max(0, helpScroll - layout.listHeight)
            default:
                if [.escape, .c("?"), .c("q"), .enter, .function(1)].contains(key) { mode = .normal }
            }
            helpScroll = min(helpScroll, max(0, keymap.helpLines(in: view, readOnly: readOnly).count - (layout.statusRow - 2)))
            return []
        case .filter(var editor):
            switch editor.handle(key) {
            case .editing: mode = .filter(editor)
            case .cancelled: mode = .normal
            case .submitted(let text):
                mode = .normal
                setFilter(text.trimmingASCIIWhitespace())
            }
            return []
        case .reason(var prompt):
            switch prompt.editor.handle(key) {
            case .editing:
                mode = .reason(prompt)
                return []
            case .cancelled:
                mode = .normal
                flash = Flash("\(prompt.purpose.rawValue) cancelled")
                return []
            case .submitted(let text):
                let reason = text.trimmingASCIIWhitespace()
                guard !reason.isEmpty else {
                    flash = Flash(
                        prompt.purpose == .extend ? "a duration is required (Esc cancels)" : "a reason is required (Esc cancels)", isError: true)
                    mode = .reason(prompt)
                    return []
                }
                mode = .normal
                return submitted(prompt, text: reason)
            }
        case .confirm(let confirmation):
            switch key {
            case .c("y"), .c("Y"):
                mode = .normal
                return perform(confirmation.onYes)
            case .c("n"), .c("N"), .escape, .c("q"):
                mode = .normal
                flash = Flash("cancelled")
                return []
            default:
                return []
            }
        }
    }

    /// Runs one command in normal mode.
    mutating func run(_ command: Command) -> [ConsoleEffect] {
        switch command {
        case .moveDown: move(by: 1)
        case .moveUp: move(by: -1)
        case .pageDown: move(by: layout.listHeight)
        case .pageUp: move(by: -layout.listHeight)
        case .top: jump(.top)
        case .bottom: jump(.bottom)
        case .focusDetail:
            if view.isRemediationList ? selectedRemediation != nil : !currentIDs.isEmpty { focus = .detail }
        case .back:
            if focus == .detail {
                focus = .list
            } else if filter != nil {
                setFilter("")
                flash = Flash("filter cleared")
            } else if !tagged.isEmpty {
                tagged = [:]
                flash = Flash("tags cleared")
            }
        case .nextView: switchView(to: ConsoleView(rawValue: view.rawValue % ConsoleView.allCases.count + 1)!)
        case .previousView:
            let n = ConsoleView.allCases.count
            switchView(to: ConsoleView(rawValue: (view.rawValue + n - 2) % n + 1)!)
        case .view(let v): switchView(to: v)
        case .filter: mode = .filter(LineEditor(prompt: "/", text: filter ?? "", maxLength: 100))
        case .nextMatch: findMatch(forward: true)
        case .prevMatch: findMatch(forward: false)
        case .toggleTag: toggleTag()
        case .cycleStateFilter: cycleStateFilter()
        case .help:
            mode = .help
            helpScroll = 0
        case .quit:
            isQuitting = true
            return [.quit]
        case .approve: return approve()
        case .reject: return reject()
        case .rejectFalsePositive: return reject(falsePositive: true)
        case .retry: return retry()
        case .withdraw: return withdraw()
        case .revert: return revert()
        case .extend: return extend()
        case .note: return note()
        case .toggleAuto: return toggleAuto()
        case .dryRun: return toggleDryRun()
        case .setMode(let m): return setMode(m)
        case .toggleAction(let a): return toggleAction(a)
        }
        return []
    }

    // MARK: Navigation

    mutating func move(by delta: Int) {
        let h = layout.listHeight
        if focus == .detail {
            let maxScroll = max(0, ConsoleRenderer.wrappedDetailLines(for: self, columns: layout.detailWidth - 1).count - layout.detailHeight)
            detailScroll = min(max(0, detailScroll + delta), maxScroll)
            return
        }
        switch view {
        case .pending, .history, .inForce:
            guard var list = remediationList(view) else { return }
            list.selection.move(by: delta, ids: list.rows.map(\.id), height: h)
            list.anchor = list.selectedRow.map(ConsoleCursor.init) ?? list.anchor
            setList(view, list)
            extendIfNearEdge(view)
        case .rules:
            ruleSelection.move(by: delta, ids: visibleRules.map(\.key), height: h)
        case .audit:
            audit.selection.move(by: delta, ids: visibleAudit.map(\.id), height: h)
            if let last = audit.rows.last, !audit.complete, audit.load == nil,
                (audit.selection.index(in: visibleAudit.map(\.id)) ?? 0) >= visibleAudit.count - h
            {
                audit.load = .more(before: last.id, limit: Self.pageSize)
            }
        case .intakeErrors:
            intakeErrors.selection.move(by: delta, ids: visibleIntakeErrors.map(\.id), height: h)
            if let last = intakeErrors.rows.last, !intakeErrors.complete, intakeErrors.load == nil,
                (intakeErrors.selection.index(in: visibleIntakeErrors.map(\.id)) ?? 0) >= visibleIntakeErrors.count - h
            {
                intakeErrors.load = .more(before: last.id, limit: Self.pageSize)
            }
        }
    }

    mutating func jump(_ anchor: WindowAnchor) {
        if focus == .detail {
            detailScroll = anchor == .top ? 0 : Int.max / 2
            move(by: 0)
            return
        }
        if var list = remediationList(view) {
            list.load = anchor
            setList(view, list)
        } else {
            move(by: anchor == .top ? -Int.max / 2 : Int.max / 2)
        }
    }

    mutating func switchView(to v: ConsoleView) {
        guard v != view else { return }
        view = v
        focus = .list
        detailScroll = 0
        markStale()
    }

    mutating func setFilter(_ text: String) {
        filters[view] = text.isEmpty ? nil : text
        if var list = remediationList(view) {
            list.load = .top
            setList(view, list)
        } else {
            let h = layout.listHeight
            switch view {
            case .rules: ruleSelection.reconcile(ids: visibleRules.map(\.key), height: h)
            case .audit: audit.selection.reconcile(ids: visibleAudit.map(\.id), height: h)
            case .intakeErrors: intakeErrors.selection.reconcile(ids: visibleIntakeErrors.map(\.id), height: h)
            default: break
            }
        }
    }

    /// `n`/`N`: the next (previous) loaded row matching the filter, wrapping around.
    mutating func findMatch(forward: Bool) {
        guard let pattern = filter else {
            flash = Flash("no filter: press / first", isError: true)
            return
        }
        let matches: [Bool]
        switch view {
        case .pending, .history, .inForce:
            matches = (remediationList(view)?.rows ?? []).map { TextFilter.matches(TextFilter.fields(of: $0), pattern: pattern) }
        default:
            matches = currentIDs.map { _ in true }  // these views are filtered in memory
        }
        guard let current = currentIndex, matches.contains(true) else {
            flash = Flash("no match for \(pattern)", isError: true)
            return
        }
        let n = matches.count
        for step in 1...n {
            let i = forward ? (current + step) % n : (current - step + n) % n
            if matches[i] {
                if forward ? i <= current : i >= current { flash = Flash("search wrapped") }
                move(by: i - current)
                return
            }
        }
    }

    var currentIndex: Int? {
        switch view {
        case .pending, .history, .inForce: remediationList(view).flatMap { $0.selection.index(in: $0.rows.map(\.id)) }
        case .rules: ruleSelection.index(in: visibleRules.map(\.key))
        case .audit: audit.selection.index(in: visibleAudit.map(\.id))
        case .intakeErrors: intakeErrors.selection.index(in: visibleIntakeErrors.map(\.id))
        }
    }

    mutating func toggleTag() {
        guard let row = selectedRemediation else { return }
        if tagged[row.id] == nil { tagged[row.id] = row } else { tagged[row.id] = nil }
        flash = Flash("\(tagged.count) tagged (a / r act on all, Esc clears)")
        move(by: 1)
    }

    mutating func cycleStateFilter() {
        let order: [RemediationState?] = [nil] + RemediationState.allCases.map { $0 }
        let i = order.firstIndex(of: history.stateFilter) ?? 0
        history.stateFilter = order[(i + 1) % order.count]
        history.load = .top
        flash = Flash("state: \(history.stateFilter?.rawValue ?? "all")")
    }

    func countText(_ n: Int) -> String { n == 1 ? "1 remediation" : "\(n) remediations" }
}
