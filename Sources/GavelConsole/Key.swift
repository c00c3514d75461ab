/// A key press as the console model sees it. The curses adapter converts `wget_wch` codes into
/// these; nothing above it sees a raw code.
public enum Key: Hashable, Sendable, CustomStringConvertible {
    /// A printable character (one Unicode scalar, as `wget_wch` returns it).
    case char(Unicode.Scalar)
    case up, down, left, right, pageUp, pageDown, home, end
    /// Return / Enter (13 with `nonl()`, 10 otherwise, or `KEY_ENTER`).
    case enter
    /// A bare Esc (27), told apart from sequences within `set_escdelay`.
    case escape
    case tab, backTab
    /// 127, 8 or `KEY_BACKSPACE`.
    case backspace
    case delete
    /// Ctrl-C (3) in cbreak mode.
    case ctrlC
    /// Another control character (Ctrl-A = 1 …), not bound by default.
    case control(UInt8)
    /// A function key F1…F12.
    case function(Int)
    /// The terminal changed size (`KEY_RESIZE`).
    case resize

    /// The key's name in help texts and scripts: `j`, `Enter`, `PgDn`, `Ctrl-C`, `Space`.
    public var description: String {
        switch self {
        case .char(" "): return "Space"
        case .char(let s): return String(Character(s))
        case .up: return "Up"
        case .down: return "Down"
        case .left: return "Left"
        case .right: return "Right"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .home: return "Home"
        case .end: return "End"
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .tab: return "Tab"
        case .backTab: return "BackTab"
        case .backspace: return "Backspace"
        case .delete: return "Delete"
        case .ctrlC: return "Ctrl-C"
        case .control(let c): return "Ctrl-" + String(Character(Unicode.Scalar(c + 64)))
        case .function(let n): return "F\(n)"
        case .resize: return "Resize"
        }
    }

    /// A character key.
    public static func c(_ ch: Character) -> Key {
        .char(ch.unicodeScalars.first!)
    }

    /// Parses a key script (tig's `TIG_SCRIPT` idea): whitespace-separated tokens, each either
    /// a key name in angle brackets (`<Enter>`, `<Esc>`, `<Down>`, `<PgDn>`, `<Space>`,
    /// `<Tab>`, `<BackTab>`, `<Backspace>`, `<Ctrl-C>`, `<F1>`) or literal characters typed one by
    /// one (`/ban` types `/`, `b`, `a`, `n`). `<Space>` is the only way to type a space.
    /// - Returns: nil when a bracketed name is unknown.
    public static func parseScript(_ script: String) -> [Key]? {
        var keys: [Key] = []
        for token in script.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            if token.count > 2, token.first == "<", token.last == ">" {
                guard let k = named(String(token.dropFirst().dropLast())) else { return nil }
                keys.append(k)
            } else {
                keys.append(contentsOf: token.unicodeScalars.map { Key.char($0) })
            }
        }
        return keys
    }

    static func named(_ name: String) -> Key? {
        let all: [Key] = [
            .up, .down, .left, .right, .pageUp, .pageDown, .home, .end, .enter, .escape,
            .tab, .backTab, .backspace, .delete, .ctrlC, .resize, .char(" "),
        ]
        if let k = all.first(where: { $0.description.lowercased() == name.lowercased() }) { return k }
        if name.lowercased() == "lt" { return .char("<") }
        if name.first == "F", let n = Int(name.dropFirst()), (1...12).contains(n) { return .function(n) }
        return nil
    }
}
