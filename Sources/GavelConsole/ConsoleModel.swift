import Foundation
import GavelCore
import GavelStore

/// The console's whole state, and what keys and events do to it. Pure: it never draws, never
/// reads the store and never blocks; keys return ``ConsoleEffect`` values (htop's
/// `HandlerResult`), data arrives as ``ConsoleEvent`` values, and ``pendingLoads`` says what
/// data it is missing. ``ConsoleSession`` runs it against a ``ConsoleDataSource``.
public struct ConsoleModel: Sendable {
    /// Modal input states; keys go to the prompt or confirmation first.
    public enum Mode: Sendable, Equatable {
        case normal
        /// The `?` overlay.
        case help
        /// The `/` prompt.
        case filter(LineEditor)
        /// The reject-reason prompt for these ids.
        case reason(ReasonPrompt)
        /// Waiting for `y` (confirm) or `n`/Esc (cancel).
        case confirm(Confirmation)
    }

    /// Which pane `j`/`k` move in.
    public enum Focus: Sendable, Equatable { case list, detail }

    /// A short message on the status line until the next key, or until it has shown for
    /// ``flashSeconds`` (``errorFlashSeconds`` for an error) of refresh ticks.
    public struct Flash: Sendable, Equatable {
        public var text: String
        public var isError: Bool
        public init(_ text: String, isError: Bool = false) {
            self.text = text
            self.isError = isError
        }
    }

    /// The analyst name decisions are attributed to.
    public var analyst: String
    /// `--read-only`: keys that change state only flash "read-only".
    public var readOnly: Bool
    /// The key table the model dispatches on.
    public var keymap: Keymap
    /// The view on screen.
    public var view: ConsoleView = .pending
    /// Where keys go first (prompt, confirmation, help).
    public var mode: Mode = .normal
    /// The pane `j`/`k` move in.
    public var focus: Focus = .list
    /// The screen size and where things go.
    public var layout: ConsoleLayout
    /// The clock, set by ``ConsoleEvent/tick(_:)``.
    public var now: Date
    /// The header's counts, once loaded.
    public var summary: ConsoleSummary?
    /// All detection rules (loaded each refresh: auto confirmations list their actions).
    public var rules: [RuleRow] = []
    /// The Rules view's selection, by rule key.
    public var ruleSelection = ListState<String>()
    /// The Pending view's window and selection.
    public var pending = RemediationList()
    /// The History view's window and selection.
    public var history = RemediationList()
    /// The In force view's window and selection.
    public var inForce = RemediationList()
    /// The Audit view's rows.
    public var audit: PagedList<AuditEntry>
    /// The Intake errors view's rows.
    public var intakeErrors: PagedList<IntakeErrorEntry>
    /// `/` filters per view (nil or empty: none).
    public var filters: [ConsoleView: String] = [:]
    /// The detail of the selected remediation, once loaded.
    public var detail: RemediationDetail?
    /// First detail line shown.
    public var detailScroll = 0
    /// First line of the `?` overlay shown.
    public var helpScroll = 0
    /// Tagged remediations by id, as they were when tagged (refreshed when their row reloads).
    public var tagged: [Int64: Remediation] = [:]
    /// The status-line message, cleared by the next key.
    public var flash: Flash?
    /// The flash on screen and since when (``ageFlash(at:)``).
    var flashShown: (flash: Flash, since: Date)?
    /// A persistent error (store unreachable), shown in the header until cleared.
    public var errorBanner: String?
    /// Set by `q` / Ctrl-C.
    public var isQuitting = false
    var rulesStale = true
    var detailStale = true
    var detailLoadedID: Int64?

    /// Rows loaded per page of the newest-first lists.
    public static let pageSize = 100

    public init(
        analyst: String, readOnly: Bool = false, keymap: Keymap = .standard,
        size: (rows: Int, cols: Int) = (24, 80), now: Date = Date()
    ) {
        self.analyst = analyst
        self.readOnly = readOnly
        self.keymap = keymap
        self.layout = ConsoleLayout(rows: size.rows, cols: size.cols)
        self.now = now
        audit = PagedList(pageSize: Self.pageSize)
        intakeErrors = PagedList(pageSize: Self.pageSize)
    }

    // MARK: Derived state

    /// The active filter of the current view.
    public var filter: String? {
        guard let f = filters[view], !f.isEmpty else { return nil }
        return f
    }

    /// The remediation list of `view`, if it is one.
    public func remediationList(_ v: ConsoleView) -> RemediationList? {
        switch v {
        case .pending: pending
        case .history: history
        case .inForce: inForce
        default: nil
        }
    }

