/// Where things go on a screen of a given size. Shared by the model (page size) and the
/// renderer, so paging and drawing agree.
///
/// Rows: header (0), tab line (1), list column titles (2), list rows, then the detail pane
/// (below the list, or right of it when `cols >= 150`), the status/flash line (rows − 2) and the
/// footer (rows − 1).
///
/// Side by side only from 150 columns: the list then keeps 3/5 of the width (90+ columns), enough
/// for an IPv6 or e-mail target, the action and the rule name in full; below that the list takes
/// the whole width and the detail pane sits under it (so a wider terminal never shows less).
public struct ConsoleLayout: Sendable, Equatable {
    /// The smallest screen the console draws on; smaller shows a notice.
    public static let minimumRows = 24
    public static let minimumCols = 80
    /// From this width on, the detail pane sits right of the list.
    public static let sideBySideCols = 150

    public var rows: Int
    public var cols: Int

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
    }

    public var isTooSmall: Bool { rows < Self.minimumRows || cols < Self.minimumCols }
    public var isSideBySide: Bool { cols >= Self.sideBySideCols }

    /// First row of the list's column titles.
    public var listTitleRow: Int { 2 }
    /// The body: rows between the header and the status line.
    var bodyRows: Int { max(0, rows - 3) }

    /// How many list rows are visible (at least 1).
    public var listHeight: Int {
        if isSideBySide { return max(1, bodyRows - 2) }
        return max(1, (bodyRows - 3) * 45 / 100)
    }
    /// Columns of the list (all of them unless side by side, then 3/5).
    public var listWidth: Int { isSideBySide ? cols * 3 / 5 : cols }
    /// Top row of the detail pane's text (below its separator line when stacked).
    public var detailTop: Int { isSideBySide ? 3 : 3 + listHeight + 1 }
    /// Left column of the detail pane's text.
    public var detailLeft: Int { isSideBySide ? listWidth + 1 : 0 }
    public var detailWidth: Int { isSideBySide ? cols - listWidth - 1 : cols }
    /// Visible detail lines.
    public var detailHeight: Int { max(1, rows - 2 - detailTop) }
    public var statusRow: Int { rows - 2 }
    public var footerRow: Int { rows - 1 }
}
