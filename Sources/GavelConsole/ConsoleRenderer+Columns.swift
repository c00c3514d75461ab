import GavelCore
import GavelStore

extension ConsoleRenderer {
    /// A list column and how it is sized.
    ///
    /// - `fixed`: always `width` columns.
    /// - `content`: as wide as its widest cell or title, within `min…max`; grows in `priority`
    ///   order (0 first) while there is room.
    /// - `rest`: at least `min`, grows with its priority like a content column, then takes every
    ///   column left over (at most one per table; the free text, like the rule name).
    struct Column {
        enum Sizing {
            case fixed(Int)
            case content(min: Int, max: Int, priority: Int)
            case rest(min: Int, priority: Int)
        }
        var title: String
        /// The title drawn when the column is narrower than `title` (nil: `title`, cut).
        var shortTitle: String?
        var sizing: Sizing
        var alignRight = false

        static func fixed(_ title: String, _ width: Int, right: Bool = false) -> Column {
            Column(title: title, sizing: .fixed(width), alignRight: right)
        }
        static func content(_ title: String, short: String? = nil, min: Int, max: Int, priority: Int = 0, right: Bool = false) -> Column {
            Column(title: title, shortTitle: short, sizing: .content(min: min, max: max, priority: priority), alignRight: right)
        }
        static func rest(_ title: String, min: Int, priority: Int) -> Column {
            Column(title: title, sizing: .rest(min: min, priority: priority))
        }

        /// The title that fits `columns`.
        func title(fitting columns: Int, width: (Unicode.Scalar) -> Int) -> String {
            guard let shortTitle, DisplayText.columns(title, width: width) > columns else { return title }
            return shortTitle
        }
    }

    /// Column widths for a table of `total` columns (one-column gaps between cells) holding `cells`.
    ///
    /// Every column first gets its minimum (a content column no more than its content needs);
    /// then, priority by priority, columns of the same priority grow one column at a time in turn
    /// up to their content; what is left goes to the `rest` column. Measured by display columns
    /// of the sanitized text, so an escaped control sequence counts as wide as it is drawn.
    static func widths(
        _ columns: [Column], cells: [[(String, CellStyle)]], total: Int,
        width: (Unicode.Scalar) -> Int
    ) -> [Int] {
        func measure(_ s: String) -> Int { DisplayText.columns(DisplayText.sanitize(s), width: width) }
        let wants: [Int] = columns.enumerated().map { i, c in
            let content = cells.reduce(measure(c.shortTitle ?? c.title)) { max($0, i < $1.count ? measure($1[i].0) : 0) }
            switch c.sizing {
            case .fixed(let w): return w
            case .content(let lo, let hi, _): return min(hi, max(lo, content))
            case .rest(let lo, _): return max(lo, content)
            }
        }
        var ws: [Int] = columns.enumerated().map { i, c in
            switch c.sizing {
            case .fixed(let w): return w
            case .content(let lo, _, _): return min(lo, wants[i])
            case .rest(let lo, _): return lo
            }
        }
        var left = total - ws.reduce(0, +) - max(0, columns.count - 1)
        let priorities = Set(
            columns.compactMap { c -> Int? in
                switch c.sizing {
                case .fixed: return nil
                case .content(_, _, let p), .rest(_, let p): return p
                }
            }
        ).sorted()
        for p in priorities where left > 0 {
            let group = columns.indices.filter { i in
                switch columns[i].sizing {
                case .fixed: return false
                case .content(_, _, let q), .rest(_, let q): return q == p
                }
            }
            var growing = group.filter { ws[$0] < wants[$0] }
            while left > 0 && !growing.isEmpty {
                for i in growing where left > 0 {
                    ws[i] += 1
                    left -= 1
                }
                growing = growing.filter { ws[$0] < wants[$0] }
            }
        }
        if left > 0, let rest = columns.firstIndex(where: { if case .rest = $0.sizing { true } else { false } }) {
            ws[rest] += left
        }
        return ws
    }

    /// The column-title row: one style across the whole width, gaps included.
    static func titleRow(_ columns: [Column], widths ws: [Int], total: Int, width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: total, width: width)
        for (i, c) in columns.enumerated() where i < ws.count {
            if i > 0 { b.add(" ", .columnTitle) }
            b.add(c.title(fitting: ws[i], width: width), .columnTitle, columns: ws[i], alignRight: c.alignRight)
        }
        return b.finish(.columnTitle)
    }

    /// One list row from cells, with a one-column gap between cells. A selected row is drawn
    /// reversed, but its severity cell keeps its colour (``CellStyle/selectedSeverity(_:)``).
    static func listRow(
        _ cells: [(String, CellStyle)], _ columns: [Column], widths ws: [Int], total: Int,
        selected: Bool, width: @escaping (Unicode.Scalar) -> Int
    ) -> FrameRow {
        var b = RowBuilder(cols: total, width: width)
        for (i, cell) in cells.enumerated() where i < ws.count {
            if i > 0 { b.add(" ", selected ? .selected : .normal) }
            var style = cell.1
            if selected {
                if case .severity(let s) = style { style = .selectedSeverity(s) } else { style = .selected }
            }
            b.add(cell.0, style, columns: ws[i], alignRight: columns[i].alignRight)
        }
        return b.finish(selected ? .selected : .normal)
    }
}