    /// The selected remediation of the current view, if it is a remediation list.
    public var selectedRemediation: Remediation? { remediationList(view)?.selectedRow }

    /// Rules passing the Rules view's filter.
    public var visibleRules: [RuleRow] {
        let f = filters[.rules]
        return rules.filter { TextFilter.matches([$0.name, $0.key] + $0.enabledActions, pattern: f) }
    }
    public var selectedRule: RuleRow? {
        let rs = visibleRules
        guard let i = ruleSelection.index(in: rs.map(\.key)) else { return nil }
        return rs[i]
    }
    public var visibleAudit: [AuditEntry] {
        let f = filters[.audit]
        return audit.rows.filter {
            TextFilter.matches([$0.actor, $0.action, $0.consoleText] + ($0.remediationID.map { ["#\($0)"] } ?? []), pattern: f)
        }
    }
    public var visibleIntakeErrors: [IntakeErrorEntry] {
        let f = filters[.intakeErrors]
        return intakeErrors.rows.filter { TextFilter.matches([$0.peer ?? "", $0.reason, $0.bodyExcerpt, String($0.status)], pattern: f) }
    }

    /// The ids of the rows the current view shows, in order, as strings or numbers.
    var currentIDs: [AnyHashable] {
        switch view {
        case .pending: pending.rows.map(\.id)
        case .history: history.rows.map(\.id)
        case .inForce: inForce.rows.map(\.id)
        case .rules: visibleRules.map(\.key)
        case .audit: visibleAudit.map(\.id)
        case .intakeErrors: visibleIntakeErrors.map(\.id)
        }
    }

    // MARK: Loads

    /// A data load the model needs.
    public enum Load: Sendable, Equatable {
        case rulesAndSummary
        case remediations(ConsoleView, WindowRequest)
        case detail(Int64)
        case audit(PagedLoad)
        case intakeErrors(PagedLoad)
    }

    /// What to read from the data source before the next draw (current view only).
    public var pendingLoads: [Load] {
        var loads: [Load] = []
        if rulesStale { loads.append(.rulesAndSummary) }
        switch view {
        case .pending, .history, .inForce:
            if let request = windowRequest(for: view) { loads.append(.remediations(view, request)) }
            if let row = selectedRemediation, detailStale || detailLoadedID != row.id { loads.append(.detail(row.id)) }
        case .audit:
            if let l = audit.load { loads.append(.audit(l)) }
        case .intakeErrors:
            if let l = intakeErrors.load { loads.append(.intakeErrors(l)) }
        case .rules: break
        }
        return loads
    }

    /// The queries that load `view`'s window, or nil when it is current.
    public func windowRequest(for v: ConsoleView) -> WindowRequest? {
        guard let list = remediationList(v), let anchor = list.load else { return nil }
        let states: [RemediationState]
        let order: ConsolePageQuery.Order
        switch v {
        case .pending:
            states = [.pending]
            order = .severityThenOldest
        case .inForce:
            states = RemediationState.allCases.filter(\.isInForce)
            order = .soonestExpiry
        default:
            states = list.stateFilter.map { [$0] } ?? []
            order = .newestFirst
        }
        let h = layout.listHeight
        func q(_ cursor: ConsoleCursor?, _ inclusive: Bool, _ dir: ConsolePageQuery.Direction, _ limit: Int) -> ConsolePageQuery {
            ConsolePageQuery(
                states: states, order: order, filter: filters[v], cursor: cursor,
                includesCursor: inclusive, direction: dir, limit: limit)
        }
        switch anchor {
        case .top: return WindowRequest(anchor: .top, backward: nil, forward: q(nil, false, .forward, 3 * h))
        case .bottom: return WindowRequest(anchor: .bottom, backward: q(nil, false, .backward, 3 * h), forward: nil)
        case .around:
            guard let cursor = list.anchor else {
                return WindowRequest(anchor: .top, backward: nil, forward: q(nil, false, .forward, 3 * h))
            }
            return WindowRequest(
                anchor: .around, backward: q(cursor, false, .backward, 2 * h),
                forward: q(cursor, true, .forward, 3 * h))
        }
    }

    // MARK: Events

