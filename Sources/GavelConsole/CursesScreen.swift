import CNCursesW
import Foundation
import GavelCore
import GavelStore
import Glibc

/// The thin curses adapter: opens a terminal with `newterm`, draws ``Frame``s with the wide
/// character API and turns `wget_wch` codes into ``Key``s. Nothing else in gavel calls curses.
///
/// Not `Sendable` and not reentrant: Debian's ncurses keeps global state, so only the UI thread
/// may use it (shared notes 2.6), and only one screen is open at a time.
public final class CursesScreen {
    /// The window handle as this ncurses build imports it (non-opaque `WINDOW`, shared notes 2.2).
    public typealias Window = UnsafeMutablePointer<WINDOW>

    private var screen: OpaquePointer?
    private let window: Window
    private var files: [UnsafeMutablePointer<FILE>]
    /// True when colors are in use (the terminal has them and `NO_COLOR` is unset).
    public let usesColor: Bool

    /// Errors opening the terminal.
    public enum OpenError: Error, CustomStringConvertible {
        case cannotOpen(path: String, errno: Int32)
        case newtermFailed(term: String)
        public var description: String {
            switch self {
            case .cannotOpen(let p, let e): "cannot open \(p): \(String(cString: strerror(e)))"
            case .newtermFailed(let t): "newterm failed for TERM=\(t) (unknown terminal type?)"
            }
        }
    }

    /// Opens a curses screen. In order (shared notes 2.3): locale, `newterm`, cbreak/noecho/nonl,
    /// keypad, invisible cursor, `set_escdelay(25)`, `wtimeout(timeoutMilliseconds)`, colors.
    /// - Parameters:
    ///   - term: the terminal type; nil uses `$TERM` (or `xterm-256color` when unset).
    ///   - outputPath / inputPath: the terminal device (`/dev/tty`), or `/dev/null` for a
    ///     headless screen in tests.
    ///   - size: force this size with `resizeterm` (headless screens).
    ///   - colors: false disables colors; colors are also off when `NO_COLOR` is set.
    /// - Throws: ``OpenError`` when a file cannot be opened or `newterm` fails.
    public init(
        term: String? = nil, outputPath: String = "/dev/tty", inputPath: String = "/dev/tty",
        size: (rows: Int, cols: Int)? = nil, timeoutMilliseconds: Int32 = 100, colors: Bool = true
    ) throws {
        _ = gavel_setlocale_utf8()
        guard let out = fopen(outputPath, "w") else { throw OpenError.cannotOpen(path: outputPath, errno: errno) }
        guard let inp = fopen(inputPath, "r") else {
            fclose(out)
            throw OpenError.cannotOpen(path: inputPath, errno: errno)
        }
        files = [out, inp]
        let name = term ?? ProcessInfo.processInfo.environment["TERM"].flatMap { $0.isEmpty ? nil : $0 } ?? "xterm-256color"
        guard let scr = newterm(name, out, inp) else {
            fclose(out)
            fclose(inp)
            throw OpenError.newtermFailed(term: name)
        }
        screen = scr
        set_term(scr)
        if let size { resizeterm(Int32(size.rows), Int32(size.cols)) }
        window = gavel_stdscr()
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        curs_set(0)
        set_escdelay(25)
        wtimeout(window, timeoutMilliseconds)
        let wantColor = colors && ProcessInfo.processInfo.environment["NO_COLOR"].map { $0.isEmpty } ?? true
        if wantColor && has_colors() {
            start_color()
            let defaults = use_default_colors() == OK
            for c in TerminalColor.allCases {
                init_pair(Int16(c.rawValue + 1), Int16(c.rawValue), defaults ? -1 : Int16(COLOR_BLACK))
            }
            usesColor = true
        } else {
            usesColor = false
        }
    }

    /// A screen drawing into `/dev/null` at a fixed size, for tests (shared notes 2.8).
    public static func headless(rows: Int, cols: Int, term: String = "xterm-256color") throws -> CursesScreen {
        try CursesScreen(term: term, outputPath: "/dev/null", inputPath: "/dev/null", size: (rows, cols), timeoutMilliseconds: 0)
    }

