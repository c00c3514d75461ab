import GavelCore
import GavelStore

/// What a piece of text on screen means; the terminal adapter turns it into attributes/colors.
public enum CellStyle: Hashable, Sendable {
    case normal
    /// The header line.
    case header
    /// An error or warning banner in the header, an error flash.
    case error
    case tab
    case activeTab
    /// List column titles (the whole title row, gaps included, so the underline is unbroken).
    case columnTitle
    /// The selected list row.
    case selected
    /// The severity cell of the selected list row: reversed like the row, in the severity's colour.
    case selectedSeverity(Severity)
    /// The tag mark of a tagged row.
    case tagged
    case severity(Severity)
    /// Secondary text (ages, positions, separators).
    case dim
    /// A status-line message.
    case flash
    /// The key part of a footer hint.
    case hintKey
    case hint
    /// Prompt text and confirmation box.
    case prompt
    /// A section title in the detail pane.
    case heading
    /// A value that held hidden characters (now shown escaped).
    case suspicious
}

/// A run of text drawn with one style. `text` is already sanitized and fitted to columns.
public struct StyledSpan: Sendable, Equatable {
    public var text: String
    public var style: CellStyle
    public init(_ text: String, _ style: CellStyle = .normal) {
        self.text = text
        self.style = style
    }
}

/// One screen row: spans left to right, filling exactly the frame's width in columns.
public struct FrameRow: Sendable, Equatable {
    public var spans: [StyledSpan]
    public init(_ spans: [StyledSpan]) { self.spans = spans }
    /// The row's text without styles.
    public var text: String { spans.map(\.text).joined() }
}

/// A whole screen, computed by ``ConsoleRenderer`` and drawn by the terminal adapter as-is.
public struct Frame: Sendable, Equatable {
    public var rows: [FrameRow]
    public var cols: Int

    public init(rows: [FrameRow], cols: Int) {
        self.rows = rows
        self.cols = cols
    }

    /// The screen as text, one line per row, trailing blanks removed: the snapshot and
    /// screen-dump format.
    public var text: String {
        rows.map { row in
            var t = row.text
            while t.last == " " { t.removeLast() }
            return t
        }.joined(separator: "\n")
    }
}

/// Builds one row of exactly `cols` columns from fields, sanitizing and fitting each.
struct RowBuilder {
    let cols: Int
    let width: (Unicode.Scalar) -> Int
    private(set) var spans: [StyledSpan] = []
    private(set) var used = 0

    init(cols: Int, width: @escaping (Unicode.Scalar) -> Int) {
        self.cols = cols
        self.width = width
    }

    var remaining: Int { max(0, cols - used) }

    /// Appends `text` sanitized (single line) in exactly `columns` columns (default: as many as it
    /// needs, within what is left).
    mutating func add(_ text: String, _ style: CellStyle = .normal, columns: Int? = nil, alignRight: Bool = false) {
        let clean = DisplayText.sanitize(text)
        let n = min(columns ?? DisplayText.columns(clean, width: width), remaining)
        guard n > 0 else { return }
        let fitted = DisplayText.pad(clean, toColumns: n, width: width, alignRight: alignRight)
        spans.append(StyledSpan(fitted, style))
        used += n
    }

    /// Pads the row with `style` to its full width and returns it.
    mutating func finish(_ style: CellStyle = .normal) -> FrameRow {
        if remaining > 0 {
            spans.append(StyledSpan(String(repeating: " ", count: remaining), style))
            used = cols
        }
        return FrameRow(spans)
    }

    /// A row holding one text.
    static func line(_ text: String, _ style: CellStyle = .normal, cols: Int, width: @escaping (Unicode.Scalar) -> Int) -> FrameRow {
        var b = RowBuilder(cols: cols, width: width)
        b.add(text, style)
        return b.finish(style)
    }
}
