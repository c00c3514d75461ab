import GavelCore
import GavelStore

/// The eight basic terminal colors (curses `COLOR_BLACK` … `COLOR_WHITE`, same numbers).
public enum TerminalColor: Int16, Sendable, CaseIterable {
    case black = 0
    case red, green, yellow, blue, magenta, cyan, white
}

/// How a ``CellStyle`` looks on a terminal: attributes plus an optional foreground color
/// (the background stays the terminal's own, via `use_default_colors`).
public struct TextAttributes: Sendable, Equatable {
    public var bold = false
    public var reverse = false
    public var dim = false
    public var underline = false
    public var foreground: TerminalColor?

    public init(bold: Bool = false, reverse: Bool = false, dim: Bool = false, underline: Bool = false, foreground: TerminalColor? = nil) {
        self.bold = bold
        self.reverse = reverse
        self.dim = dim
        self.underline = underline
        self.foreground = foreground
    }
}

extension CellStyle {
    /// The look of this style. With `colors: false` (NO_COLOR set, or a terminal without colors)
    /// only attributes are used, and severities stay distinguishable by weight
    /// (https://no-color.org).
    public func attributes(colors: Bool) -> TextAttributes {
        switch self {
        case .normal, .hint: return TextAttributes()
        case .header: return TextAttributes(bold: true, reverse: true)
        case .error: return colors ? TextAttributes(bold: true, foreground: .red) : TextAttributes(bold: true, underline: true)
        case .tab: return TextAttributes(dim: !colors)
        case .activeTab: return TextAttributes(bold: true, reverse: true)
        case .columnTitle: return TextAttributes(bold: true, underline: true)
        case .selected: return TextAttributes(reverse: true)
        case .tagged: return colors ? TextAttributes(bold: true, foreground: .yellow) : TextAttributes(bold: true)
        case .dim: return TextAttributes(dim: true)
        case .flash: return colors ? TextAttributes(bold: true, foreground: .green) : TextAttributes(bold: true)
        case .hintKey: return colors ? TextAttributes(bold: true, foreground: .cyan) : TextAttributes(bold: true)
        case .prompt: return TextAttributes(bold: true)
        case .heading: return colors ? TextAttributes(bold: true, foreground: .blue) : TextAttributes(bold: true, underline: true)
        case .suspicious: return colors ? TextAttributes(foreground: .magenta) : TextAttributes(underline: true)
        case .selectedSeverity(let s):
            var a = CellStyle.severity(s).attributes(colors: colors)
            a.reverse = true
            a.bold = !a.dim  // bold and dim cancel out on many terminals
            return a
        case .severity(let s):
            switch s {
            case .critical: return colors ? TextAttributes(bold: true, foreground: .red) : TextAttributes(bold: true, underline: true)
            case .high: return colors ? TextAttributes(foreground: .red) : TextAttributes(bold: true)
            case .medium: return colors ? TextAttributes(foreground: .yellow) : TextAttributes()
            case .low: return colors ? TextAttributes(foreground: .cyan) : TextAttributes(dim: true)
            case .info: return TextAttributes(dim: true)
            }
        }
    }

    /// Every style, for setting up color pairs once.
    public static let allCases: [CellStyle] =
        [
            .normal, .header, .error, .tab, .activeTab, .columnTitle, .selected, .tagged, .dim, .flash,
            .hintKey, .hint, .prompt, .heading, .suspicious,
        ] + Severity.allCases.map { CellStyle.severity($0) } + Severity.allCases.map { CellStyle.selectedSeverity($0) }
}