    deinit { close() }

    /// Ends curses (`endwin`) and frees the screen; safe to call twice.
    public func close() {
        guard let scr = screen else { return }
        endwin()
        delscreen(scr)
        screen = nil
        for f in files { fclose(f) }
        files = []
    }

    /// The current size in rows and columns.
    public var size: (rows: Int, cols: Int) {
        (Int(gavel_getmaxy(window)), Int(gavel_getmaxx(window)))
    }

    /// Display width of a scalar: `wcwidth` when it knows the scalar, else ``DisplayText/defaultWidth(_:)``.
    public static func width(_ s: Unicode.Scalar) -> Int {
        let w = Int(gavel_wcwidth(wchar_t(bitPattern: s.value)))
        return w >= 0 ? w : DisplayText.defaultWidth(s)
    }

    /// Draws a frame: erase, every span at its column with the wide API, one refresh.
    public func draw(_ frame: Frame) {
        werase(window)
        let (rows, cols) = size
        for (y, row) in frame.rows.prefix(rows).enumerated() {
            var x = 0
            for span in row.spans where x < cols {
                let a = span.style.attributes(colors: usesColor)
                gavel_set_style(window, attributes(a), Int16(a.foreground.map { $0.rawValue + 1 } ?? 0))
                var wide = span.text.unicodeScalars.map { wchar_t(bitPattern: $0.value) }
                wide.append(0)
                _ = gavel_mvwaddnwstr(window, Int32(y), Int32(x), wide, -1)
                x += DisplayText.columns(span.text, width: Self.width)
            }
        }
        gavel_set_style(window, gavel_a_normal(), 0)
        wrefresh(window)
    }

    private func attributes(_ a: TextAttributes) -> attr_t {
        var v = gavel_a_normal()
        if a.bold { v |= gavel_a_bold() }
        if a.reverse { v |= gavel_a_reverse() }
        if a.dim { v |= gavel_a_dim() }
        if a.underline { v |= gavel_a_underline() }
        return v
    }

    /// The text of screen row `y` as curses holds it (`mvwinnwstr`), for tests and screen dumps.
    public func text(row y: Int) -> String {
        let cols = size.cols
        var buf = [wchar_t](repeating: 0, count: cols * 4 + 1)
        let n = gavel_mvwinnwstr(window, Int32(y), 0, &buf, Int32(buf.count - 1))
        guard n != ERR else { return "" }
        var s = String.UnicodeScalarView()
        for w in buf.prefix(while: { $0 != 0 }) {
            if let u = Unicode.Scalar(UInt32(bitPattern: w)) { s.append(u) }
        }
        return String(s)
    }

    /// Waits up to the timeout for a key. - Returns: nil on timeout.
    public func readKey() -> Key? {
        var wch: wint_t = 0
        let rc = wget_wch(window, &wch)
        return Self.key(status: rc, code: UInt32(wch))
    }

    /// Maps a `wget_wch` result to a ``Key`` (curs_get_wch(3X)): `OK` with a character,
    /// `KEY_CODE_YES` with a function-key code, `ERR` for a timeout (nil).
    public static func key(status: Int32, code: UInt32) -> Key? {
        if status == KEY_CODE_YES {
            switch Int32(code) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_NPAGE: return .pageDown
            case KEY_PPAGE: return .pageUp
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case KEY_DC: return .delete
            case KEY_BTAB: return .backTab
            case KEY_RESIZE: return .resize
            default:
                let f = Int(code) - Int(gavel_key_f(0))
                return (1...12).contains(f) ? .function(f) : nil
            }
        }
        guard status == OK else { return nil }
        switch code {
        case 3: return .ctrlC
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 0..<32: return .control(UInt8(code))
        default: return Unicode.Scalar(code).map { .char($0) }
        }
    }
}