    /// Applies something that happened outside the model.
    public mutating func apply(_ event: ConsoleEvent) {
        switch event {
        case .summary(let s):
            summary = s
        case .rules(let r):
            rules = r
            rulesStale = false
            ruleSelection.reconcile(ids: visibleRules.map(\.key), height: layout.listHeight)
        case .window(let v, let w):
            applyWindow(v, w)
        case .detail(let id, let d):
            if selectedRemediation?.id == id {
                if detailLoadedID != id { detailScroll = 0 }
                detail = d
                detailLoadedID = id
                detailStale = false
            }
        case .audit(let rows, let complete):
            Self.applyPage(&audit, rows, complete: complete, height: layout.listHeight)
        case .intakeErrors(let rows, let complete):
            Self.applyPage(&intakeErrors, rows, complete: complete, height: layout.listHeight)
        case .decisionResult(let outcome):
            flash = Flash(outcome.message, isError: outcome.isError)
            markStale()
        case .error(let text):
            errorBanner = text
        case .clearError:
            errorBanner = nil
        case .resized(let rows, let cols):
            layout = ConsoleLayout(rows: rows, cols: cols)
            markStale()
        case .tick(let date):
            now = date
            ageFlash(at: date)
        }
    }

    /// How long an outcome message stays on the status line without a key: 10 s, an error 30 s.
    static let flashSeconds: TimeInterval = 10
    static let errorFlashSeconds: TimeInterval = 30

    /// Clears a flash that has shown long enough (`reverting #2` must not stay for minutes).
    mutating func ageFlash(at date: Date) {
        guard let f = flash else {
            flashShown = nil
            return
        }
        guard let shown = flashShown, shown.flash == f else {
            flashShown = (f, date)
            return
        }
        if date.timeIntervalSince(shown.since) >= (f.isError ? Self.errorFlashSeconds : Self.flashSeconds) {
            flash = nil
            flashShown = nil
        }
    }

    /// Marks everything shown as out of date (the refresh tick and after decisions).
    public mutating func markStale() {
        rulesStale = true
        detailStale = true
        if pending.load == nil { pending.load = .around }
        if history.load == nil { history.load = .around }
        if inForce.load == nil { inForce.load = .around }
        if audit.load == nil { audit.load = .refresh(limit: max(Self.pageSize, audit.rows.count)) }
        if intakeErrors.load == nil { intakeErrors.load = .refresh(limit: max(Self.pageSize, intakeErrors.rows.count)) }
    }

    mutating func applyWindow(_ v: ConsoleView, _ w: RemediationWindow) {
        guard var list = remediationList(v) else { return }
        let anchor = list.load
        list.load = nil
        list.rows = w.rows
        list.atStart = w.atStart
        list.atEnd = w.atEnd
        let ids = w.rows.map(\.id)
        let h = layout.listHeight
        switch anchor {
        case .top:
            list.selection = ListState()
            list.selection.reconcile(ids: ids, height: h)
        case .bottom:
            list.selection.selected = ids.last
            list.selection.lastIndex = max(0, ids.count - 1)
            list.selection.scrollTop = max(0, ids.count - h)
            list.selection.reconcile(ids: ids, height: h)
        case .around, nil:
            list.selection.reconcile(ids: ids, height: h, preferred: w.preferredID)
        }
        list.anchor = list.selectedRow.map(ConsoleCursor.init) ?? list.anchor
        for row in w.rows where tagged[row.id] != nil { tagged[row.id] = row }
        setList(v, list)
        extendIfNearEdge(v)
    }

    /// Applies a loaded page. Newest first, like `tail -f` upside down: a selection on the newest
    /// row follows the newest as entries arrive (they show at the top, selected); a selection
    /// further down stays on its entry and its screen row.
    static func applyPage<Row>(_ list: inout PagedList<Row>, _ rows: [Row], complete: Bool, height: Int) {
        let followsNewest = list.selection.selected == nil || list.selection.selected == list.rows.first?.id
        switch list.load {
        case .more: list.rows += rows.filter { r in !list.rows.contains { $0.id == r.id } }
        default: list.rows = rows
        }
        list.complete = complete
        list.load = nil
        if followsNewest, let newest = list.rows.first?.id {
            list.selection = ListState(selected: newest)
        }
        list.selection.reconcile(ids: list.rows.map(\.id), height: height)
    }

    mutating func setList(_ v: ConsoleView, _ list: RemediationList) {
        switch v {
        case .pending: pending = list
        case .history: history = list
        case .inForce: inForce = list
        default: break
        }
    }

    /// Asks for a reload around the selection when it is within a page of a loaded edge that is
    /// not the list's real edge (keyset paging: the window follows the selection).
    mutating func extendIfNearEdge(_ v: ConsoleView) {
        guard var list = remediationList(v), list.load == nil,
            let i = list.selection.index(in: list.rows.map(\.id))
        else { return }
        let h = layout.listHeight
        if (!list.atStart && i < h) || (!list.atEnd && list.rows.count - 1 - i < 2 * h) {
            list.load = .around
            setList(v, list)
        }
    }
}
