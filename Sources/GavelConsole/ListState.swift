import GavelCore
import GavelStore

/// The selection and scroll position of one list, tracked by row id so that rows inserted above
/// (a new critical signal) neither move the selection to another row nor jump the screen.
public struct ListState<ID: Hashable & Sendable>: Sendable, Equatable {
    public var selected: ID?
    /// Index (in the loaded rows) of the first visible row.
    public var scrollTop: Int = 0
    /// The selection's index when last known: where to land if the selected row disappears.
    var lastIndex: Int = 0

    public init(selected: ID? = nil) { self.selected = selected }

    /// The selected row's index in `ids`.
    public func index(in ids: [ID]) -> Int? {
        guard let selected else { return nil }
        return ids.firstIndex(of: selected)
    }

    /// Re-finds the selection after `ids` changed, keeping the selected row on the same screen row.
    /// - Parameter preferred: the id to select when the selected one is gone.
    mutating func reconcile(ids: [ID], height: Int, preferred: ID? = nil) {
        guard !ids.isEmpty else {
            selected = nil
            scrollTop = 0
            lastIndex = 0
            return
        }
        let screenOffset = lastIndex - scrollTop
        let idx: Int
        if let i = index(in: ids) {
            idx = i
        } else if let p = preferred, let i = ids.firstIndex(of: p) {
            idx = i
        } else {
            idx = min(max(0, lastIndex), ids.count - 1)
        }
        select(index: idx, ids: ids)
        scrollTop = idx - max(0, min(screenOffset, height - 1))
        keepVisible(height: height, count: ids.count)
    }

    /// Moves the selection by `delta` rows (clamped to the list).
    mutating func move(by delta: Int, ids: [ID], height: Int) {
        guard !ids.isEmpty else { return }
        let current = index(in: ids) ?? min(lastIndex, ids.count - 1)
        select(index: min(max(0, current + delta), ids.count - 1), ids: ids)
        keepVisible(height: height, count: ids.count)
    }

    mutating func select(index: Int, ids: [ID]) {
        selected = ids[index]
        lastIndex = index
    }

    mutating func keepVisible(height: Int, count: Int) {
        let h = max(1, height)
        if lastIndex < scrollTop { scrollTop = lastIndex }
        if lastIndex >= scrollTop + h { scrollTop = lastIndex - h + 1 }
        scrollTop = max(0, min(scrollTop, max(0, count - 1)))
    }
}

/// How the next load of a remediation list is anchored.
public enum WindowAnchor: Sendable, Equatable {
    /// From the first row of the order (after `g`, a new filter).
    case top
    /// The last rows of the order (after `G`).
    case bottom
    /// Around the selection's position (refresh, scrolling near an edge).
    case around
}

/// A remediation list view's loaded window and selection.
public struct RemediationList: Sendable, Equatable {
    /// The loaded rows, in display order: a window of the whole list around the selection.
    public var rows: [Remediation] = []
    public var selection = ListState<Int64>()
    /// The last known sort position of the selection (valid even after the row left the list).
    public var anchor: ConsoleCursor?
    public var atStart = true
    public var atEnd = true
    /// History only: show just this state.
    public var stateFilter: RemediationState?
    /// The next load to perform; nil when the window is current.
    public var load: WindowAnchor? = .top

    public init() {}

    public var selectedRow: Remediation? {
        guard let i = selection.index(in: rows.map(\.id)) else { return nil }
        return rows[i]
    }
}

/// What the next load of a newest-first list (audit, intake errors) does.
public enum PagedLoad: Sendable, Equatable {
    /// Reload the newest `limit` rows.
    case refresh(limit: Int)
    /// Append up to `limit` rows older than `before`.
    case more(before: Int64, limit: Int)
}

/// A newest-first list loaded page by page (audit log, intake errors).
public struct PagedList<Row: Identifiable & Sendable & Equatable>: Sendable, Equatable where Row.ID == Int64 {
    public var rows: [Row] = []
    public var selection = ListState<Int64>()
    /// True when no older rows exist.
    public var complete = false
    public var load: PagedLoad?

    public init(pageSize: Int) { load = .refresh(limit: pageSize) }
}
